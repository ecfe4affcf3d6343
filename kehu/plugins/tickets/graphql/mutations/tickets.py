"""Ticket mutations: create, update, status, reopen, assign, messages, complaints, merge."""

import strawberry

from kehu.core.graphql.base import given, pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.tickets.graphql.inputs import (
    AssignTicketInput,
    ComplaintInput,
    CreateTicketInput,
    MergeTicketsInput,
    TicketIdInput,
    TicketMessageInput,
    TicketStatusInput,
    UpdateTicketInput,
)
from kehu.plugins.tickets.graphql.mutations.common import _tid
from kehu.plugins.tickets.graphql.types import Ticket, TicketMessage
from kehu.plugins.tickets.services import tickets


@strawberry.type
class TicketMutations:
    @mutation(description="Open a ticket (scope ticket:write).")
    async def create_ticket(self, info: strawberry.Info, input: CreateTicketInput) -> Ticket:
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
        return Ticket.from_row(
            await tickets.create_ticket(
                info.context.actor, pk_of(input.customer_id, "Customer", "customerId"), data
            )
        )

    @mutation
    async def update_ticket(self, info: strawberry.Info, input: UpdateTicketInput) -> Ticket:
        data = {
            k: v
            for k, v in given(input, ("subject", "priority", "phase", "type", "channel")).items()
            if v is not None
        }
        return Ticket.from_row(
            await tickets.update_ticket(
                info.context.actor, _tid(input.id), data, expected_version=input.expected_version
            )
        )

    @mutation(description="Move along the workflow; illegal moves are errors.")
    async def change_ticket_status(self, info: strawberry.Info, input: TicketStatusInput) -> Ticket:
        return Ticket.from_row(
            await tickets.change_status(
                info.context.actor,
                _tid(input.id),
                input.status.value,
                expected_version=input.expected_version,
            )
        )

    @mutation(description="Reopen a resolved or closed ticket.")
    async def reopen_ticket(self, info: strawberry.Info, input: TicketIdInput) -> Ticket:
        return Ticket.from_row(await tickets.reopen_ticket(info.context.actor, _tid(input.id)))

    @mutation(description="Assign by hand (ticket:assign) or automatically.")
    async def assign_ticket(self, info: strawberry.Info, input: AssignTicketInput) -> Ticket:
        return Ticket.from_row(
            await tickets.assign_ticket(
                info.context.actor,
                _tid(input.id),
                pk_of(input.assignee_id, "User", "assigneeId"),
                auto=input.auto,
                team_id=pk_of(input.team_id, "Team", "teamId"),
                expected_version=input.expected_version,
            )
        )

    @mutation(
        description="Public reply, internal note or customer message.",
        payload="TicketMessagePayload",
        field="message",
    )
    async def add_ticket_message(
        self, info: strawberry.Info, input: TicketMessageInput
    ) -> TicketMessage:
        _, message = await tickets.add_message(
            info.context.actor,
            _tid(input.ticket_id, "ticketId"),
            input.body,
            internal=input.internal,
            from_customer=input.from_customer,
        )
        return TicketMessage.from_row(message)

    @mutation(description="Category, root cause and corrective action.")
    async def update_complaint(self, info: strawberry.Info, input: ComplaintInput) -> Ticket:
        return Ticket.from_row(
            await tickets.update_complaint(
                info.context.actor,
                _tid(input.id),
                given(input, ("complaint_category", "root_cause", "corrective_action")),
                expected_version=input.expected_version,
            )
        )

    @mutation(description="Merge a duplicate into the survivor (messages move).")
    async def merge_tickets(self, info: strawberry.Info, input: MergeTicketsInput) -> Ticket:
        return Ticket.from_row(
            await tickets.merge_tickets(
                info.context.actor,
                _tid(input.survivor_id, "survivorId"),
                _tid(input.duplicate_id, "duplicateId"),
            )
        )
