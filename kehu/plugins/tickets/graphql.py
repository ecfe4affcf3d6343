"""Tickets GraphQL: the ``Ticket`` node with its SLA clocks, messages and history; the
``tickets`` connection; fields on ``Customer`` (tickets, open count, satisfaction, churn
risk); metrics; mutations for the workflow, complaints, assignment, merging, SLA policies,
surveys and churn outcomes. Every relation goes through a DataLoader.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
"""

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.errors import NotFound
from kehu.core.graphql.base import (
    Node,
    UserError,
    connection,
    encode_id,
    enum_value,
    given,
    gql_enum,
    make_connection,
    payload,
    pk_of,
)
from kehu.core.services.common import load_json
from kehu.plugins.tickets.services import churn, common, escalation, metrics, slas, surveys, tickets
from kehu.plugins.tickets.services.common import config, tickets_by_ids
from kehu.plugins.tickets.sla import SlaClock as SlaClockValue
from kehu.plugins.tickets.tables import (
    Channel,
    Phase,
    Priority,
    Status,
    SurveyKind,
    TicketType,
)

CORE = "kehu.core.graphql.types"
CustomerRef = Annotated["Customer", strawberry.lazy(CORE)]  # noqa: F821
UserRef = Annotated["User", strawberry.lazy(CORE)]  # noqa: F821
TeamRef = Annotated["Team", strawberry.lazy(CORE)]  # noqa: F821
ContactRef = Annotated["Contact", strawberry.lazy(CORE)]  # noqa: F821
ActivityRef = Annotated["Activity", strawberry.lazy(CORE)]  # noqa: F821

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
class TicketMessage(Node):
    pk: strawberry.Private[int]
    author_pk: strawberry.Private[int | None]
    database_id: int
    body: str
    internal: bool
    from_customer: bool
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "TicketMessage":
        return cls(
            id=encode_id("TicketMessage", row["id"]),
            pk=row["id"],
            author_pk=row["author"],
            database_id=row["id"],
            body=row["body"],
            internal=row["internal"],
            from_customer=row["from_customer"],
            created_at=row["created_at"],
        )

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
class Survey(Node):
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

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Survey":
        return cls(
            id=encode_id("Survey", row["id"]),
            pk=row["id"],
            database_id=row["id"],
            kind=enum_value(SurveyKindEnum, row["kind"]),
            question=row["question"],
            score=row["score"],
            dimensions=load_json(row["dimensions"]),
            comment=row["comment"],
            answered_at=row["answered_at"],
            expires_at=row["expires_at"],
            created_at=row["created_at"],
        )


@strawberry.type(description="A service ticket (客户服务工单).")
class Ticket(Node):
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
    def from_row(cls, row: dict[str, Any]) -> "Ticket":
        return cls(
            id=encode_id("Ticket", row["id"]),
            pk=row["id"],
            customer_pk=row["customer"],
            contact_pk=row["contact"],
            assignee_pk=row["assignee"],
            team_pk=row["team"],
            merged_into_pk=row["merged_into"],
            database_id=row["id"],
            number=row["number"],
            subject=row["subject"],
            channel=enum_value(TicketChannel, row["channel"]),
            phase=enum_value(TicketPhase, row["phase"]),
            type=enum_value(TicketTypeEnum, row["type"]),
            priority=enum_value(TicketPriority, row["priority"]),
            status=enum_value(TicketStatus, row["status"]),
            complaint_category=row["complaint_category"],
            root_cause=row["root_cause"],
            corrective_action=row["corrective_action"],
            contract_id=row["contract_id"],
            first_responded_at=row["first_responded_at"],
            resolved_at=row["resolved_at"],
            closed_at=row["closed_at"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

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


# -- loaders ------------------------------------------------------------------------------


async def load_tickets(ctx: Any, keys: list[int]) -> list[Ticket | None]:
    rows = await tickets_by_ids(ctx.actor, keys)
    return [Ticket.from_row(rows[k]) if k in rows else None for k in keys]


async def load_sla(ctx: Any, keys: list[int]) -> list[TicketSla]:
    rows = await tickets_by_ids(ctx.actor, keys)
    found = await slas.sla_of(list(rows.values()))
    out = []
    for k in keys:
        s = found[k]
        out.append(
            TicketSla(
                policy=s.policy,
                first_response=SlaClock.of(s.first_response),
                resolution=SlaClock.of(s.resolution),
                breached=s.breached,
            )
        )
    return out


async def load_messages(ctx: Any, keys: list[int]) -> list[list[TicketMessage]]:
    found = await tickets.messages_of(ctx.actor, keys)
    return [[TicketMessage.from_row(r) for r in found[k]] for k in keys]


async def load_history(ctx: Any, keys: list[int]) -> list[list[TicketStatusChange]]:
    found = await common.histories(keys)
    return [
        [
            TicketStatusChange(
                from_status=enum_value(TicketStatus, r["from_status"]),
                to_status=enum_value(TicketStatus, r["to_status"]),
                at=r["at"],
                actor_pk=r["actor"],
            )
            for r in found[k]
        ]
        for k in keys
    ]


async def load_escalations(ctx: Any, keys: list[int]) -> list[list[TicketEscalation]]:
    found = await escalation.escalations_of(keys)
    return [
        [
            TicketEscalation(
                target=r["target"],
                step=r["step"],
                at=r["at"],
                notified_user_ids=load_json(r["notified"]) or [],
            )
            for r in found[k]
        ]
        for k in keys
    ]


async def load_surveys(ctx: Any, keys: list[int]) -> list[list[Survey]]:
    found = await surveys.surveys_of_tickets(keys)
    return [[Survey.from_row(r) for r in found[k]] for k in keys]


async def load_by_customer(ctx: Any, keys: list[tuple[int, int, bool]]) -> list[list[Ticket]]:
    groups: dict[tuple[int, bool], list[int]] = {}
    for customer_id, limit, open_only in keys:
        groups.setdefault((limit, open_only), []).append(customer_id)
    found = {
        g: await tickets.tickets_of_customers(ctx.actor, ids, g[0], g[1])
        for g, ids in groups.items()
    }
    return [[Ticket.from_row(r) for r in found[(limit, o)][cid]] for cid, limit, o in keys]


async def load_open_counts(ctx: Any, keys: list[int]) -> list[int]:
    found = await tickets.open_counts(ctx.actor, keys)
    return [found[k] for k in keys]


async def load_satisfaction(ctx: Any, keys: list[int]) -> list[CustomerSatisfaction]:
    found = await surveys.satisfaction_of(keys)
    return [
        CustomerSatisfaction(
            csat=found[k].csat,
            csat_responses=found[k].csat_responses,
            nps=found[k].nps,
            nps_responses=found[k].nps_responses,
        )
        for k in keys
    ]


async def load_churn(ctx: Any, keys: list[int]) -> list[ChurnRisk]:
    found = await churn.risks(keys)
    return [ChurnRisk.of(found[k]) for k in keys]


async def load_churn_alerts(ctx: Any, keys: list[int]) -> list[ChurnAlert | None]:
    found = await churn.open_alerts(keys)
    return [
        ChurnAlert(
            score=a["score"],
            raised_at=a["raised_at"],
            signals=load_json(a["signals"]),
            activity_pk=a["activity_id"],
        )
        if (a := found.get(k))
        else None
        for k in keys
    ]


LOADERS = {
    "tickets_ticket": load_tickets,
    "tickets_sla": load_sla,
    "tickets_messages": load_messages,
    "tickets_history": load_history,
    "tickets_escalations": load_escalations,
    "tickets_surveys": load_surveys,
    "tickets_by_customer": load_by_customer,
    "tickets_open_count": load_open_counts,
    "tickets_satisfaction": load_satisfaction,
    "tickets_churn": load_churn,
    "tickets_churn_alert": load_churn_alerts,
}


# -- queries ------------------------------------------------------------------------------


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


@strawberry.type
class TicketsQuery:
    @strawberry.field
    async def ticket(self, info: strawberry.Info, id: strawberry.ID) -> Ticket:
        found = await info.context.loader("tickets_ticket").load(pk_of(id, "Ticket"))
        if found is None:
            raise NotFound(f"Ticket {id} not found")
        return found

    @strawberry.field(description="Tickets you may see, newest first (first ≤ 100).")
    async def tickets(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        filter: TicketFilter | None = None,
    ) -> TicketConnection:
        actor = info.context.actor
        f = (filter or TicketFilter()).to_filter()
        page = await tickets.list_tickets(actor, f, first=first, after=after)
        conn = make_connection(
            "Ticket", page, Ticket.from_row, lambda: tickets.count_tickets(actor, f)
        )
        loader = info.context.loader("tickets_ticket")
        for node in conn.nodes:
            loader.prime(node.pk, node)
        return conn

    @strawberry.field(description="SLA targets per policy and priority.")
    async def sla_policies(self, info: strawberry.Info) -> list[SlaPolicyTarget]:
        return [_policy(p) for p in await slas.list_policies(info.context.actor)]

    @strawberry.field(description="The complaint taxonomy (settings).")
    async def complaint_categories(self, info: strawberry.Info) -> list[str]:
        info.context.actor.require("ticket:read")
        return list(config().complaint_categories)

    @strawberry.field(description="Service metrics of tickets created in [since, until).")
    async def ticket_metrics(
        self,
        info: strawberry.Info,
        since: dt.datetime,
        until: dt.datetime | None = None,
        team_id: strawberry.ID | None = None,
    ) -> TicketMetrics:
        m = await metrics.ticket_metrics(
            info.context.actor, since, until, team_id=pk_of(team_id, "Team", "teamId")
        )
        return TicketMetrics(
            created=m.created,
            resolved=m.resolved,
            resolution_rate=m.resolution_rate,
            avg_first_response_seconds=m.avg_first_response_seconds,
            avg_resolution_seconds=m.avg_resolution_seconds,
            sla_compliance=m.sla_compliance,
            breached=m.breached,
            backlog=m.backlog,
            csat=m.csat,
            csat_responses=m.csat_responses,
            nps=m.nps,
            nps_responses=m.nps_responses,
            complaints_by_category=[
                ComplaintCount(category=k, count=v)
                for k, v in sorted(m.complaints_by_category.items())
            ],
        )


# -- mutations ----------------------------------------------------------------------------


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


@strawberry.type
class TicketPayload:
    ticket: Ticket | None
    errors: list[UserError]


@strawberry.type
class TicketMessagePayload:
    message: TicketMessage | None
    errors: list[UserError]


@strawberry.type
class SlaPolicyPayload:
    policy: SlaPolicyTarget | None
    errors: list[UserError]


@strawberry.type
class SurveyCreated:
    survey: Survey
    token: str = strawberry.field(description="Shown once: the link is /surveys/{token}.")


@strawberry.type
class SurveyPayload:
    created: SurveyCreated | None
    errors: list[UserError]


@strawberry.type
class ChurnOutcomePayload:
    outcome: str | None
    errors: list[UserError]


def _tid(value: Any, field: str = "id") -> int:
    return pk_of(value, "Ticket", field)


async def _ticket(work: Any) -> TicketPayload:
    async def run() -> Ticket:
        return Ticket.from_row(await work())

    return await payload(TicketPayload, "ticket", run)


@strawberry.type
class TicketsMutation:
    @strawberry.mutation(description="Open a ticket (scope ticket:write).")
    async def create_ticket(self, info: strawberry.Info, input: CreateTicketInput) -> TicketPayload:
        def work() -> Any:
            data = given(
                input,
                (
                    "subject",
                    "channel",
                    "phase",
                    "type",
                    "priority",
                    "complaint_category",
                    "body",
                    "contract_id",
                ),
            )
            data = {k: v for k, v in data.items() if v is not None}
            data["contact"] = pk_of(input.contact_id, "Contact", "contactId")
            data["assignee"] = pk_of(input.assignee_id, "User", "assigneeId")
            data["team"] = pk_of(input.team_id, "Team", "teamId")
            return tickets.create_ticket(
                info.context.actor, pk_of(input.customer_id, "Customer", "customerId"), data
            )

        return await _ticket(work)

    @strawberry.mutation
    async def update_ticket(self, info: strawberry.Info, input: UpdateTicketInput) -> TicketPayload:
        def work() -> Any:
            data = {
                k: v
                for k, v in given(
                    input, ("subject", "priority", "phase", "type", "channel")
                ).items()
                if v is not None
            }
            return tickets.update_ticket(
                info.context.actor, _tid(input.id), data, expected_version=input.expected_version
            )

        return await _ticket(work)

    @strawberry.mutation(description="Move along the workflow; illegal moves are errors.")
    async def change_ticket_status(
        self, info: strawberry.Info, input: TicketStatusInput
    ) -> TicketPayload:
        return await _ticket(
            lambda: tickets.change_status(
                info.context.actor,
                _tid(input.id),
                input.status.value,
                expected_version=input.expected_version,
            )
        )

    @strawberry.mutation(description="Reopen a resolved or closed ticket.")
    async def reopen_ticket(self, info: strawberry.Info, input: TicketIdInput) -> TicketPayload:
        return await _ticket(lambda: tickets.reopen_ticket(info.context.actor, _tid(input.id)))

    @strawberry.mutation(description="Assign by hand (ticket:assign) or automatically.")
    async def assign_ticket(self, info: strawberry.Info, input: AssignTicketInput) -> TicketPayload:
        return await _ticket(
            lambda: tickets.assign_ticket(
                info.context.actor,
                _tid(input.id),
                pk_of(input.assignee_id, "User", "assigneeId"),
                auto=input.auto,
                team_id=pk_of(input.team_id, "Team", "teamId"),
                expected_version=input.expected_version,
            )
        )

    @strawberry.mutation(description="Public reply, internal note or customer message.")
    async def add_ticket_message(
        self, info: strawberry.Info, input: TicketMessageInput
    ) -> TicketMessagePayload:
        async def work() -> TicketMessage:
            _, message = await tickets.add_message(
                info.context.actor,
                _tid(input.ticket_id, "ticketId"),
                input.body,
                internal=input.internal,
                from_customer=input.from_customer,
            )
            return TicketMessage.from_row(message)

        return await payload(TicketMessagePayload, "message", work)

    @strawberry.mutation(description="Category, root cause and corrective action.")
    async def update_complaint(self, info: strawberry.Info, input: ComplaintInput) -> TicketPayload:
        return await _ticket(
            lambda: tickets.update_complaint(
                info.context.actor,
                _tid(input.id),
                given(input, ("complaint_category", "root_cause", "corrective_action")),
                expected_version=input.expected_version,
            )
        )

    @strawberry.mutation(description="Merge a duplicate into the survivor (messages move).")
    async def merge_tickets(self, info: strawberry.Info, input: MergeTicketsInput) -> TicketPayload:
        return await _ticket(
            lambda: tickets.merge_tickets(
                info.context.actor,
                _tid(input.survivor_id, "survivorId"),
                _tid(input.duplicate_id, "duplicateId"),
            )
        )

    @strawberry.mutation(description="Set a policy's targets (ticket:sla); deadlines follow.")
    async def set_sla_policy(
        self, info: strawberry.Info, input: SlaPolicyInput
    ) -> SlaPolicyPayload:
        async def work() -> SlaPolicyTarget:
            row = await slas.set_policy(
                info.context.actor,
                input.name,
                input.priority.value,
                input.first_response_minutes,
                input.resolution_minutes,
            )
            return SlaPolicyTarget(
                policy=row["name"],
                priority=enum_value(TicketPriority, row["priority"]),
                first_response_minutes=row["first_response_minutes"],
                resolution_minutes=row["resolution_minutes"],
                source="policy",
            )

        return await payload(SlaPolicyPayload, "policy", work)

    @strawberry.mutation(description="Create a survey; the token is returned once.")
    async def create_survey(self, info: strawberry.Info, input: CreateSurveyInput) -> SurveyPayload:
        async def work() -> SurveyCreated:
            actor = info.context.actor
            actor.require("survey:create")
            ticket_id = pk_of(input.ticket_id, "Ticket", "ticketId")
            if ticket_id is not None:
                await tickets.get_ticket(actor, ticket_id)
            row, token = await surveys.create_survey(
                actor,
                pk_of(input.customer_id, "Customer", "customerId"),
                input.kind.value,
                ticket_id=ticket_id,
                related_type=input.related_type,
                related_id=input.related_id,
            )
            return SurveyCreated(survey=Survey.from_row(row), token=token)

        return await payload(SurveyPayload, "created", work)

    @strawberry.mutation(description="Record a churn intervention's outcome (closes the alert).")
    async def record_churn_outcome(
        self, info: strawberry.Info, input: ChurnOutcomeInput
    ) -> ChurnOutcomePayload:
        async def work() -> str:
            row = await churn.record_outcome(
                info.context.actor,
                pk_of(input.customer_id, "Customer", "customerId"),
                input.outcome,
            )
            return row["outcome"]

        return await payload(ChurnOutcomePayload, "outcome", work)


TYPES = [Ticket]
