"""Payments (回款) and their allocation to installments: idempotent, and no installment is ever
over-allocated (the installment row is locked first)."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import raise_if
from kehu.core.services.customers import get_customer
from kehu.plugins.contracts.services.common import RECEIVABLE_STATES, get_contract, lock, today
from kehu.plugins.contracts.services.schedules import open_minor
from kehu.plugins.contracts.tables import Allocation, Contract, Installment, Payment, PaymentMethod


@dataclass(frozen=True)
class PaymentResult:
    payment: dict[str, Any]
    allocations: list[dict[str, Any]] = field(default_factory=list)
    replayed: bool = False


def _request_hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


async def _allocate(
    actor: Actor, payment: dict[str, Any], allocations: list[tuple[int, Money]]
) -> list[dict[str, Any]]:
    """Apply parts of a (locked) payment to installments; each installment is locked and
    checked: an allocation never exceeds its open amount (``OVER_ALLOCATION``) and the parts
    never exceed the payment's unallocated remainder (``EXCEEDS_PAYMENT``)."""
    errors: list[FieldError] = []
    ids = [i for i, _ in allocations]
    if len(set(ids)) != len(ids):
        raise ValidationFailed(
            FieldError("allocations", "An installment appears twice", "DUPLICATE_INSTALLMENT")
        )
    if not ids:
        return []
    rows = await lock(
        Installment.select().where(Installment.id.is_in(sorted(ids))).order_by(Installment.id)
    )
    found = {r["id"]: r for r in rows}
    contracts = {
        r["id"]: r
        for r in await Contract.select(Contract.id, Contract.status).where(
            Contract.id.is_in(list({r["contract"] for r in rows} or {0}))
        )
    }
    free = payment["amount_minor"] - payment["allocated_minor"] - payment["refunded_minor"]
    total = 0
    for n, (inst_id, amount) in enumerate(allocations):
        where = f"allocations[{n}]"
        inst = found.get(inst_id)
        if inst is None or inst["customer"] != payment["customer"]:
            errors.append(
                FieldError(
                    f"{where}.installmentId", "Installment not found for this customer", "NOT_FOUND"
                )
            )
            continue
        if contracts[inst["contract"]]["status"] not in RECEIVABLE_STATES:
            errors.append(
                FieldError(
                    f"{where}.installmentId",
                    "The installment's contract is not signed",
                    "INVALID_STATE",
                )
            )
        if amount.currency != inst["currency"] or amount.currency != payment["currency"]:
            errors.append(FieldError(f"{where}.amount", "Wrong currency", "CURRENCY_MISMATCH"))
            continue
        if amount.minor <= 0:
            errors.append(FieldError(f"{where}.amount", "amount must be positive"))
            continue
        if amount.minor > open_minor(inst):
            errors.append(
                FieldError(
                    f"{where}.amount",
                    f"{amount} exceeds the open amount "
                    f"{Money(open_minor(inst), inst['currency'])} of installment {inst['label']}",
                    "OVER_ALLOCATION",
                )
            )
        total += amount.minor
    if total > free:
        errors.append(
            FieldError(
                "allocations",
                f"Allocations of {Money(total, payment['currency'])} exceed the payment's "
                f"unallocated {Money(free, payment['currency'])}",
                "EXCEEDS_PAYMENT",
            )
        )
    raise_if(errors)
    out = []
    for inst_id, amount in allocations:
        await Installment.update(
            {Installment.paid_minor: Installment.paid_minor + amount.minor}
        ).where(Installment.id == inst_id)
        row = (
            await Allocation.insert(
                Allocation(
                    payment=payment["id"],
                    installment=inst_id,
                    amount_minor=amount.minor,
                    applied_on=payment["received_on"],
                )
            ).returning(*Allocation.all_columns())
        )[0]
        out.append(row)
        await record(
            actor,
            "allocated",
            "payment",
            payment["id"],
            after={
                "customer": payment["customer"],
                "installment": inst_id,
                "contract": found[inst_id]["contract"],
                "allocation": row["id"],
                "amount_minor": amount.minor,
                "currency": amount.currency,
                "applied_on": row["applied_on"],
                "open_after_minor": open_minor(found[inst_id]) - amount.minor,
            },
        )
    await Payment.update({Payment.allocated_minor: Payment.allocated_minor + total}).where(
        Payment.id == payment["id"]
    )
    payment["allocated_minor"] += total
    return out


async def _replay(key: str, digest: str) -> PaymentResult | None:
    row = await Payment.select().where(Payment.idempotency_key == key).first()
    if row is None:
        return None
    if row["request_hash"] != digest:
        raise ValidationFailed(
            FieldError(
                "idempotencyKey",
                "idempotencyKey was already used for a different request",
                "IDEMPOTENCY_KEY_REUSED",
            )
        )
    allocations = (
        await Allocation.select().where(Allocation.payment == row["id"]).order_by(Allocation.id)
    )
    return PaymentResult(row, allocations, replayed=True)


def _is_unique_violation(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "unique" in text or "duplicate" in text


async def record_payment(
    actor: Actor,
    customer_id: int,
    amount: Money,
    *,
    method: str = PaymentMethod.bank_transfer.value,
    received_on: date | None = None,
    reference: str = "",
    contract_id: int | None = None,
    allocations: list[tuple[int, Money]] | None = None,
    idempotency_key: str | None = None,
) -> PaymentResult:
    """Record a received payment (回款) and allocate it to installments (partial and over
    several installments allowed; the rest stays unallocated on account). A repeated
    ``idempotency_key`` returns the first payment without recording it again."""
    actor.require("payment:write")
    allocations = allocations or []
    errors: list[FieldError] = []
    if amount.minor <= 0:
        errors.append(FieldError("amount", "amount must be positive"))
    method = getattr(method, "value", method)
    if method not in {m.value for m in PaymentMethod}:
        errors.append(FieldError("method", "Unknown payment method", "INVALID_CHOICE"))
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 100:
        errors.append(FieldError("idempotencyKey", "idempotencyKey must be 1..100 characters"))
    if len(reference or "") > 100:
        errors.append(FieldError("reference", "reference is longer than 100 characters"))
    raise_if(errors)
    received_on = received_on or today()
    digest = _request_hash(
        customer_id,
        amount.minor,
        amount.currency,
        method,
        received_on,
        reference,
        contract_id,
        [(i, a.minor) for i, a in allocations],
    )
    try:
        async with unit_of_work():
            await get_customer(actor, customer_id)
            if idempotency_key is not None:
                done = await _replay(idempotency_key, digest)
                if done is not None:
                    return done
            if contract_id is not None:
                contract = await get_contract(actor, contract_id)
                if contract["customer"] != customer_id:
                    raise ValidationFailed(
                        FieldError("contractId", "Contract of another customer", "NOT_FOUND")
                    )
            payment = (
                await Payment.insert(
                    Payment(
                        customer=customer_id,
                        contract=contract_id,
                        amount_minor=amount.minor,
                        currency=amount.currency,
                        method=method,
                        received_on=received_on,
                        reference=reference or "",
                        idempotency_key=idempotency_key,
                        request_hash=digest,
                        created_by=actor.user_id,
                    )
                ).returning(*Payment.all_columns())
            )[0]
            await record(
                actor,
                "received",
                "payment",
                payment["id"],
                after=payment,
                event_data={k: v for k, v in payment.items() if k != "request_hash"},
            )
            rows = await _allocate(actor, payment, allocations)
    except Exception as exc:
        # a concurrent request with the same key committed first (PostgreSQL unique index)
        if (
            idempotency_key is None
            or isinstance(exc, ValidationFailed)
            or not (_is_unique_violation(exc))
        ):
            raise
        done = await _replay(idempotency_key, digest)
        if done is None:
            raise
        return done
    return PaymentResult(payment, rows)


async def get_payment(actor: Actor, payment_id: int) -> dict[str, Any]:
    actor.require("contract:read")
    row = await Payment.select().where(Payment.id == payment_id).first()
    if row is None:
        raise NotFound(f"Payment {payment_id} not found")
    try:
        await get_customer(actor, row["customer"])
    except NotFound:
        raise NotFound(f"Payment {payment_id} not found") from None
    return row


async def allocate_payment(
    actor: Actor, payment_id: int, allocations: list[tuple[int, Money]]
) -> PaymentResult:
    """Allocate a payment's unallocated remainder to installments."""
    actor.require("payment:write")
    async with unit_of_work():
        await get_payment(actor, payment_id)
        payment = await lock(Payment.select().where(Payment.id == payment_id)).first()
        rows = await _allocate(actor, payment, allocations)
    return PaymentResult(payment, rows)


async def allocations_by_payment(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for r in await Allocation.select().where(Allocation.payment.is_in(list(set(ids)))):
            out[r["payment"]].append(r)
    return out


async def payments_by_customer(
    actor: Actor, customer_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    actor.require("contract:read")
    await get_customer(actor, customer_id)
    return (
        await Payment.select()
        .where(Payment.customer == customer_id)
        .order_by(Payment.received_on, Payment.id, ascending=False)
        .limit(limit)
    )
