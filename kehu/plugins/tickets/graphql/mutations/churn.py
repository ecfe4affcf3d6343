"""Churn outcome mutation."""

import strawberry

from kehu.core.graphql.base import (
    payload,
    pk_of,
)
from kehu.plugins.tickets.graphql.inputs import ChurnOutcomeInput
from kehu.plugins.tickets.graphql.mutations.common import ChurnOutcomePayload
from kehu.plugins.tickets.services import churn


@strawberry.type
class ChurnMutations:
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
