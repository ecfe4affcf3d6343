"""Tickets GraphQL output types: ``Ticket`` with its SLA clocks, messages, status history,
escalations and surveys, and what tickets adds to ``Customer`` (tickets, satisfaction, churn).

No ``from __future__ import annotations``: Strawberry reads these annotations at startup."""

import datetime as dt

import strawberry
from strawberry.scalars import JSON

from kehu.core.graphql.base import Node, connection, gql_enum
from kehu.core.graphql.rows import RowType
from kehu.core.graphql.types import ActivityRef, ContactRef, CustomerRef, TeamRef, UserRef
from kehu.plugins.tickets.services import churn
from kehu.plugins.tickets.services.clocks import SlaClock as SlaClockValue
from kehu.plugins.tickets.tables import Channel, Phase, Priority, Status, SurveyKind, TicketType

TicketChannel = gql_enum(Channel, "TicketChannel")

TicketPhase = gql_enum(
    Phase, "TicketPhase", "pre-sale 售前, in-sale 售中, after-sale 售后, care 关怀"
)

TicketTypeEnum = gql_enum(TicketType, "TicketType")

TicketPriority = gql_enum(Priority, "TicketPriority")

TicketStatus = gql_enum(
    Status, "TicketStatus", "new → open → pending customer (SLA paused) → resolved → closed"
)

SurveyKindEnum = gql_enum(SurveyKind, "SurveyKind", "CSAT (1–5) or NPS (0–10)")


@strawberry.type(description="One SLA target measured on a ticket (business time).")
class SlaClock:
    target_seconds: int
    due_at: dt.datetime | None = strawberry.field(description="Null while the clock is paused.")
    elapsed_seconds: int
    remaining_seconds: int
    breached: bool
    paused: bool
    met_at: dt.datetime | None

    @classmethod
    def of(cls, c: SlaClockValue) -> "SlaClock":
        return cls(
            target_seconds=int(c.target.total_seconds()),
            due_at=c.due_at,
            elapsed_seconds=int(c.elapsed.total_seconds()),
            remaining_seconds=int(c.remaining.total_seconds()),
            breached=c.breached,
            paused=c.paused,
            met_at=c.met_at,
        )


@strawberry.type(description="A ticket's SLA clocks, computed from its status history.")
class TicketSla:
    policy: str
    first_response: SlaClock
    resolution: SlaClock
    breached: bool


@strawberry.type(description="A message on a ticket: public reply, internal note or inbound.")
class TicketMessage(RowType, Node):
    pk: strawberry.Private[int]
    author_pk: strawberry.Private[int | None]
    database_id: int
    body: str
    internal: bool
    from_customer: bool
    created_at: dt.datetime

    @strawberry.field
    async def author(self, info: strawberry.Info) -> UserRef | None:
        return (
            None
            if self.author_pk is None
            else await info.context.loader("user").load(self.author_pk)
        )


@strawberry.type(description="A status change (from, to, by, at).")
class TicketStatusChange:
    from_status: TicketStatus | None
    to_status: TicketStatus
    at: dt.datetime
    actor_pk: strawberry.Private[int | None]

    @strawberry.field
    async def actor(self, info: strawberry.Info) -> UserRef | None:
        return (
            None if self.actor_pk is None else await info.context.loader("user").load(self.actor_pk)
        )


@strawberry.type(description="A reminder or escalation the SLA check did.")
class TicketEscalation:
    target: str
    step: str
    at: dt.datetime
    notified_user_ids: list[int]


@strawberry.type(description="A satisfaction survey (CSAT or NPS).")
class Survey(RowType, Node):
    pk: strawberry.Private[int]
    database_id: int
    kind: SurveyKindEnum
    question: str
    score: int | None
    dimensions: JSON
    comment: str
    answered_at: dt.datetime | None
    expires_at: dt.datetime
    created_at: dt.datetime


@strawberry.type(description="A service ticket (客户服务工单).")
class Ticket(RowType, Node):
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    contact_pk: strawberry.Private[int | None]
    assignee_pk: strawberry.Private[int | None]
    team_pk: strawberry.Private[int | None]
    merged_into_pk: strawberry.Private[int | None]
    database_id: int
    number: str
    subject: str
    channel: TicketChannel
    phase: TicketPhase
    type: TicketTypeEnum
    priority: TicketPriority
    status: TicketStatus
    complaint_category: str | None
    root_cause: str
    corrective_action: str
    contract_id: int | None
    first_responded_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> "Ticket | None":
        return await info.context.loader("tickets_ticket").load(pk)

    @strawberry.field(description="Null when the ticket is visible but the customer is not.")
    async def customer(self, info: strawberry.Info) -> CustomerRef | None:
        return await info.context.loader("customer").load(self.customer_pk)

    @strawberry.field
    async def contact(self, info: strawberry.Info) -> ContactRef | None:
        return (
            None
            if self.contact_pk is None
            else await info.context.loader("contact").load(self.contact_pk)
        )

    @strawberry.field
    async def assignee(self, info: strawberry.Info) -> UserRef | None:
        return (
            None
            if self.assignee_pk is None
            else await info.context.loader("user").load(self.assignee_pk)
        )

    @strawberry.field
    async def team(self, info: strawberry.Info) -> TeamRef | None:
        return (
            None if self.team_pk is None else await info.context.loader("team").load(self.team_pk)
        )

    @strawberry.field
    async def merged_into(self, info: strawberry.Info) -> "Ticket | None":
        if self.merged_into_pk is None:
            return None
        return await info.context.loader("tickets_ticket").load(self.merged_into_pk)

    @strawberry.field(description="Due times, elapsed/remaining business time, breach flags.")
    async def sla(self, info: strawberry.Info) -> TicketSla:
        return await info.context.loader("tickets_sla").load(self.pk)

    @strawberry.field(description="Oldest first; internal notes only for ticket:write.")
    async def messages(self, info: strawberry.Info) -> list[TicketMessage]:
        return await info.context.loader("tickets_messages").load(self.pk)

    @strawberry.field(description="Every status change, oldest first.")
    async def status_history(self, info: strawberry.Info) -> list[TicketStatusChange]:
        return await info.context.loader("tickets_history").load(self.pk)

    @strawberry.field
    async def escalations(self, info: strawberry.Info) -> list[TicketEscalation]:
        return await info.context.loader("tickets_escalations").load(self.pk)

    @strawberry.field
    async def surveys(self, info: strawberry.Info) -> list[Survey]:
        return await info.context.loader("tickets_surveys").load(self.pk)


TicketConnection = connection("Ticket", Ticket)


@strawberry.type
class CustomerSatisfaction:
    csat: float | None = strawberry.field(description="% satisfied (4–5) of CSAT answers.")
    csat_responses: int
    nps: int | None = strawberry.field(description="Promoters − detractors, % of answers.")
    nps_responses: int


@strawberry.type
class ChurnSignal:
    source: str
    reason: str
    weight: float
    score: float
    points: float


@strawberry.type(description="Churn risk 0–100 from the signals plugins contribute.")
class ChurnRisk:
    score: int
    signals: list[ChurnSignal]

    @classmethod
    def of(cls, risk: churn.ChurnRisk) -> "ChurnRisk":
        return cls(
            score=risk.score,
            signals=[
                ChurnSignal(
                    source=s.source,
                    reason=s.reason,
                    weight=s.weight,
                    score=s.score,
                    points=round(s.points, 2),
                )
                for s in risk.signals
            ],
        )


@strawberry.type(description="An open churn early-warning alert (one per customer at most).")
class ChurnAlert:
    score: int
    raised_at: dt.datetime
    signals: JSON
    activity_pk: strawberry.Private[int | None]

    @strawberry.field(description="The intervention task for the account manager.")
    async def task(self, info: strawberry.Info) -> ActivityRef | None:
        if self.activity_pk is None:
            return None
        return await info.context.loader("activity").load(self.activity_pk)


@strawberry.type(description="Ticket fields added to Customer by the tickets plugin.")
class CustomerTickets:
    @strawberry.field(description="Newest tickets you may see (batched: safe inside lists).")
    async def tickets(
        self, info: strawberry.Info, first: int = 20, open_only: bool = False
    ) -> list[Ticket]:
        info.context.actor.require("ticket:read")
        first = max(1, min(first, 100))
        return await info.context.loader("tickets_by_customer").load((self.pk, first, open_only))

    @strawberry.field(description="New, open and pending-customer tickets you may see.")
    async def open_ticket_count(self, info: strawberry.Info) -> int:
        info.context.actor.require("ticket:read")
        return await info.context.loader("tickets_open_count").load(self.pk)

    @strawberry.field(description="CSAT % and NPS from answered surveys.")
    async def satisfaction(self, info: strawberry.Info) -> CustomerSatisfaction:
        info.context.actor.require("ticket:read")
        return await info.context.loader("tickets_satisfaction").load(self.pk)

    @strawberry.field(description="Churn early-warning risk and its contributing signals.")
    async def churn_risk(self, info: strawberry.Info) -> ChurnRisk:
        info.context.actor.require("ticket:read")
        return await info.context.loader("tickets_churn").load(self.pk)

    @strawberry.field(description="The open churn alert, if any (recordChurnOutcome closes it).")
    async def churn_alert(self, info: strawberry.Info) -> ChurnAlert | None:
        info.context.actor.require("ticket:read")
        return await info.context.loader("tickets_churn_alert").load(self.pk)
