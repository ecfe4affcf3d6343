"""Ticket and satisfaction metrics for the reporting plugin's registry (``kehu_report_metrics``;
only used when reporting is enabled). SQL aggregates with the actor's ticket visibility
(surveys: customer visibility), identical on SQLite and PostgreSQL."""

from decimal import ROUND_HALF_UP, Decimal

from piccolo.querystring import QueryString

from kehu.core.db import current_engine, is_sqlite
from kehu.core.services.customers import customer_scope
from kehu.plugins.reporting.metrics import Metric, MetricQuery, MetricRow
from kehu.plugins.reporting.sql import Source, grouped
from kehu.plugins.tickets.services.common import ticket_scope

T = "tickets_ticket"
TICKET_DIMS = {
    "priority": f"{T}.priority",
    "type": f"{T}.type",
    "channel": f"{T}.channel",
    "phase": f"{T}.phase",
    "status": f"{T}.status",
    "complaint_category": f"{T}.complaint_category",
    "assignee": f"{T}.assignee",
    "team": f"{T}.team",
}
TICKETS = Source(T, TICKET_DIMS, time_column=f"{T}.created_at", labels=("assignee", "team"))
SURVEYS = Source(
    "tickets_survey s JOIN core_customer ON core_customer.id = s.customer",
    {"team": "core_customer.team", "owner": "core_customer.owner",
     "tier": "core_customer.tier", "region": "core_customer.region"},
    time_column="s.answered_at",
    labels=("owner", "team"),
)
NOT_MERGED = QueryString(f"{T}.merged_into IS NULL")
OPEN = QueryString(f"{T}.status IN ('new', 'open', 'pending_customer')")
CENT = Decimal("0.01")


def _days(start: str, end: str) -> str:
    if is_sqlite(current_engine()):
        return f"(julianday({end}) - julianday({start}))"
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)"


def _rounded(rows: list[MetricRow]) -> list[MetricRow]:
    return [MetricRow(r.dimensions, Decimal(str(r.value)).quantize(CENT, ROUND_HALF_UP))
            for r in rows]


def _tickets_scope(query: MetricQuery) -> QueryString | None:
    where = ticket_scope(query.actor)
    return None if where is None else where.querystring


def _customers_scope(query: MetricQuery) -> QueryString | None:
    where = customer_scope(query.actor)
    return None if where is None else where.querystring


async def _created(query: MetricQuery) -> list[MetricRow]:
    return await grouped(TICKETS, query, "COUNT(*)", _tickets_scope(query), [NOT_MERGED])


async def _backlog(query: MetricQuery) -> list[MetricRow]:
    now = MetricQuery(query.actor, query.dimensions, query.filters,
                      granularity=query.granularity)
    return await grouped(TICKETS, now, "COUNT(*)", _tickets_scope(query), [NOT_MERGED, OPEN])


async def _complaints(query: MetricQuery) -> list[MetricRow]:
    return await grouped(TICKETS, query, "COUNT(*)", _tickets_scope(query),
                         [NOT_MERGED, QueryString(f"{T}.type = 'complaint'")])


async def _resolution_rate(query: MetricQuery) -> list[MetricRow]:
    value = (f"100.0 * SUM(CASE WHEN {T}.status IN ('resolved', 'closed') THEN 1 ELSE 0 END)"
             " / COUNT(*)")
    return _rounded(await grouped(TICKETS, query, value, _tickets_scope(query), [NOT_MERGED]))


async def _first_response(query: MetricQuery) -> list[MetricRow]:
    value = f"AVG({_days(f'{T}.created_at', f'{T}.first_responded_at')})"
    return _rounded(await grouped(TICKETS, query, value, _tickets_scope(query), [
        NOT_MERGED, QueryString(f"{T}.first_responded_at IS NOT NULL")]))


async def _resolution(query: MetricQuery) -> list[MetricRow]:
    value = f"AVG({_days(f'{T}.created_at', f'{T}.resolved_at')})"
    return _rounded(await grouped(TICKETS, query, value, _tickets_scope(query), [
        NOT_MERGED, QueryString(f"{T}.resolved_at IS NOT NULL")]))


async def _csat(query: MetricQuery) -> list[MetricRow]:
    value = "100.0 * SUM(CASE WHEN s.score >= 4 THEN 1 ELSE 0 END) / COUNT(*)"
    return _rounded(await grouped(SURVEYS, query, value, _customers_scope(query), [
        QueryString("s.kind = 'csat' AND s.answered_at IS NOT NULL")]))


async def _nps(query: MetricQuery) -> list[MetricRow]:
    value = ("100.0 * (SUM(CASE WHEN s.score >= 9 THEN 1 ELSE 0 END) "
             "- SUM(CASE WHEN s.score <= 6 THEN 1 ELSE 0 END)) / COUNT(*)")
    return _rounded(await grouped(SURVEYS, query, value, _customers_scope(query), [
        QueryString("s.kind = 'nps' AND s.answered_at IS NOT NULL")]))


def report_metrics() -> list[Metric]:
    dims = (*TICKET_DIMS, "period")
    survey_dims = ("team", "owner", "tier", "region", "period")
    return [
        Metric("tickets.created", "Tickets", "Tickets created in the period.",
               "COUNT(tickets created in [from, to))", "count", dims, _created),
        Metric("tickets.backlog", "Ticket backlog", "Open tickets now (new, open, pending).",
               "COUNT(tickets WHERE status open)", "count", tuple(TICKET_DIMS), _backlog,
               time_based=False),
        Metric("tickets.complaints", "Complaints", "Complaints created, by category.",
               "COUNT(tickets WHERE type = complaint)", "count", dims, _complaints),
        Metric("tickets.resolution_rate", "Resolution rate",
               "Share of the period's tickets that are resolved or closed.",
               "resolved or closed / created × 100", "percent", dims, _resolution_rate),
        Metric("tickets.first_response_days", "First response time",
               "Average wall-clock time to the first public reply.",
               "AVG(first_responded_at − created_at)", "days", dims, _first_response,
               chart="line"),
        Metric("tickets.resolution_days", "Resolution time",
               "Average wall-clock time to resolution.", "AVG(resolved_at − created_at)",
               "days", dims, _resolution, chart="line"),
        Metric("satisfaction.csat", "CSAT", "Satisfied (4–5) share of CSAT answers.",
               "answers ≥ 4 / answers × 100", "percent", survey_dims, _csat, chart="line"),
        Metric("satisfaction.nps", "NPS", "Promoters (9–10) minus detractors (0–6).",
               "(promoters − detractors) / answers × 100", "percent", survey_dims, _nps,
               chart="line"),
    ]
