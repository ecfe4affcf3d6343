"""Live actuals per metric, aggregated in SQL and grouped by owner (user), team or nothing.

Metrics: ``won_revenue`` (money, won deals by ``closed_at``), ``new_customers`` (count of
customers created), ``conversion_rate`` (won ÷ closed deals), and with contracts
``invoiced_amount`` (invoices − credit notes), ``collected_amount`` (money received for
contracts − refunds) and ``collection_rate``, with tickets ``csat``, ``first_response_hours``
and ``resolution_hours`` (by ticket assignee). Which metrics exist depends on the enabled
plugins.
"""

from decimal import Decimal
from typing import Any

from piccolo.query.functions.aggregate import Count

from kehu.core.context import current
from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.tables import Customer
from kehu.plugins.incentives.integrations import pipeline
from kehu.plugins.incentives.services.periods import Period, bounds
from kehu.plugins.incentives.services.values import Value

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


async def _collection_rate(period: Period, group: str, currency: str) -> dict[Any, Value]:
    """Collected ÷ invoiced in the period (money received for contracts vs invoiced)."""
    inv = await _provided("invoiced_amount", period, group, currency)
    col = await _provided("collected_amount", period, group, currency)
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
        return await pipeline.won_revenue(period, group, currency)
    if metric == "conversion_rate":
        return await pipeline.conversion_rate(period, group)
    if metric == "new_customers":
        return await _new_customers(period, group)
    if metric == "collection_rate":
        return await _collection_rate(period, group, currency)
    return await _provided(metric, period, group, currency)


async def _provided(metric: str, period: Period, group: str, currency: str) -> dict[Any, Value]:
    """A metric another plugin computes (``kehu_incentive_actuals``: contracts' money,
    tickets' support metrics); ``check_metric`` made sure that plugin is enabled."""
    answers = await current().acall(
        "kehu_incentive_actuals", metric=metric, period=period, group=group, currency=currency
    )
    return answers[0] if answers else {}


async def dimension_actual(
    metric: str, period: Period, scope: str, value: str, currency: str
) -> Value | None:
    """Won revenue of one region (customer region), channel (opportunity source) or product
    (opportunity line items); other metrics have no such breakdown (``None``)."""
    if metric != "won_revenue":
        return None
    return await pipeline.won_revenue_of(period, scope, value, currency)
