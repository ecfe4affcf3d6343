"""Live actuals per metric, aggregated in SQL and grouped by owner (user), team or nothing.

Metrics: ``won_revenue`` (money, won deals by ``closed_at``), ``new_customers`` (count of
customers created), ``conversion_rate`` (won ÷ closed deals), and with contracts
``invoiced_amount`` (invoices − credit notes), ``collected_amount`` (money received for
contracts − refunds) and ``collection_rate``, with tickets ``csat``, ``first_response_hours``
and ``resolution_hours`` (by ticket assignee). Which metrics exist depends on the enabled
plugins.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from piccolo.query.functions.aggregate import Count, Sum
from piccolo.querystring import QueryString

from kehu.core.context import current
from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.tables import Customer
from kehu.plugins.incentives.services import support_actuals
from kehu.plugins.incentives.services.periods import Period

MONEY_METRICS = {"won_revenue", "invoiced_amount", "collected_amount"}
RATIO_METRICS = {"conversion_rate", "collection_rate"}
NEEDS = {
    "invoiced_amount": "contracts",
    "collected_amount": "contracts",
    "collection_rate": "contracts",
    "csat": "tickets",
    "first_response_hours": "tickets",
    "resolution_hours": "tickets",
}
ALL_METRICS = (
    "won_revenue",
    "new_customers",
    "conversion_rate",
    "invoiced_amount",
    "collected_amount",
    "collection_rate",
    "csat",
    "first_response_hours",
    "resolution_hours",
)
LOWER_IS_BETTER = {"first_response_hours", "resolution_hours"}
NON_ADDITIVE = RATIO_METRICS | {"csat"} | LOWER_IS_BETTER
GROUPS = ("user", "team", "company")


@dataclass(frozen=True)
class Value:
    """An actual: ``minor`` + ``currency`` for money, ``number`` for counts and ratios."""

    number: Decimal
    currency: str = ""

    @property
    def minor(self) -> int:
        return int(self.number)


def available_metrics() -> list[str]:
    return [m for m in ALL_METRICS if _plugin_on(NEEDS.get(m))]


def _plugin_on(name: str | None) -> bool:
    if name is None:
        return True
    return name in plugin_names()


def plugin_names() -> set[str]:
    return set(current().names)


def check_metric(metric: str) -> None:
    if metric not in ALL_METRICS:
        raise ValidationFailed(f"Unknown metric {metric!r}", field="metric")
    if not _plugin_on(NEEDS.get(metric)):
        raise ValidationFailed(
            FieldError(
                "metric", f"Metric {metric!r} needs the {NEEDS[metric]} plugin", "PLUGIN_DISABLED"
            )
        )


def bounds(period: Period) -> tuple[datetime, datetime]:
    return (
        datetime.combine(period.start, time(), UTC),
        datetime.combine(period.end + timedelta(days=1), time(), UTC),
    )


async def _won(period: Period, group: str, currency: str) -> dict[Any, Value]:
    from kehu.plugins.pipeline.tables import Opportunity as O

    lo, hi = bounds(period)
    col = {"user": O.owner, "team": O.team}.get(group)
    cols = [col] if col is not None else []
    q = O.select(*cols, O.currency, Sum(O.amount_minor, alias="s")).where(
        O.status == "won", O.closed_at >= lo, O.closed_at < hi, O.currency == currency
    )
    rows = await q.group_by(*cols, O.currency)
    out: dict[Any, Value] = {}
    for r in rows:
        k = r[col._meta.name] if col is not None else 0
        out[k] = Value(Decimal(int(r["s"] or 0)), r["currency"])
    return out


async def _conversion(period: Period, group: str) -> dict[Any, Value]:
    from kehu.plugins.pipeline.tables import Opportunity as O

    lo, hi = bounds(period)
    col = {"user": O.owner, "team": O.team}.get(group)
    cols = [col] if col is not None else []
    rows = (
        await O.select(*cols, O.status, Count(alias="n"))
        .where(O.status.is_in(["won", "lost"]), O.closed_at >= lo, O.closed_at < hi)
        .group_by(*cols, O.status)
    )
    won: dict[Any, int] = defaultdict(int)
    closed: dict[Any, int] = defaultdict(int)
    for r in rows:
        k = r[col._meta.name] if col is not None else 0
        closed[k] += r["n"]
        if r["status"] == "won":
            won[k] += r["n"]
    return {k: Value(Decimal(won[k]) / Decimal(n)) for k, n in closed.items() if n}


async def _new_customers(period: Period, group: str) -> dict[Any, Value]:
    lo, hi = bounds(period)
    col = {"user": Customer.owner, "team": Customer.team}.get(group)
    cols = [col] if col is not None else []
    rows = (
        await Customer.select(*cols, Count(alias="n"))
        .where(Customer.created_at >= lo, Customer.created_at < hi, Customer.merged_into.is_null())
        .group_by(*cols)
    )
    return {(r[col._meta.name] if col is not None else 0): Value(Decimal(r["n"])) for r in rows}


_INVOICED = (
    # invoices (+) and credit notes on invoiced installments (−), by the contract
    "SELECT {key} AS k, i.amount_minor AS amount FROM contracts_invoice i "
    "JOIN contracts_contract c ON c.id = i.contract "
    "WHERE i.issued_on >= {{}} AND i.issued_on <= {{}} AND i.currency = {{}} "
    "UNION ALL SELECT {key}, -r.amount_minor FROM contracts_credit r "
    "JOIN contracts_installment n ON n.id = r.installment "
    "JOIN contracts_contract c ON c.id = n.contract WHERE r.kind = 'credit_note' "
    "AND r.issued_on >= {{}} AND r.issued_on <= {{}} AND r.currency = {{}}"
)
_COLLECTED = (
    # payments for a contract (+), allocations of on-account payments (+), refunds (−)
    "SELECT {key} AS k, p.amount_minor AS amount FROM contracts_payment p "
    "JOIN contracts_contract c ON c.id = p.contract "
    "WHERE p.received_on >= {{}} AND p.received_on <= {{}} AND p.currency = {{}} "
    "UNION ALL SELECT {key}, a.amount_minor FROM contracts_allocation a "
    "JOIN contracts_payment p ON p.id = a.payment "
    "JOIN contracts_installment n ON n.id = a.installment "
    "JOIN contracts_contract c ON c.id = n.contract WHERE p.contract IS NULL "
    "AND a.applied_on >= {{}} AND a.applied_on <= {{}} AND p.currency = {{}} "
    "UNION ALL SELECT {key}, -r.amount_minor FROM contracts_credit r "
    "JOIN contracts_payment p ON p.id = r.payment "
    "JOIN contracts_contract c ON c.id = p.contract WHERE r.kind = 'refund' "
    "AND r.issued_on >= {{}} AND r.issued_on <= {{}} AND r.currency = {{}}"
)


async def _contract_money(
    period: Period, group: str, metric: str, currency: str
) -> dict[Any, Value]:
    """Invoiced or collected money of the period in ``currency`` per contract owner / team /
    company: the same sources as the commission ledger (``sources``), summed in SQL."""
    from kehu.plugins.contracts.tables import Contract

    key = {"user": "c.owner", "team": "c.team"}.get(group, "0")
    parts = _INVOICED if metric == "invoiced_amount" else _COLLECTED
    params = [period.start, period.end, currency] * (parts.count("UNION ALL") + 1)
    rows = await Contract.raw(
        f"SELECT k, SUM(amount) AS s FROM ({parts.format(key=key)}) x GROUP BY k", *params
    )
    return {r["k"]: Value(Decimal(int(r["s"])), currency) for r in rows}


async def _collection_rate(period: Period, group: str, currency: str) -> dict[Any, Value]:
    """Collected ÷ invoiced in the period (money received for contracts vs invoiced)."""
    inv = await _contract_money(period, group, "invoiced_amount", currency)
    col = await _contract_money(period, group, "collected_amount", currency)
    return {
        k: Value(col.get(k, Value(Decimal(0))).number / v.number)
        for k, v in inv.items()
        if v.number > 0
    }


async def actuals(
    metric: str, period: Period, group: str = "user", currency: str | None = None
) -> dict[Any, Value]:
    """The actual of ``metric`` in ``period`` per user id / team id / ``0`` (company). Money
    is summed in one currency (default: the plugin's ``currency`` setting); there is no FX."""
    check_metric(metric)
    currency = currency or current().plugin_settings("incentives").currency
    if group not in GROUPS:
        raise ValidationFailed(f"group must be one of {', '.join(GROUPS)}", field="group")
    if metric == "won_revenue":
        return await _won(period, group, currency)
    if metric == "conversion_rate":
        return await _conversion(period, group)
    if metric == "new_customers":
        return await _new_customers(period, group)
    if metric == "collection_rate":
        return await _collection_rate(period, group, currency)
    if metric == "csat":
        return await support_actuals.csat(period, group, Value)
    if metric in ("first_response_hours", "resolution_hours"):
        return await support_actuals.hours(period, group, Value, metric)
    return await _contract_money(period, group, metric, currency)


async def dimension_actual(
    metric: str, period: Period, scope: str, value: str, currency: str
) -> Value | None:
    """Won revenue of one region (customer region), channel (opportunity source) or product
    (opportunity line items); other metrics have no such breakdown (``None``)."""
    from kehu.plugins.pipeline.tables import LineItem
    from kehu.plugins.pipeline.tables import Opportunity as O

    if metric != "won_revenue":
        return None
    lo, hi = bounds(period)
    won = [O.status == "won", O.closed_at >= lo, O.closed_at < hi]
    if scope == "product":
        line = QueryString(
            '"pipeline_line_item"."quantity" * "pipeline_line_item"."unit_price_minor"'
        )
        rows = await LineItem.select(Sum(line, alias="s"), Count(alias="n")).where(
            LineItem.product == value,
            LineItem.opportunity.status == "won",
            LineItem.opportunity.closed_at >= lo,
            LineItem.opportunity.closed_at < hi,
            LineItem.currency == currency,
        )
        found = rows[0]["n"] > 0
        return Value(Decimal(int(rows[0]["s"] or 0)), currency if found else "")
    col = O.customer.region if scope == "region" else O.source
    rows = (
        await O.select(O.currency, Sum(O.amount_minor, alias="s"))
        .where(col == value, O.currency == currency, *won)
        .group_by(O.currency)
    )
    return (
        Value(Decimal(int(rows[0]["s"] or 0)), rows[0]["currency"]) if rows else Value(Decimal(0))
    )
