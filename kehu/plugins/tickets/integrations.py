"""What tickets tells the incentives plugin (``kehu_incentive_actuals``): support-agent
actuals — CSAT (mean 1–5 score of CSAT surveys answered in the period, by the ticket's
assignee / team), first response hours and resolution hours (mean over tickets created /
resolved in the period). Sums and counts are SQL aggregates per group; the means are exact
decimals."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from piccolo.query.functions.aggregate import Count, Sum
from piccolo.querystring import QueryString

from kehu.plugins.incentives.hookspecs import Period, Value, bounds
from kehu.plugins.tickets.services.common import seconds_sql
from kehu.plugins.tickets.tables import Survey, Ticket


async def _means(
    query: Any, group: str, user: Any, team: Any, scale: Decimal = Decimal(1)
) -> dict[Any, Value]:
    """``{user id / team id / 0: SUM(total) ÷ COUNT ÷ scale}``: ``query`` selects the
    ``total`` and ``n`` aggregates; it is grouped by ``user`` or ``team`` (or not at all)."""
    column = {"user": user, "team": team}.get(group)
    if column is not None:
        query = query.columns(column.as_alias("k")).group_by(column)
    return {
        r.get("k", 0): Value(Decimal(r["total"]) / r["n"] / scale) for r in await query if r["n"]
    }


async def csat(period: Period, group: str) -> dict[Any, Value]:
    lo, hi = bounds(period)
    query = Survey.select(Sum(Survey.score, alias="total"), Count(alias="n")).where(
        Survey.kind == "csat",
        Survey.answered_at >= lo,
        Survey.answered_at < hi,
        Survey.score.is_not_null(),
        Survey.ticket.is_not_null(),
    )
    return await _means(query, group, Survey.ticket.assignee, Survey.ticket.team)


async def hours(period: Period, group: str, metric: str) -> dict[Any, Value]:
    """Mean hours from creation to first response (tickets created in the period) or to
    resolution (tickets resolved in the period), whole seconds per ticket, to 0.01 h."""
    lo, hi = bounds(period)
    end = Ticket.first_responded_at if metric == "first_response_hours" else Ticket.resolved_at
    anchor = Ticket.created_at if metric == "first_response_hours" else Ticket.resolved_at
    seconds = seconds_sql('"tickets_ticket"."created_at"', f'"tickets_ticket"."{end._meta.name}"')
    query = Ticket.select(Sum(QueryString(seconds), alias="total"), Count(alias="n")).where(
        anchor >= lo, anchor < hi, end.is_not_null(), Ticket.merged_into.is_null()
    )
    means = await _means(query, group, Ticket.assignee, Ticket.team, Decimal(3600))
    return {k: Value(v.number.quantize(Decimal("0.01"), ROUND_HALF_UP)) for k, v in means.items()}


async def incentive_actuals(
    metric: str, period: Period, group: str, currency: str
) -> dict[Any, Value] | None:
    if metric == "csat":
        return await csat(period, group)
    if metric in ("first_response_hours", "resolution_hours"):
        return await hours(period, group, metric)
    return None
