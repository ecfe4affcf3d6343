"""Tickets GraphQL inputs: the ticket filter and the mutations' inputs."""

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.plugins.tickets.graphql.types import (
    SurveyKindEnum,
    TicketChannel,
    TicketPhase,
    TicketPriority,
    TicketStatus,
    TicketTypeEnum,
)
from kehu.plugins.tickets.services import tickets


@strawberry.input
class TicketFilter:
    status: list[TicketStatus] | None = None
    priority: TicketPriority | None = None
    type: TicketTypeEnum | None = None
    customer_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    open_only: bool = False
    complaint_category: str | None = None

    def to_filter(self) -> tickets.TicketFilter:
        return tickets.TicketFilter(
            status=[s.value for s in self.status] if self.status else None,
            priority=self.priority.value if self.priority else None,
            type=self.type.value if self.type else None,
            customer_id=pk_of(self.customer_id, "Customer", "customerId"),
            assignee_id=pk_of(self.assignee_id, "User", "assigneeId"),
            team_id=pk_of(self.team_id, "Team", "teamId"),
            open_only=self.open_only,
            complaint_category=self.complaint_category,
        )


@strawberry.input
class CreateTicketInput:
    customer_id: strawberry.ID
    subject: str
    channel: TicketChannel
    phase: TicketPhase | None = strawberry.UNSET
    type: TicketTypeEnum | None = strawberry.UNSET
    priority: TicketPriority | None = strawberry.UNSET
    contact_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    complaint_category: str | None = None
    body: str | None = strawberry.field(default=None, description="The customer's request.")
    contract_id: int | None = None


@strawberry.input
class UpdateTicketInput:
    id: strawberry.ID
    expected_version: int | None = None
    subject: str | None = strawberry.UNSET
    priority: TicketPriority | None = strawberry.UNSET
    phase: TicketPhase | None = strawberry.UNSET
    type: TicketTypeEnum | None = strawberry.UNSET
    channel: TicketChannel | None = strawberry.UNSET


@strawberry.input
class TicketStatusInput:
    id: strawberry.ID
    status: TicketStatus
    expected_version: int | None = None


@strawberry.input
class TicketIdInput:
    id: strawberry.ID


@strawberry.input
class AssignTicketInput:
    id: strawberry.ID
    assignee_id: strawberry.ID | None = None
    auto: bool = strawberry.field(
        default=False, description="Pick by the team's strategy (round-robin/least-open)."
    )
    team_id: strawberry.ID | None = None
    expected_version: int | None = None


@strawberry.input
class TicketMessageInput:
    ticket_id: strawberry.ID
    body: str
    internal: bool = strawberry.field(default=False, description="An internal note.")
    from_customer: bool = strawberry.field(default=False, description="Received from the customer.")


@strawberry.input
class ComplaintInput:
    id: strawberry.ID
    expected_version: int | None = None
    complaint_category: str | None = strawberry.UNSET
    root_cause: str | None = strawberry.UNSET
    corrective_action: str | None = strawberry.UNSET


@strawberry.input
class MergeTicketsInput:
    survivor_id: strawberry.ID
    duplicate_id: strawberry.ID


@strawberry.input
class SlaPolicyInput:
    name: str = "default"
    priority: TicketPriority
    first_response_minutes: int
    resolution_minutes: int


@strawberry.input
class CreateSurveyInput:
    customer_id: strawberry.ID
    kind: SurveyKindEnum
    ticket_id: strawberry.ID | None = None
    related_type: str | None = None
    related_id: int | None = None


@strawberry.input
class ChurnOutcomeInput:
    customer_id: strawberry.ID
    outcome: str
