"""Churn outcome mutation."""

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.tickets.graphql.inputs import ChurnOutcomeInput
from kehu.plugins.tickets.services import churn


@strawberry.type
class ChurnMutations:
    @mutation(
        description="Record a churn intervention's outcome (closes the alert).",
        payload="ChurnOutcomePayload",
        field="outcome",
    )
    async def record_churn_outcome(self, info: strawberry.Info, input: ChurnOutcomeInput) -> str:
        row = await churn.record_outcome(
            info.context.actor,
            pk_of(input.customer_id, "Customer", "customerId"),
            input.outcome,
        )
        return row["outcome"]
