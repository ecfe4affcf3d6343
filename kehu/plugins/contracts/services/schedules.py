"""Payment terms and installment schedules."""

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from kehu.core.errors import FieldError, Forbidden, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import raise_if
from kehu.plugins.contracts.services.common import S, get_contract, today
from kehu.plugins.contracts.tables import Installment

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


async def visible_installment(actor: Actor, installment_id: int) -> tuple[dict, dict]:
    row = await Installment.select().where(Installment.id == installment_id).first()
    if row is None:
        raise NotFound(f"Installment {installment_id} not found")
    try:
        contract = await get_contract(actor, row["contract"])
    except NotFound:
        raise NotFound(f"Installment {installment_id} not found") from None
    return row, contract
