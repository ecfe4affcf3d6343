"""Ticket and satisfaction metrics for the reporting plugin's registry (``kehu_report_metrics``;
only used when reporting is enabled). SQL aggregates with the actor's ticket visibility
(surveys: customer visibility), identical on SQLite and PostgreSQL.

Ratios and averages are derived in Python from the groups' integer aggregates (exact, half
up to 0.01); an empty selection gives one row with value 0 and zero counts in its measures."""

from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from piccolo.querystring import QueryString

from kehu.core.services.customers import customer_scope
from kehu.plugins.reporting.hookspecs import Metric, MetricQuery, MetricRow, Source, grouped
from kehu.plugins.tickets.services.common import seconds_sql, ticket_scope

T = "tickets_ticket"
C = "core_customer"
CUSTOMER_DIMS = {"region": f"{C}.region", "tier": f"{C}.tier", "industry": f"{C}.industry"}
TICKET_DIMS = {
    "priority": f"{T}.priority",
    "type": f"{T}.type",
    "channel": f"{T}.channel",
    "phase": f"{T}.phase",
    "status": f"{T}.status",
    "complaint_category": f"{T}.complaint_category",
    "assignee": f"{T}.assignee",
    "team": f"{T}.team",
    **CUSTOMER_DIMS,
}
TICKETS = Source(T, TICKET_DIMS, time_column=f"{T}.created_at", labels=("assignee", "team"))
WITH_CUSTOMERS = Source(
    f"{T} JOIN {C} ON {C}.id = {T}.customer",
    TICKET_DIMS,
    time_column=f"{T}.created_at",
    labels=("assignee", "team"),
)
SURVEY_DIMS = {"team": f"{C}.team", "owner": f"{C}.owner", **CUSTOMER_DIMS}
SURVEYS = Source(
    f"tickets_survey s JOIN {C} ON {C}.id = s.customer",
    SURVEY_DIMS,
    time_column="s.answered_at",
    labels=("owner", "team"),
)
NOT_MERGED = QueryString(f"{T}.merged_into IS NULL")
OPEN = QueryString(f"{T}.status IN ('new', 'open', 'pending_customer')")
MET = f"({T}.first_response_breached IS FALSE AND {T}.resolution_breached IS FALSE)"
BREACHED = f"({T}.first_response_breached IS TRUE OR {T}.resolution_breached IS TRUE)"
CENT = Decimal("0.01")
DAY = Decimal(86400)

Counts = dict[str, Decimal]
Compute = Callable[[MetricQuery], Awaitable[list[MetricRow]]]


def _count_if(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _ratio(part: Decimal, whole: Decimal, scale: Decimal = Decimal(100)) -> Decimal | None:
    """``part ÷ whole × scale`` half up to 0.01; ``None`` when ``whole`` is 0."""
    return None if not whole else (scale * part / whole).quantize(CENT, ROUND_HALF_UP)


def _scope(where: Any) -> QueryString | None:
    return None if where is None else where.querystring


def _tickets(query: MetricQuery) -> Source:
    """The tickets, joined with their customers only when a customer dimension is used."""
    used = {*query.dimensions, *query.filters}
    return WITH_CUSTOMERS if used & set(CUSTOMER_DIMS) else TICKETS


def _tickets_scope(query: MetricQuery) -> QueryString | None:
    return _scope(ticket_scope(query.actor))


def _customers_scope(query: MetricQuery) -> QueryString | None:
    return _scope(customer_scope(query.actor))


async def _aggregates(
    source: Source,
    query: MetricQuery,
    scope: QueryString | None,
    where: list[QueryString],
    sums: dict[str, str],
) -> list[tuple[dict[str, str], Counts]]:
    """The named aggregates per group, in one grouped SQL query."""
    rows = await grouped(source, query, "COUNT(*)", scope, where, measures=sums)
    return [(row.dimensions, row.measures) for row in rows]


async def _derived(
    source: Source,
    query: MetricQuery,
    scope: QueryString | None,
    where: list[QueryString],
    sums: dict[str, str],
    value: Callable[[Counts], Decimal | None],
    hidden: str = "",
) -> list[MetricRow]:
    """Rows whose value is derived from the named aggregates, which become the measures but
    ``hidden`` (value 0 when undefined: nothing to divide by)."""
    rows = []
    for dims, counts in await _aggregates(source, query, scope, where, sums):
        derived = value(counts)
        rows.append(
            MetricRow(
                dims,
                Decimal("0.00") if derived is None else derived,
                measures={k: v for k, v in counts.items() if k != hidden},
            )
        )
    return rows


async def _count(query: MetricQuery, *where: QueryString) -> list[MetricRow]:
    """The visible, unmerged tickets per group."""
    return await grouped(
        _tickets(query), query, "COUNT(*)", _tickets_scope(query), [NOT_MERGED, *where]
    )


async def _ticket_ratio(
    query: MetricQuery,
    where: list[QueryString],
    sums: dict[str, str],
    value: Callable[[Counts], Decimal | None],
    hidden: str = "",
) -> list[MetricRow]:
    """``_derived`` over the visible, unmerged tickets."""
    return await _derived(
        _tickets(query), query, _tickets_scope(query), [NOT_MERGED, *where], sums, value, hidden
    )


async def _created(query: MetricQuery) -> list[MetricRow]:
    return await _count(query)


async def _backlog(query: MetricQuery) -> list[MetricRow]:
    now = MetricQuery(query.actor, query.dimensions, query.filters, granularity=query.granularity)
    return await _count(now, OPEN)


async def _complaints(query: MetricQuery) -> list[MetricRow]:
    return await _count(query, QueryString(f"{T}.type = 'complaint'"))


async def _resolution_rate(query: MetricQuery) -> list[MetricRow]:
    sums = {"resolved": _count_if(f"{T}.status IN ('resolved', 'closed')"), "total": "COUNT(*)"}
    return await _ticket_ratio(query, [], sums, lambda c: _ratio(c["resolved"], c["total"]))


async def _sla_compliance(query: MetricQuery) -> list[MetricRow]:
    known = QueryString(f"({MET} OR {BREACHED})")
    sums = {"met": _count_if(MET), "breached": _count_if(BREACHED)}
    return await _ticket_ratio(
        query, [known], sums, lambda c: _ratio(c["met"], c["met"] + c["breached"])
    )


def _average_days(end: str) -> Compute:
    """Average wall-clock days from creation to ``end`` over the tickets that reached it
    (measure ``tickets``: how many)."""

    async def compute(query: MetricQuery) -> list[MetricRow]:
        reached = QueryString(f"{T}.{end} IS NOT NULL")
        seconds = seconds_sql(f"{T}.created_at", f"{T}.{end}")
        sums = {"tickets": "COUNT(*)", "seconds": f"SUM({seconds})"}
        return await _ticket_ratio(
            query,
            [reached],
            sums,
            lambda c: _ratio(c["seconds"], c["tickets"] * DAY, Decimal(1)),
            hidden="seconds",
        )

    return compute


def _survey(kind: str) -> QueryString:
    return QueryString(f"s.kind = '{kind}' AND s.answered_at IS NOT NULL")


async def _csat(query: MetricQuery) -> list[MetricRow]:
    sums = {"satisfied": _count_if("s.score >= 4"), "answers": "COUNT(*)"}
    return await _derived(
        SURVEYS,
        query,
        _customers_scope(query),
        [_survey("csat")],
        sums,
        lambda c: _ratio(c["satisfied"], c["answers"]),
    )


async def _nps(query: MetricQuery) -> list[MetricRow]:
    sums = {
        "promoters": _count_if("s.score >= 9"),
        "detractors": _count_if("s.score <= 6"),
        "answers": "COUNT(*)",
    }
    return await _derived(
        SURVEYS,
        query,
        _customers_scope(query),
        [_survey("nps")],
        sums,
        lambda c: _ratio(c["promoters"] - c["detractors"], c["answers"]),
    )


def report_metrics() -> list[Metric]:
    dims = (*TICKET_DIMS, "period")
    survey_dims = (*SURVEY_DIMS, "period")
    return [
        Metric(
            "tickets.created",
            "Tickets",
            "Tickets created in the period.",
            "COUNT(tickets created in [from, to))",
            "count",
            dims,
            _created,
        ),
        Metric(
            "tickets.backlog",
            "Ticket backlog",
            "Open tickets now (new, open, pending).",
            "COUNT(tickets WHERE status open)",
            "count",
            tuple(TICKET_DIMS),
            _backlog,
            time_based=False,
        ),
        Metric(
            "tickets.complaints",
            "Complaints",
            "Complaints created, by category.",
            "COUNT(tickets WHERE type = complaint)",
            "count",
            dims,
            _complaints,
        ),
        Metric(
            "tickets.resolution_rate",
            "Resolution rate",
            "Share of the period's tickets that are resolved or closed.",
            "resolved or closed / created × 100",
            "percent",
            dims,
            _resolution_rate,
        ),
        Metric(
            "tickets.sla_compliance",
            "SLA compliance",
            "Share of the period's tickets with a known SLA outcome that met every target "
            "(first response and resolution, business hours); tickets still within their "
            "targets are not counted yet.",
            "met / (met + breached) × 100",
            "percent",
            dims,
            _sla_compliance,
        ),
        Metric(
            "tickets.first_response_days",
            "First response time",
            "Average wall-clock time to the first public reply.",
            "AVG(first_responded_at − created_at)",
            "days",
            dims,
            _average_days("first_responded_at"),
            chart="line",
        ),
        Metric(
            "tickets.resolution_days",
            "Resolution time",
            "Average wall-clock time to resolution.",
            "AVG(resolved_at − created_at)",
            "days",
            dims,
            _average_days("resolved_at"),
            chart="line",
        ),
        Metric(
            "satisfaction.csat",
            "CSAT",
            "Satisfied (4–5) share of CSAT answers.",
            "answers ≥ 4 / answers × 100",
            "percent",
            survey_dims,
            _csat,
            chart="line",
        ),
        Metric(
            "satisfaction.nps",
            "NPS",
            "Promoters (9–10) minus detractors (0–6).",
            "(promoters − detractors) / answers × 100",
            "percent",
            survey_dims,
            _nps,
            chart="line",
        ),
    ]
