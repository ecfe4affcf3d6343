"""Drafting a contract from a won opportunity."""

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.core.graphql.types import composed
from kehu.plugins.pipeline_contracts import services
from kehu.plugins.pipeline_contracts.graphql.inputs import DraftContractInput
from kehu.plugins.pipeline_contracts.graphql.types import ContractRef


@strawberry.type
class BridgeMutation:
    @mutation(
        description="Draft a contract from a won opportunity (its customer, "
        "owner, currency and line items).",
        payload="DraftContractPayload",
        field="contract",
    )
    async def draft_contract_from_opportunity(
        self, info: strawberry.Info, input: DraftContractInput
    ) -> ContractRef:
        row = await services.draft_contract(
            info.context.actor, pk_of(input.opportunity_id, "Opportunity", "opportunityId")
        )
        return composed("Contract").from_row(row)
