"""Receivables (应收账款): payment schedules, invoices, payments and their allocation to
installments, credit notes, refunds, write-offs, aging, dunning, bad-debt provision,
reconciliation statements and collection metrics.

Every amount is an integer of minor units next to an ISO 4217 code (``kehu.core.money.Money``).
An installment's open amount is ``amount − paid − credited``; allocations and credits lock the
installment row first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
serialises writers), so no installment can ever be over-allocated, even by concurrent requests.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import FieldError, Forbidden, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor, system_actor
from kehu.core.services.common import raise_if
from kehu.core.services.customers import get_customer
from kehu.core.tables import Customer
from kehu.plugins.contracts.services import (
    RECEIVABLE_STATES,
    S,
    config,
    get_contract,
    lock,
    next_number,
    raw_scope,
    sql_date,
    today,
)
from kehu.plugins.contracts.tables import (
    Allocation,
    Contract,
    Credit,
    CreditKind,
    DunningStep,
    Installment,
    Invoice,
    Payment,
    PaymentMethod,
)

_STATES_SQL = ", ".join(f"'{s.value}'" for s in RECEIVABLE_STATES)

# -- payment terms and schedules ----------------------------------------------------------------

_TERM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*(?:@\s*(\d+)\s*d?)?\s*$")


def parse_terms(terms: str) -> list[tuple[Decimal, int]]:
    """``"30/70"`` → ``[(30, 0), (70, 30)]``; ``"30@0/60@30/10@90"`` gives the day offsets
    explicitly (days after signing). Without offsets, installments are 30 days apart.
    Percentages must sum to 100."""
    parts = [p for p in (terms or "").split("/")]
    out: list[tuple[Decimal, int]] = []
    for i, part in enumerate(parts):
        m = _TERM.match(part)
        if not m:
            raise ValidationFailed(
                FieldError(
                    "paymentTerms",
                    f"Cannot read payment terms {terms!r} (e.g. 30/70 or 30@0/70@60)",
                    "INVALID_TERMS",
                )
            )
        pct = Decimal(m.group(1))
        days = int(m.group(2)) if m.group(2) is not None else 30 * i
        out.append((pct, days))
    if sum(p for p, _ in out) != 100 or any(p <= 0 for p, _ in out):
        raise ValidationFailed(
            FieldError(
                "paymentTerms",
                "Payment term percentages must be positive and sum to 100",
                "INVALID_TERMS",
            )
        )
    return out


def schedule_from_terms(total: Money, terms: str, base: date) -> list[tuple[date, Money]]:
    """Split ``total`` by the terms' percentages with ``Money.allocate`` (parts sum exactly)."""
    parsed = parse_terms(terms)
    parts = total.allocate([p for p, _ in parsed])
    return [(base + timedelta(days=d), m) for (_, d), m in zip(parsed, parts, strict=True)]


async def _replace_schedule(
    actor: Actor, contract: dict[str, Any], items: list[tuple[date, Money]], source: str
) -> list[dict[str, Any]]:
    if await Installment.exists().where(
        Installment.contract == contract["id"],
        (Installment.paid_minor > 0) | (Installment.credited_minor > 0),
    ):
        raise ValidationFailed(
            FieldError(
                "schedule", "The schedule has payments or credits already", "SCHEDULE_LOCKED"
            )
        )
    await Installment.delete().where(Installment.contract == contract["id"])
    rows = []
    for seq, (due, amount) in enumerate(sorted(items, key=lambda x: x[0]), start=1):
        rows.append(
            Installment(
                contract=contract["id"],
                customer=contract["customer"],
                seq=seq,
                due_date=due,
                amount_minor=amount.minor,
                currency=amount.currency,
                label=f"{contract['number']}/{seq}",
            )
        )
    if rows:
        await Installment.insert(*rows)
    out = (
        await Installment.select()
        .where(Installment.contract == contract["id"])
        .order_by(Installment.seq)
    )
    await record(
        actor,
        "scheduled",
        "contract",
        contract["id"],
        after={
            "customer": contract["customer"],
            "source": source,
            "installments": [(i["due_date"], i["amount_minor"]) for i in out],
        },
    )
    return out


async def write_schedule_from_terms(
    actor: Actor, contract: dict[str, Any], base: date
) -> list[dict[str, Any]]:
    total = Money(contract["total_minor"], contract["currency"])
    items = schedule_from_terms(total, contract["payment_terms"], base)
    return await _replace_schedule(actor, contract, items, "terms")


_SCHEDULABLE = (S.approved, S.signed, S.in_execution, S.disputed)


async def generate_schedule(
    actor: Actor, contract_id: int, base: date | None = None
) -> list[dict[str, Any]]:
    """(Re)generate the installments from the contract's payment terms."""
    _require_schedule_rights(actor)
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        _check_schedulable(contract)
        if not contract["payment_terms"]:
            raise ValidationFailed(
                FieldError("paymentTerms", "The contract has no payment terms", "REQUIRED")
            )
        base = base or contract["signed_on"] or contract["start_date"] or today()
        return await write_schedule_from_terms(actor, contract, base)


def _require_schedule_rights(actor: Actor) -> None:
    """Sales (``contract:write``) and finance (``payment:write``) maintain schedules."""
    if not (actor.can("contract:write") or actor.can("payment:write")):
        raise Forbidden(f"Role {actor.role!r} lacks permission 'contract:write'")


def _check_schedulable(contract: dict[str, Any]) -> None:
    if contract["status"] not in _SCHEDULABLE:
        raise ValidationFailed(
            FieldError(
                "status", f"A {contract['status']} contract cannot get a schedule", "INVALID_STATE"
            )
        )


async def set_schedule(
    actor: Actor, contract_id: int, items: list[tuple[date, Money]]
) -> list[dict[str, Any]]:
    """Enter the installments by hand; they must sum exactly to the contract total."""
    _require_schedule_rights(actor)
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        _check_schedulable(contract)
        errors = []
        for i, (_, amount) in enumerate(items):
            if amount.currency != contract["currency"]:
                errors.append(
                    FieldError(f"installments[{i}].amount", "Wrong currency", "CURRENCY_MISMATCH")
                )
            elif amount.minor <= 0:
                errors.append(FieldError(f"installments[{i}].amount", "amount must be positive"))
        raise_if(errors)
        total = sum(a.minor for _, a in items)
        if total != contract["total_minor"]:
            raise ValidationFailed(
                FieldError(
                    "installments",
                    f"Installments sum to {Money(total, contract['currency'])}, the "
                    "contract total is "
                    f"{Money(contract['total_minor'], contract['currency'])}",
                    "SCHEDULE_MISMATCH",
                )
            )
        return await _replace_schedule(actor, contract, items, "manual")


def open_minor(row: dict[str, Any]) -> int:
    return row["amount_minor"] - row["paid_minor"] - row["credited_minor"]


async def installments_by_contract(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        rows = (
            await Installment.select()
            .where(Installment.contract.is_in(list(set(ids))))
            .order_by(Installment.contract, Installment.seq)
        )
        for r in rows:
            out[r["contract"]].append(r)
    return out


async def _visible_installment(actor: Actor, installment_id: int) -> tuple[dict, dict]:
    row = await Installment.select().where(Installment.id == installment_id).first()
    if row is None:
        raise NotFound(f"Installment {installment_id} not found")
    try:
        contract = await get_contract(actor, row["contract"])
    except NotFound:
        raise NotFound(f"Installment {installment_id} not found") from None
    return row, contract


# -- invoices ------------------------------------------------------------------------------


async def issue_invoice(
    actor: Actor,
    contract_id: int,
    *,
    installment_id: int | None = None,
    amount: Money | None = None,
    issued_on: date | None = None,
) -> dict[str, Any]:
    """Invoice (开票) an installment (its amount by default) or an amount of a signed contract;
    the invoices of a contract never exceed its total."""
    actor.require("invoice:write")
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        if contract["status"] not in RECEIVABLE_STATES or contract["status"] == S.terminated:
            raise ValidationFailed(
                FieldError("contractId", "Only signed contracts are invoiced", "INVALID_STATE")
            )
        if installment_id is not None:
            inst = await Installment.select().where(Installment.id == installment_id).first()
            if inst is None or inst["contract"] != contract_id:
                raise ValidationFailed(
                    FieldError(
                        "installmentId", "Installment is not part of this contract", "NOT_FOUND"
                    )
                )
            amount = amount or Money(inst["amount_minor"], inst["currency"])
        if amount is None or amount.minor <= 0:
            raise ValidationFailed(FieldError("amount", "amount must be positive"))
        if amount.currency != contract["currency"]:
            raise ValidationFailed(FieldError("amount", "Wrong currency", "CURRENCY_MISMATCH"))
        invoiced = await Invoice.raw(
            "SELECT COALESCE(SUM(amount_minor), 0) AS s FROM contracts_invoice WHERE contract = {}",
            contract_id,
        )
        if int(invoiced[0]["s"]) + amount.minor > contract["total_minor"]:
            raise ValidationFailed(
                FieldError("amount", "Invoices would exceed the contract total", "OVER_INVOICED")
            )
        issued_on = issued_on or today()
        row = (
            await Invoice.insert(
                Invoice(
                    number=await next_number(config().invoice_prefix, issued_on),
                    contract=contract_id,
                    customer=contract["customer"],
                    installment=installment_id,
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    issued_on=issued_on,
                    created_by=actor.user_id,
                )
            ).returning(*Invoice.all_columns())
        )[0]
        await record(actor, "issued", "invoice", row["id"], after=row)
    return row


async def invoices_by_contract(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        rows = (
            await Invoice.select()
            .where(Invoice.contract.is_in(list(set(ids))))
            .order_by(Invoice.issued_on, Invoice.id)
        )
        for row in rows:
            out[row["contract"]].append(row)
    return out


async def get_invoice(actor: Actor, invoice_id: int) -> dict[str, Any]:
    """An invoice of a contract ``actor`` may see, or ``NotFound``."""
    row = await Invoice.select().where(Invoice.id == invoice_id).first()
    if row is None:
        raise NotFound(f"Invoice {invoice_id} not found")
    try:
        await get_contract(actor, row["contract"])
    except NotFound:
        raise NotFound(f"Invoice {invoice_id} not found") from None
    return row


# -- payments and allocation ---------------------------------------------------------------


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


# -- credits, refunds, write-offs -----------------------------------------------------------


async def _credit_installment(
    actor: Actor,
    kind: CreditKind,
    installment_id: int,
    amount: Money | None,
    reason: str,
    issued_on: date | None,
) -> dict[str, Any]:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(FieldError("reason", "reason is required", "REQUIRED"))
    async with unit_of_work():
        await _visible_installment(actor, installment_id)
        inst = await lock(Installment.select().where(Installment.id == installment_id)).first()
        amount = amount or Money(open_minor(inst), inst["currency"])
        if amount.currency != inst["currency"]:
            raise ValidationFailed(FieldError("amount", "Wrong currency", "CURRENCY_MISMATCH"))
        if amount.minor <= 0:
            raise ValidationFailed(FieldError("amount", "Nothing to credit", "INVALID"))
        if amount.minor > open_minor(inst):
            raise ValidationFailed(
                FieldError(
                    "amount",
                    f"{amount} exceeds the open amount {Money(open_minor(inst), inst['currency'])}",
                    "OVER_ALLOCATION",
                )
            )
        await Installment.update(
            {Installment.credited_minor: Installment.credited_minor + amount.minor}
        ).where(Installment.id == installment_id)
        row = (
            await Credit.insert(
                Credit(
                    kind=kind.value,
                    customer=inst["customer"],
                    installment=installment_id,
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    issued_on=issued_on or today(),
                    reason=reason,
                    created_by=actor.user_id,
                )
            ).returning(*Credit.all_columns())
        )[0]
        await record(
            actor, kind.value, "credit", row["id"], after={**row, "contract": inst["contract"]}
        )
    return row


async def issue_credit_note(
    actor: Actor,
    installment_id: int,
    amount: Money,
    reason: str,
    issued_on: date | None = None,
) -> dict[str, Any]:
    """A credit note (红字发票/折让) reducing an installment's open amount."""
    actor.require("payment:write")
    return await _credit_installment(
        actor, CreditKind.credit_note, installment_id, amount, reason, issued_on
    )


async def write_off(
    actor: Actor,
    installment_id: int,
    reason: str,
    amount: Money | None = None,
    issued_on: date | None = None,
) -> dict[str, Any]:
    """Write off (核销坏账) an installment's open amount (all of it by default)."""
    actor.require("payment:write")
    return await _credit_installment(
        actor, CreditKind.write_off, installment_id, amount, reason, issued_on
    )


async def refund_payment(
    actor: Actor, payment_id: int, amount: Money, reason: str, issued_on: date | None = None
) -> dict[str, Any]:
    """Pay back part of a payment's unallocated remainder (an overpayment or prepayment)."""
    actor.require("payment:write")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(FieldError("reason", "reason is required", "REQUIRED"))
    async with unit_of_work():
        await get_payment(actor, payment_id)
        payment = await lock(Payment.select().where(Payment.id == payment_id)).first()
        free = payment["amount_minor"] - payment["allocated_minor"] - payment["refunded_minor"]
        if amount.currency != payment["currency"]:
            raise ValidationFailed(FieldError("amount", "Wrong currency", "CURRENCY_MISMATCH"))
        if not 0 < amount.minor <= free:
            raise ValidationFailed(
                FieldError(
                    "amount",
                    f"A refund must be positive and at most the unallocated "
                    f"{Money(free, payment['currency'])}",
                    "EXCEEDS_PAYMENT",
                )
            )
        await Payment.update({Payment.refunded_minor: Payment.refunded_minor + amount.minor}).where(
            Payment.id == payment_id
        )
        row = (
            await Credit.insert(
                Credit(
                    kind=CreditKind.refund.value,
                    customer=payment["customer"],
                    payment=payment_id,
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    issued_on=issued_on or today(),
                    reason=reason,
                    created_by=actor.user_id,
                )
            ).returning(*Credit.all_columns())
        )[0]
        await record(actor, "refunded", "payment", payment_id, after={**row, "credit": row["id"]})
    return row


# -- grouped aggregates (aging, metrics, reports) -----------------------------------------------

Fragment = tuple[str, list[Any]]  # SQL with ``{}`` placeholders and their parameters
IN_FORCE_STATES = (S.signed, S.in_execution, S.completed, S.disputed)  # signed, not terminated
_IN_FORCE_SQL = ", ".join(f"'{s.value}'" for s in IN_FORCE_STATES)
_INSTALLMENTS = "contracts_installment i JOIN contracts_contract k ON k.id = i.contract"


@dataclass(frozen=True)
class Grouping:
    """How a report groups and narrows an aggregate. ``columns`` maps dimension names to SQL
    expressions over the aggregate's aliases (``k`` contract, ``cu`` customer, and the fact
    table's: ``i`` installment, ``v`` invoice, ``a`` allocation, ``l`` contract line);
    ``where`` holds extra conditions."""

    columns: dict[str, str] = field(default_factory=dict)
    where: tuple[Fragment, ...] = ()


@dataclass(frozen=True)
class GroupRow:
    """One group of an aggregate: raw dimension values (ids for owner/team), the currency
    (``None`` for counts) and the aggregates (integers: minor units or counts)."""

    group: dict[str, Any]
    currency: str | None
    values: dict[str, int]


def _period_dates(date_from: date, date_to: date, column: str) -> Fragment:
    return f"{column} >= {{}} AND {column} <= {{}}", [sql_date(date_from), sql_date(date_to)]


async def _aggregate(
    actor: Actor,
    source: Fragment,
    values: dict[str, str | Fragment],
    grouping: Grouping,
    conditions: list[Fragment],
    *,
    customer: str = "k.customer",
    by_currency: bool = True,
) -> list[GroupRow]:
    """``SELECT [currency,] columns, values FROM source WHERE conditions AND visibility GROUP
    BY [currency,] columns`` in one statement; without groups it returns one row (zeros when
    nothing matched). The customer ``cu`` is joined (on ``customer``) only when a column, a
    value, a condition or the visibility rule refers to it."""
    cols = [("currency", "k.currency")] if by_currency else []
    cols += list(grouping.columns.items())
    aliases = [f"g{n}" for n in range(len(cols))]
    aggregates = [v if isinstance(v, tuple) else (v, []) for v in values.values()]
    where = [*conditions, *grouping.where, raw_scope(actor)]
    select = [f"{sql} AS {alias}" for (_, sql), alias in zip(cols, aliases, strict=True)]
    select += [f"{sql} AS v{n}" for n, (sql, _) in enumerate(aggregates)]
    joined = source[0]
    if any("cu." in text for text in [*select, *(c for c, _ in where)]):
        joined += f" JOIN core_customer cu ON cu.id = {customer}"
    sql = f"SELECT {', '.join(select)} FROM {joined} WHERE " + " AND ".join(
        f"({c})" for c, _ in where
    )
    if aliases:
        order = aliases[1:] + aliases[:1] if by_currency else aliases
        sql += f" GROUP BY {', '.join(aliases)} ORDER BY {', '.join(order)}"
    params = [p for _, ps in aggregates for p in ps] + source[1]
    params += [p for _, ps in where for p in ps]
    out = []
    for r in await Installment.raw(sql, *params):
        group = {name: r[alias] for (name, _), alias in zip(cols, aliases, strict=True)}
        currency = group.pop("currency", None)
        sums = {name: int(r[f"v{n}"] or 0) for n, name in enumerate(values)}
        out.append(GroupRow(group, currency, sums))
    return out


@dataclass(frozen=True)
class Late:
    """What was applied to each installment *after* a date (allocations by date applied,
    credit notes and write-offs by date issued): ``join`` is a ``LEFT JOIN`` giving it as
    ``late.amount`` and ``amount`` the SQL of it per installment. The stored
    ``paid_minor``/``credited_minor`` minus this are the amounts as of the date. Usually
    nothing is dated after the date asked for (today): then there is no join at all."""

    join: Fragment = ("", [])
    amount: str = "0"

    @property
    def open(self) -> str:
        """Open amount of installment ``i`` as of the date."""
        now = "i.amount_minor - i.paid_minor - i.credited_minor"
        return f"{now} + {self.amount}" if self.join[0] else now

    @property
    def was_open(self) -> str:
        """Whether ``i`` was open as of the date (cheap: integer columns first)."""
        if not self.join[0]:
            return "i.paid_minor + i.credited_minor < i.amount_minor"
        return "i.paid_minor + i.credited_minor < i.amount_minor OR late.amount IS NOT NULL"


async def _late(as_of: date, credits: bool = True) -> Late:
    """:class:`Late` after ``as_of``; only the rows dated after it are read (indexes on
    ``applied_on``/``issued_on``), never every allocation and credit."""
    parts = ["SELECT installment, amount_minor FROM contracts_allocation WHERE applied_on > {}"]
    if credits:
        parts.append(
            "SELECT installment, amount_minor FROM contracts_credit "
            "WHERE installment IS NOT NULL AND issued_on > {}"
        )
    union, params = " UNION ALL ".join(parts), [sql_date(as_of)] * len(parts)
    if not await Installment.raw(f"SELECT 1 AS found FROM ({union}) x LIMIT 1", *params):
        return Late()
    join = (
        "LEFT JOIN (SELECT installment, CAST(SUM(amount_minor) AS BIGINT) AS amount FROM "
        f"({union}) x GROUP BY installment) late ON late.installment = i.id"
    )
    return Late((join, params), "COALESCE(late.amount, 0)")


# -- aging --------------------------------------------------------------------------------------

GROUPS = {"customer": "i.customer", "owner": "k.owner", "team": "k.team", "none": None}


def _bucket_sums(as_of: date, bounds: list[int], open_sql: str) -> dict[str, Fragment]:
    """Σ open per aging bucket as one conditional sum each (no grouping by bucket): bucket
    ``n`` holds the installments due in ``[as_of − bounds[n], as_of − bounds[n − 1])``,
    ``current`` those due on or after ``as_of``, the last those due before
    ``as_of − bounds[-1]``; so the buckets partition the open amount."""
    edges = [as_of, *(as_of - timedelta(days=b) for b in bounds)]
    out = {}
    for n, name in enumerate(bucket_names(bounds)):
        conditions, params = [], []
        if n > 0:
            conditions.append("i.due_date < {}")
            params.append(sql_date(edges[n - 1]))
        if n < len(edges):
            conditions.append("i.due_date >= {}")
            params.append(sql_date(edges[n]))
        when = " AND ".join(conditions)
        out[name] = (f"SUM(CASE WHEN {when} THEN {open_sql} ELSE 0 END)", params)
    return out


def _check_bounds(bounds: list[int]) -> None:
    if bounds != sorted(set(bounds)) or any(b <= 0 for b in bounds):
        raise ValidationFailed(FieldError("buckets", "buckets must be increasing positive days"))


async def open_receivables(
    actor: Actor,
    as_of: date | None = None,
    grouping: Grouping = Grouping(),
    *,
    buckets: list[int] | None = None,
    overdue_only: bool = False,
) -> list[GroupRow]:
    """Open amount (``values["open"]``) of signed contracts' installments as of a date, per
    group and currency, and with ``buckets`` (upper bounds, days past due) the amount of each
    aging bucket (``values["1-30"]``...). As of the date: payments applied and credits issued
    after it are not yet counted, contracts signed after it are left out. ``overdue_only``:
    due before the date. Only open installments are counted, so every group's amount is
    positive."""
    actor.require("receivable:read")
    as_of = as_of or today()
    if buckets is not None:
        _check_bounds(buckets)
    late = await _late(as_of)
    values: dict[str, str | Fragment] = {"open": f"SUM({late.open})"}
    if buckets is not None:  # their sum is the open amount: one sum less per row
        values = dict(_bucket_sums(as_of, buckets, late.open))
    conditions: list[Fragment] = [
        (f"k.status IN ({_STATES_SQL}) AND k.signed_on <= {{}}", [sql_date(as_of)]),
        (late.was_open, []),
    ]
    if overdue_only:
        conditions.append(("i.due_date < {}", [sql_date(as_of)]))
    rows = await _aggregate(
        actor,
        (f"{_INSTALLMENTS} {late.join[0]}", late.join[1]),
        values,
        grouping,
        conditions,
        customer="i.customer",
    )
    if buckets is None:
        return rows
    return [
        GroupRow(r.group, r.currency, {**r.values, "open": sum(r.values.values())}) for r in rows
    ]


@dataclass(frozen=True)
class AgingRow:
    group: int | None
    currency: str
    buckets: dict[str, int]  # bucket name → minor units

    @property
    def total(self) -> int:
        return sum(self.buckets.values())


async def aging(
    actor: Actor,
    as_of: date | None = None,
    *,
    group_by: str = "customer",
    customer_id: int | None = None,
    buckets: list[int] | None = None,
) -> list[AgingRow]:
    """Open receivables by days past due (by due date) as of a date, grouped by customer,
    owner, team or ``none``; computed in one SQL aggregate (:func:`open_receivables`). The
    buckets partition the open amount exactly (each installment falls in exactly one)."""
    if group_by not in GROUPS:
        raise ValidationFailed(
            FieldError("groupBy", "groupBy must be customer, owner, team or none", "INVALID_CHOICE")
        )
    bounds = buckets if buckets is not None else config().aging_buckets
    names = bucket_names(bounds)
    column = GROUPS[group_by]
    where = () if customer_id is None else (("i.customer = {}", [customer_id]),)
    grouping = Grouping({"grp": column} if column else {}, where)
    rows = [
        AgingRow(r.group.get("grp"), r.currency or "", {n: r.values[n] for n in names})
        for r in await open_receivables(actor, as_of, grouping, buckets=bounds)
    ]
    return sorted(rows, key=lambda row: (row.group or 0, row.currency))


def bucket_names(bounds: list[int]) -> list[str]:
    names, low = ["current"], 1
    for high in bounds:
        names.append(f"{low}-{high}")
        low = high + 1
    names.append(f"{bounds[-1]}+" if bounds else "overdue")
    return names


# -- bad-debt provision ----------------------------------------------------------------------


@dataclass(frozen=True)
class ProvisionLine:
    customer_id: int
    rating: str
    currency: str
    open_by_bucket: dict[str, int]
    provision: int  # minor units, rounded half up per customer


async def bad_debt_provision(actor: Actor, as_of: date | None = None) -> list[ProvisionLine]:
    """坏账准备: per customer Σ open × rate(bucket, credit rating), rounded half up to the
    minor unit once per customer. Rates come from ``provision_rates`` (missing = 0)."""
    from kehu.plugins.contracts.services import credit_profiles

    actor.require("receivable:read")
    rows = await aging(actor, as_of, group_by="customer")
    profiles = await credit_profiles([r.group for r in rows if r.group is not None])
    cfg = config()
    out = []
    for r in rows:
        rating = profiles[r.group]["rating"] if r.group in profiles else cfg.default_rating
        rates = cfg.provision_rates.get(rating, {})
        exact = sum(Decimal(minor) * Decimal(rates.get(b, 0)) for b, minor in r.buckets.items())
        out.append(
            ProvisionLine(
                r.group,
                rating,
                r.currency,
                r.buckets,
                int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)),
            )
        )
    return out


# -- statements ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    on: date
    kind: str  # invoice, payment, refund, credit_note, write_off
    reference: str
    debit: int
    credit: int
    balance: int


@dataclass(frozen=True)
class Statement:
    customer_id: int
    currency: str
    date_from: date
    date_to: date
    opening: int
    invoices: int
    payments: int
    credits: int
    closing: int
    lines: list[StatementLine]


async def statement(
    actor: Actor, customer_id: int, date_from: date, date_to: date, currency: str | None = None
) -> Statement:
    """对账单: balance = invoices − payments (net of refunds) − credits (credit notes and
    write-offs). ``closing = opening + invoices − payments − credits`` always holds."""
    actor.require("receivable:read")
    if date_to < date_from:
        raise ValidationFailed(FieldError("to", "to is before from", "INVALID_RANGE"))
    await get_customer(actor, customer_id)
    if currency is None:
        last = (
            await Contract.select(Contract.currency)
            .where(Contract.customer == customer_id)
            .order_by(Contract.id, ascending=False)
            .first()
        )
        currency = last["currency"] if last else config().default_currency
    docs: list[tuple[date, int, str, str, int]] = []  # (on, order, kind, ref, signed amount)
    for r in await Invoice.select().where(
        Invoice.customer == customer_id, Invoice.currency == currency, Invoice.issued_on <= date_to
    ):
        docs.append((r["issued_on"], r["id"], "invoice", r["number"], r["amount_minor"]))
    for r in await Payment.select().where(
        Payment.customer == customer_id,
        Payment.currency == currency,
        Payment.received_on <= date_to,
    ):
        ref = r["reference"] or f"payment {r['id']}"
        docs.append((r["received_on"], r["id"], "payment", ref, -r["amount_minor"]))
    for r in await Credit.select().where(
        Credit.customer == customer_id, Credit.currency == currency, Credit.issued_on <= date_to
    ):
        sign = 1 if r["kind"] == CreditKind.refund else -1
        docs.append(
            (r["issued_on"], r["id"], r["kind"], r["reason"][:60], sign * r["amount_minor"])
        )
    docs.sort(key=lambda d: (d[0], d[2], d[1]))
    opening = sum(d[4] for d in docs if d[0] < date_from)
    invoices = payments = credits = 0
    balance = opening
    lines = []
    for on, _, kind, ref, amount in docs:
        if on < date_from:
            continue
        if kind == "invoice":
            invoices += amount
        elif kind in ("payment", "refund"):
            payments -= amount
        else:
            credits -= amount
        balance += amount
        lines.append(StatementLine(on, kind, ref, max(amount, 0), max(-amount, 0), balance))
    return Statement(
        customer_id,
        currency,
        date_from,
        date_to,
        opening,
        invoices,
        payments,
        credits,
        opening + invoices - payments - credits,
        lines,
    )


# -- dunning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DunningAction:
    installment_id: int
    contract_number: str
    customer_id: int
    customer_name: str
    owner_id: int | None
    step: str
    days_overdue: int
    open_minor: int
    currency: str
    activity_id: int | None = None


async def run_dunning(
    as_of: date | None = None, *, dry_run: bool = False, actor: Actor | None = None
) -> list[DunningAction]:
    """The dunning ladder (催款): for every open installment of a signed contract, the highest
    rung whose day threshold has passed (days past due; negative = before due) is done once:
    an activity for the account manager (the customer's owner, else the contract's) and a
    ``dunning_step`` row, so a step is never repeated for the same installment. Lower rungs
    that were skipped (e.g. the job did not run) are not done afterwards. Overdue steps call
    ``kehu_receivable_overdue`` after commit."""
    from kehu.core.services.activities import log_activity

    actor = actor or system_actor()
    actor.require("receivable:dunning")
    as_of = as_of or today()
    ladder = sorted(config().dunning_ladder, key=lambda r: r.days)
    if not ladder:
        return []
    earliest = as_of - timedelta(days=ladder[0].days)
    rows = await Installment.raw(
        "SELECT i.id, i.due_date, i.amount_minor, i.paid_minor, i.credited_minor, i.currency, "
        "i.customer, k.number, k.owner AS k_owner, cu.owner AS cu_owner, cu.name AS cu_name "
        "FROM contracts_installment i JOIN contracts_contract k ON k.id = i.contract "
        "JOIN core_customer cu ON cu.id = i.customer "
        f"WHERE k.status IN ({_STATES_SQL}) AND k.status <> 'terminated' "
        "AND i.paid_minor + i.credited_minor < i.amount_minor AND i.due_date <= {} "
        "ORDER BY i.due_date, i.id",
        sql_date(earliest),
    )
    ids = [r["id"] for r in rows]
    done = set()
    if ids:
        done = {
            (d["installment"], d["step"])
            for d in await DunningStep.select(DunningStep.installment, DunningStep.step).where(
                DunningStep.installment.is_in(ids)
            )
        }
    actions = []
    for r in rows:
        due = (
            r["due_date"] if isinstance(r["due_date"], date) else date.fromisoformat(r["due_date"])
        )
        days = (as_of - due).days
        rung = [x for x in ladder if days >= x.days]
        if not rung:
            continue
        step = rung[-1].step
        if step.startswith("pre_due") and days > 0:
            continue
        if (r["id"], step) in done:
            continue
        actions.append(
            DunningAction(
                r["id"],
                r["number"],
                r["customer"],
                r["cu_name"],
                r["cu_owner"] or r["k_owner"],
                step,
                days,
                r["amount_minor"] - r["paid_minor"] - r["credited_minor"],
                r["currency"],
            )
        )
    if dry_run:
        return actions
    out = []
    for a in actions:
        async with unit_of_work():
            key = f"{a.installment_id}:{a.step}"
            if await DunningStep.exists().where(DunningStep.key == key):
                continue
            claimed = await DunningStep.insert(
                DunningStep(installment=a.installment_id, step=a.step, key=key, run_on=as_of)
            ).returning(DunningStep.id)
            money = Money(a.open_minor, a.currency)
            when = "before due" if a.days_overdue < 0 else "overdue"
            activity = await log_activity(
                actor,
                a.customer_id,
                {
                    "kind": "task",
                    "status": "planned",
                    "subject": f"Dunning {a.step}: {a.contract_number} {money} "
                    f"({abs(a.days_overdue)} days {when})"[:255],
                    "body": f"Installment {a.installment_id} of contract {a.contract_number}: "
                    f"{money} open, due {a.days_overdue} days ago.",
                    "due_at": datetime.combine(as_of, datetime.min.time(), tzinfo=UTC),
                    "owner": a.owner_id,
                    "related_type": "contracts_installment",
                    "related_id": a.installment_id,
                },
            )
            await DunningStep.update({DunningStep.activity: activity["id"]}).where(
                DunningStep.id == claimed[0]["id"]
            )
            await record(
                actor,
                "dunned",
                "installment",
                a.installment_id,
                after={
                    "customer": a.customer_id,
                    "step": a.step,
                    "days_overdue": a.days_overdue,
                    "open_minor": a.open_minor,
                    "currency": a.currency,
                    "contract_number": a.contract_number,
                    "activity": activity["id"],
                },
            )
        out.append(DunningAction(**{**a.__dict__, "activity_id": activity["id"]}))
    return out


# -- metrics --------------------------------------------------------------------------------
#
# Grouped service functions behind the contracts metrics (``report_metrics.py``) and the
# ``receivablesMetrics`` GraphQL field: one SQL aggregate each, the actor's visibility in SQL,
# money summed in minor units per currency (a contract and everything hanging off it share
# the contract's currency, ``k.currency``).

DUE_DATE, ISSUED_ON, APPLIED_ON = "i.due_date", "v.issued_on", "a.applied_on"
SIGNED_ON, END_DATE, SUBMITTED_AT = "k.signed_on", "k.end_date", "k.submitted_at"


def _ratio(num: int, den: int) -> Decimal | None:
    if not den:
        return None
    return (Decimal(num) / Decimal(den)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _one(rows: list[GroupRow], currency: str) -> dict[str, int]:
    """The values of the row in ``currency`` of an ungrouped aggregate (zeros if none)."""
    return next((r.values for r in rows if r.currency == currency), {})


async def collection_sums(
    actor: Actor, date_from: date, date_to: date, grouping: Grouping = Grouping()
) -> list[GroupRow]:
    """Per group and currency: ``due`` = Σ amount of installments due in ``[date_from,
    date_to]`` (signed contracts), ``collected`` = what was applied to them by ``date_to``."""
    actor.require("receivable:read")
    late = await _late(date_to, credits=False)
    return await _aggregate(
        actor,
        (f"{_INSTALLMENTS} {late.join[0]}", late.join[1]),
        {"due": "SUM(i.amount_minor)", "collected": f"SUM(i.paid_minor - {late.amount})"},
        grouping,
        [(f"k.status IN ({_STATES_SQL})", []), _period_dates(date_from, date_to, DUE_DATE)],
        customer="i.customer",
    )


@dataclass(frozen=True)
class CollectionRate:
    due: Money
    collected: Money
    rate: Decimal | None


async def collection_rate(
    actor: Actor, date_from: date, date_to: date, currency: str | None = None
) -> CollectionRate:
    """回款率 = collected / due: installments due in the period, and what was paid on them
    (allocations applied up to ``date_to``)."""
    currency = currency or config().default_currency
    sums = _one(await collection_sums(actor, date_from, date_to), currency)
    due, collected = sums.get("due", 0), sums.get("collected", 0)
    return CollectionRate(Money(due, currency), Money(collected, currency), _ratio(collected, due))


async def overdue_amount(
    actor: Actor, as_of: date | None = None, currency: str | None = None
) -> Money:
    """Open amount of installments past due as of a date."""
    currency = currency or config().default_currency
    rows = await open_receivables(actor, as_of, overdue_only=True)
    return Money(_one(rows, currency).get("open", 0), currency)


async def open_amount(
    actor: Actor, as_of: date | None = None, currency: str | None = None
) -> Money:
    currency = currency or config().default_currency
    return Money(_one(await open_receivables(actor, as_of), currency).get("open", 0), currency)


async def invoiced_sums(
    actor: Actor, date_from: date, date_to: date, grouping: Grouping = Grouping()
) -> list[GroupRow]:
    """Per group and currency: ``invoiced`` = Σ invoices issued in ``[date_from, date_to]``."""
    actor.require("receivable:read")
    return await _aggregate(
        actor,
        ("contracts_invoice v JOIN contracts_contract k ON k.id = v.contract", []),
        {"invoiced": "SUM(v.amount_minor)"},
        grouping,
        [_period_dates(date_from, date_to, ISSUED_ON)],
        customer="v.customer",
    )


@dataclass(frozen=True)
class DsoRow:
    group: dict[str, Any]
    currency: str
    open: int  # minor units open at ``date_to``
    invoiced: int  # minor units invoiced in the period (> 0)
    days: int

    @property
    def dso(self) -> Decimal:
        return Decimal(self.open) * self.days / Decimal(self.invoiced)


async def dso_by_group(
    actor: Actor, date_from: date, date_to: date, grouping: Grouping = Grouping()
) -> list[DsoRow]:
    """Days sales outstanding per group and currency = open receivables at ``date_to`` /
    invoiced in the period × days in the period; groups without invoices have no DSO and are
    left out. Two aggregates (open, invoiced) joined by group."""
    invoiced = await invoiced_sums(actor, date_from, date_to, grouping)
    open_rows = await open_receivables(actor, date_to, grouping)
    opened = {(tuple(r.group.items()), r.currency): r.values["open"] for r in open_rows}
    days = (date_to - date_from).days + 1
    return [
        DsoRow(
            r.group,
            r.currency or "",
            opened.get((tuple(r.group.items()), r.currency), 0),
            r.values["invoiced"],
            days,
        )
        for r in invoiced
        if r.values["invoiced"]
    ]


async def dso(
    actor: Actor, date_from: date, date_to: date, currency: str | None = None
) -> Decimal | None:
    """Days sales outstanding = open receivables at ``date_to`` / invoiced in the period ×
    days in the period (``None`` without invoices), to 0.1 day."""
    currency = currency or config().default_currency
    for row in await dso_by_group(actor, date_from, date_to):
        if row.currency == currency:
            return row.dso.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return None


def _window(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """Inclusive dates → ``[start, end)`` UTC datetimes."""
    return (
        datetime.combine(date_from, datetime.min.time(), tzinfo=UTC),
        datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tzinfo=UTC),
    )


async def signing_counts(
    actor: Actor, date_from: date, date_to: date, grouping: Grouping = Grouping()
) -> list[GroupRow]:
    """Per group: ``submitted`` = contracts submitted for approval in the period (by their
    last ``submitted_at``), ``signed`` = how many of those have been signed since."""
    actor.require("contract:read")
    start, end = _window(date_from, date_to)
    return await _aggregate(
        actor,
        ("contracts_contract k", []),
        {
            "submitted": "COUNT(*)",
            "signed": "SUM(CASE WHEN k.signed_at IS NOT NULL THEN 1 ELSE 0 END)",
        },
        grouping,
        [(f"{SUBMITTED_AT} >= {{}} AND {SUBMITTED_AT} < {{}}", [start, end])],
        by_currency=False,
    )


@dataclass(frozen=True)
class SigningRate:
    submitted: int
    signed: int
    rate: Decimal | None


async def signing_rate(actor: Actor, date_from: date, date_to: date) -> SigningRate:
    """Of the contracts submitted for approval in the period, the share signed."""
    (row,) = await signing_counts(actor, date_from, date_to)
    submitted, signed = row.values["submitted"], row.values["signed"]
    return SigningRate(submitted, signed, _ratio(signed, submitted))


def _shifted(column: str, days: int) -> str:
    """A date column moved by ``days`` (SQLite stores dates as ISO text)."""
    if is_sqlite(current_engine()):
        return f"date({column}, '{int(days):+d} days')"
    return f"({column} + {int(days)})"


async def renewal_counts(
    actor: Actor,
    date_from: date,
    date_to: date,
    grouping: Grouping = Grouping(),
    grace_days: int | None = None,
) -> list[GroupRow]:
    """续约: per group, ``expiring`` = contracts in force (signed, in execution, completed or
    disputed; not terminated) whose ``end_date`` falls in ``[date_from, date_to]``, and
    ``renewed`` = those whose customer has another contract in force starting within
    ``grace_days`` (setting ``renewal_grace_days``) before or after that end date. The renewal
    counts whoever owns it: renewing is a fact about the expiring contract."""
    actor.require("contract:read")
    grace = config().renewal_grace_days if grace_days is None else grace_days
    renewed = (
        "SELECT 1 FROM contracts_contract n WHERE n.customer = k.customer AND n.id <> k.id "
        f"AND n.status IN ({_IN_FORCE_SQL}) AND n.start_date >= {_shifted(END_DATE, -grace)} "
        f"AND n.start_date <= {_shifted(END_DATE, grace)}"
    )
    return await _aggregate(
        actor,
        ("contracts_contract k", []),
        {"expiring": "COUNT(*)", "renewed": f"SUM(CASE WHEN EXISTS ({renewed}) THEN 1 ELSE 0 END)"},
        grouping,
        [(f"k.status IN ({_IN_FORCE_SQL})", []), _period_dates(date_from, date_to, END_DATE)],
        by_currency=False,
    )


async def signed_sums(
    actor: Actor,
    date_from: date,
    date_to: date,
    grouping: Grouping = Grouping(),
    *,
    by_line: bool = False,
) -> list[GroupRow]:
    """Contract revenue signed (签约额) per group and currency: ``amount`` = Σ totals of
    contracts signed (``signed_on``) in ``[date_from, date_to]`` and not terminated,
    ``contracts`` = their number. ``by_line``: Σ line amounts instead, so that groups and
    filters may use the line's product ``l.product`` (the lines of a contract sum to its
    total)."""
    actor.require("contract:read")
    source, amount = "contracts_contract k", "k.total_minor"
    if by_line:
        source = "contracts_line l JOIN contracts_contract k ON k.id = l.contract"
        amount = "l.amount_minor"
    return await _aggregate(
        actor,
        (source, []),
        {"amount": f"SUM({amount})", "contracts": "COUNT(DISTINCT k.id)"},
        grouping,
        [(f"k.status IN ({_IN_FORCE_SQL})", []), _period_dates(date_from, date_to, SIGNED_ON)],
    )


async def collected_sums(
    actor: Actor, date_from: date, date_to: date, grouping: Grouping = Grouping()
) -> list[GroupRow]:
    """回款额 per group and currency: ``amount`` = Σ payments allocated to installments with
    the allocation's date (the payment's receipt) in ``[date_from, date_to]``, ``payments`` =
    the number of payments. Money still unallocated on account is not attributed."""
    actor.require("receivable:read")
    return await _aggregate(
        actor,
        (
            "contracts_allocation a JOIN contracts_installment i ON i.id = a.installment "
            "JOIN contracts_contract k ON k.id = i.contract",
            [],
        ),
        {"amount": "SUM(a.amount_minor)", "payments": "COUNT(DISTINCT a.payment)"},
        grouping,
        [_period_dates(date_from, date_to, APPLIED_ON)],
        customer="i.customer",
    )


# -- customer summaries (GraphQL batches) --------------------------------------------------------


async def receivable_summaries(customer_ids: list[int]) -> dict[int, Any]:
    """Open, overdue and credit figures per (already visible) customer in a few queries."""
    from kehu.plugins.contracts.services import credit_statuses

    return await credit_statuses(customer_ids)


async def merge_customers(actor: Actor, survivor_id: int, merged_id: int) -> None:
    """Re-point contracts and receivables from the merged customer to the survivor (runs in the
    merge's unit of work); the survivor keeps its credit profile (else takes the merged one)."""
    from kehu.plugins.contracts.tables import CreditProfile

    for table in (Contract, Installment, Invoice, Payment, Credit):
        await table.update({table.customer: survivor_id}).where(table.customer == merged_id)
    if await CreditProfile.exists().where(CreditProfile.customer == survivor_id):
        await CreditProfile.delete().where(CreditProfile.customer == merged_id)
    else:
        await CreditProfile.update({CreditProfile.customer: survivor_id}).where(
            CreditProfile.customer == merged_id
        )
    await record(
        actor, "merged", "contract", None, after={"customer": survivor_id, "merged_id": merged_id}
    )


async def group_names(group_by: str, ids: list[int]) -> dict[int, str]:
    """Display names of aging groups: customer names, usernames or team names."""
    from kehu.core.tables import Team, User

    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    table, column = {
        "customer": (Customer, Customer.name),
        "owner": (User, User.username),
        "team": (Team, Team.name),
    }.get(group_by, (None, None))
    if table is None:
        return {}
    rows = await table.select(table.id, column).where(table.id.is_in(ids))
    return {r["id"]: r[column._meta.name] for r in rows}
