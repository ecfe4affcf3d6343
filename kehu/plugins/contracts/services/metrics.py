"""Collection, DSO, signing and renewal figures for reports and metrics."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kehu.core.db import current_engine, is_sqlite
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.plugins.contracts.services.aggregates import (
    _IN_FORCE_SQL,
    _INSTALLMENTS,
    Grouping,
    GroupRow,
    _aggregate,
    _late,
    _period_dates,
)
from kehu.plugins.contracts.services.aging import open_receivables
from kehu.plugins.contracts.services.common import _STATES_SQL, config

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
