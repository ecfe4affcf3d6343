"""Payload types and helpers the tickets mutations share."""

from typing import Any

import strawberry

from kehu.core.graphql.base import (
    UserError,
    payload,
    pk_of,
)
from kehu.plugins.tickets.graphql.reports import SlaPolicyTarget
from kehu.plugins.tickets.graphql.types import Survey, Ticket, TicketMessage


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
