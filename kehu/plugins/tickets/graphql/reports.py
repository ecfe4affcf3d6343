"""Output types of the tickets metrics and SLA policy queries."""

import strawberry

from kehu.core.graphql.base import enum_value
from kehu.plugins.tickets.graphql.types import TicketPriority
from kehu.plugins.tickets.services import slas


@strawberry.type
class SlaPolicyTarget:
    policy: str
    priority: TicketPriority
    first_response_minutes: int
    resolution_minutes: int
    source: str = strawberry.field(description="policy (a stored row) or settings (default).")


@strawberry.type
class ComplaintCount:
    category: str
    count: int


@strawberry.type(description="Service metrics over the tickets you may see.")
class TicketMetrics:
    created: int
    resolved: int
    resolution_rate: float | None
    avg_first_response_seconds: float | None
    avg_resolution_seconds: float | None
    sla_compliance: float | None
    breached: int
    backlog: int
    csat: float | None
    csat_responses: int
    nps: int | None
    nps_responses: int
    complaints_by_category: list[ComplaintCount]


def _policy(p: slas.PolicyTarget) -> SlaPolicyTarget:
    return SlaPolicyTarget(
        policy=p.policy,
        priority=enum_value(TicketPriority, p.priority),
        first_response_minutes=int(p.first_response.total_seconds() // 60),
        resolution_minutes=int(p.resolution.total_seconds() // 60),
        source=p.source,
    )
