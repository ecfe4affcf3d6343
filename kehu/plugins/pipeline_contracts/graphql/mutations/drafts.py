"""Drafting a contract from a won opportunity."""

from typing import Any

import strawberry

from kehu.core.graphql.base import UserError, payload, pk_of
from kehu.core.graphql.types import composed
from kehu.plugins.pipeline_contracts import services
from kehu.plugins.pipeline_contracts.graphql.inputs import DraftContractInput
from kehu.plugins.pipeline_contracts.graphql.types import ContractRef


@strawberry.type
class DraftContractPayload:
    contract: ContractRef | None
    errors: list[UserError]


@strawberry.type
class BridgeMutation:
    @strawberry.mutation(
        description="Draft a contract from a won opportunity (its customer, "
        "owner, currency and line items)."
    )
    async def draft_contract_from_opportunity(
        self, info: strawberry.Info, input: DraftContractInput
    ) -> DraftContractPayload:
        async def work() -> Any:
            row = await services.draft_contract(
                info.context.actor, pk_of(input.opportunity_id, "Opportunity", "opportunityId")
            )
            return composed("Contract").from_row(row)

        return await payload(DraftContractPayload, "contract", work)
