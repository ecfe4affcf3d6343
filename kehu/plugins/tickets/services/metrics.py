"""Service metrics over the tickets an actor may see: first-response and resolution time,
resolution rate, SLA compliance, backlog, CSAT %, NPS and complaints by category.

Counts are SQL aggregates on the visible tickets; durations are averaged over the selected
timestamps (portable between SQLite and PostgreSQL); SLA compliance counts the stored outcomes
(``slas.store_outcomes``) like the ``tickets.sla_compliance`` report metric.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from kehu.core.permissions import Actor
from kehu.core.services.customers import customer_scope
from kehu.core.tables import Customer
from kehu.plugins.tickets.services.common import at, visible
from kehu.plugins.tickets.services.surveys import csat_percent, nps
from kehu.plugins.tickets.tables import OPEN_STATUSES, Survey, Ticket, TicketType


@dataclass(frozen=True)
class TicketMetrics:
    created: int
    resolved: int
    resolution_rate: float | None  # % of tickets created in the period now resolved/closed
    avg_first_response_seconds: float | None  # wall-clock
    avg_resolution_seconds: float | None  # wall-clock
    sla_compliance: float | None  # % meeting every target of those with a known outcome
    breached: int  # tickets with a breached target
    backlog: int  # open now (new, open, pending customer)
    csat: float | None
    csat_responses: int
    nps: int | None
    nps_responses: int
    complaints_by_category: dict[str, int]


def _outcomes(row: dict[str, Any]) -> tuple[bool | None, bool | None]:
    return row["first_response_breached"], row["resolution_breached"]


def _avg(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


async def ticket_metrics(
    actor: Actor,
    since: datetime,
    until: datetime | None = None,
    *,
    team_id: int | None = None,
    now: datetime | None = None,
) -> TicketMetrics:
    """Metrics of the tickets created in ``[since, until)`` that ``actor`` may see."""
    actor.require("ticket:read")
    when = at(now)
    until = until or when

    def scoped(query: Any) -> Any:
        query = visible(query, actor).where(Ticket.merged_into.is_null())
        return query.where(Ticket.team == team_id) if team_id is not None else query

    period = (Ticket.created_at >= since) & (Ticket.created_at < until)
    rows = await scoped(Ticket.select()).where(period)
    backlog = await scoped(Ticket.count()).where(Ticket.status.is_in(list(OPEN_STATUSES)))
    by_category = (
        await scoped(Ticket.select(Ticket.complaint_category, Count(alias="n")))
        .where(period, Ticket.type == TicketType.complaint.value)
        .group_by(Ticket.complaint_category)
    )
    first = [
        (r["first_responded_at"] - r["created_at"]).total_seconds()
        for r in rows
        if r["first_responded_at"]
    ]
    resolved_rows = [r for r in rows if r["resolved_at"] is not None or r["status"] == "closed"]
    resolution = [
        ((r["resolved_at"] or r["closed_at"]) - r["created_at"]).total_seconds()
        for r in resolved_rows
    ]
    breached = sum(1 for r in rows if True in _outcomes(r))
    met = sum(1 for r in rows if _outcomes(r) == (False, False))

    surveys = Survey.select(Survey.kind, Survey.score).where(
        Survey.answered_at >= since, Survey.answered_at < until
    )
    scope = customer_scope(actor)
    if scope is not None:
        surveys = surveys.where(Survey.customer.is_in(Customer.select(Customer.id).where(scope)))
    if team_id is not None:
        surveys = surveys.where(
            Survey.customer.is_in(Customer.select(Customer.id).where(Customer.team == team_id))
        )
    answers = await surveys
    csat_scores = [a["score"] for a in answers if a["kind"] == "csat"]
    nps_scores = [a["score"] for a in answers if a["kind"] == "nps"]
    return TicketMetrics(
        created=len(rows),
        resolved=len(resolved_rows),
        resolution_rate=round(100 * len(resolved_rows) / len(rows), 1) if rows else None,
        avg_first_response_seconds=_avg(first),
        avg_resolution_seconds=_avg(resolution),
        sla_compliance=round(100 * met / (met + breached), 1) if met + breached else None,
        breached=breached,
        backlog=backlog,
        csat=csat_percent(csat_scores),
        csat_responses=len(csat_scores),
        nps=nps(nps_scores),
        nps_responses=len(nps_scores),
        complaints_by_category={
            (r["complaint_category"] or "uncategorised"): r["n"] for r in by_category
        },
    )
