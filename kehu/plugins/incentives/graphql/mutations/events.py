"""Incentive event mutations: propose, decide."""

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.incentives.graphql.inputs import DecideIncentiveEventInput, IncentiveEventInput
from kehu.plugins.incentives.graphql.types import IncentiveEventType
from kehu.plugins.incentives.services import events


@strawberry.type
class IncentiveEventMutations:
    @mutation(
        description="Propose a bonus, allowance, honour or penalty.",
        payload="IncentiveEventPayload",
        field="event",
    )
    async def propose_incentive_event(
        self, info: strawberry.Info, input: IncentiveEventInput
    ) -> IncentiveEventType:
        row = await events.propose(
            info.context.actor,
            {
                "kind": input.kind.value,
                "subtype": input.subtype,
                "user": pk_of(input.user_id, "User", "userId"),
                "period": input.period,
                "reason": input.reason,
                "idempotency_key": input.idempotency_key,
                "amount": input.amount.to_value() if input.amount else None,
            },
        )
        return IncentiveEventType.of(row)

    @mutation(
        description="Approve or reject an incentive event (a manager).",
        payload="IncentiveEventPayload",
        field="event",
    )
    async def decide_incentive_event(
        self, info: strawberry.Info, input: DecideIncentiveEventInput
    ) -> IncentiveEventType:
        row = await events.decide(
            info.context.actor,
            pk_of(input.id, "IncentiveEvent", "id"),
            input.approve,
            input.note or "",
        )
        return IncentiveEventType.of(row)
