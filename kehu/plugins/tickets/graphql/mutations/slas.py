"""SLA policy mutation."""

import strawberry

from kehu.core.graphql.base import enum_value
from kehu.core.graphql.mutations import mutation
from kehu.plugins.tickets.graphql.inputs import SlaPolicyInput
from kehu.plugins.tickets.graphql.reports import SlaPolicyTarget
from kehu.plugins.tickets.graphql.types import TicketPriority
from kehu.plugins.tickets.services import slas


@strawberry.type
class SlaMutations:
    @mutation(
        description="Set a policy's targets (ticket:sla); deadlines follow.",
        payload="SlaPolicyPayload",
        field="policy",
    )
    async def set_sla_policy(self, info: strawberry.Info, input: SlaPolicyInput) -> SlaPolicyTarget:
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
