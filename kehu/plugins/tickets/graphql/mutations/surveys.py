"""Satisfaction survey mutation."""

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.tickets.graphql.inputs import CreateSurveyInput
from kehu.plugins.tickets.graphql.mutations.common import SurveyCreated
from kehu.plugins.tickets.graphql.types import Survey
from kehu.plugins.tickets.services import surveys, tickets


@strawberry.type
class SurveyMutations:
    @mutation(
        description="Create a survey; the token is returned once.",
        payload="SurveyPayload",
        field="created",
    )
    async def create_survey(self, info: strawberry.Info, input: CreateSurveyInput) -> SurveyCreated:
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
