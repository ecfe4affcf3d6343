"""Open receivables, aging buckets and the bad-debt provision."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.permissions import Actor
from kehu.plugins.contracts.services.aggregates import (
    _INSTALLMENTS,
    Fragment,
    Grouping,
    GroupRow,
    _aggregate,
    _late,
)
from kehu.plugins.contracts.services.common import (
    _STATES_SQL,
    config,
    credit_profiles,
    sql_date,
    today,
)

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
