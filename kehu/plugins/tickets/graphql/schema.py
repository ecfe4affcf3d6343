"""Tickets GraphQL, table of contents: the root queries (tickets, SLA policies, metrics) and
what ``plugin.py`` hands to Kehu."""

import datetime as dt

import strawberry

from kehu.core.errors import NotFound
from kehu.core.graphql.base import make_connection, pk_of
from kehu.plugins.tickets.graphql.inputs import TicketFilter
from kehu.plugins.tickets.graphql.loaders import LOADERS
from kehu.plugins.tickets.graphql.mutations.churn import ChurnMutations
from kehu.plugins.tickets.graphql.mutations.slas import SlaMutations
from kehu.plugins.tickets.graphql.mutations.surveys import SurveyMutations
from kehu.plugins.tickets.graphql.mutations.tickets import TicketMutations
from kehu.plugins.tickets.graphql.reports import (
    ComplaintCount,
    SlaPolicyTarget,
    TicketMetrics,
    _policy,
)
from kehu.plugins.tickets.graphql.types import CustomerTickets, Ticket, TicketConnection
from kehu.plugins.tickets.services import metrics, slas, tickets
from kehu.plugins.tickets.services.common import config


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


NODE_TYPES = [Ticket]

QUERIES = [TicketsQuery]
MUTATIONS = [TicketMutations, SlaMutations, SurveyMutations, ChurnMutations]
TYPE_EXTENSIONS = {"Customer": [CustomerTickets]}
__all__ = ["LOADERS", "MUTATIONS", "NODE_TYPES", "QUERIES", "TYPE_EXTENSIONS", "TicketsQuery"]
