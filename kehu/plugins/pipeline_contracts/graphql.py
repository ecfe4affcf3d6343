"""``Opportunity.contracts``, ``Contract.sourceOpportunity`` and
``draftContractFromOpportunity``.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
"""

from typing import Annotated, Any

import strawberry

from kehu.core.graphql.base import UserError, payload, pk_of
from kehu.core.graphql.types import composed
from kehu.plugins.pipeline_contracts import services

ContractRef = Annotated["Contract", strawberry.lazy("kehu.plugins.contracts.graphql.types")]  # noqa: F821
OpportunityRef = Annotated[
    "Opportunity", strawberry.lazy("kehu.plugins.pipeline.graphql.types")  # noqa: F821
]


async def load_contracts_of(ctx: Any, keys: list[int]) -> list[list[Any]]:
    found = await services.contracts_of(ctx.actor, keys)
    make = composed("Contract").from_row
    return [[make(row) for row in found[k]] for k in keys]


async def load_source_opportunity(ctx: Any, keys: list[int]) -> list[int | None]:
    found = await services.source_opportunities(keys)
    return [found.get(k) for k in keys]


LOADERS = {
    "bridge_contracts_of_opportunity": load_contracts_of,
    "bridge_source_opportunity": load_source_opportunity,
}


@strawberry.type
class OpportunityContracts:
    @strawberry.field(description="Contracts drafted from this opportunity.")
    async def contracts(self, info: strawberry.Info) -> list[ContractRef]:
        return await info.context.loader("bridge_contracts_of_opportunity").load(self.pk)


@strawberry.type
class ContractSourceOpportunity:
    @strawberry.field(description="The opportunity this contract was drafted from.")
    async def source_opportunity(self, info: strawberry.Info) -> OpportunityRef | None:
        opportunity_id = await info.context.loader("bridge_source_opportunity").load(self.pk)
        if opportunity_id is None:
            return None
        return await info.context.loader("pipeline_opportunity").load(opportunity_id)


@strawberry.input
class DraftContractInput:
    opportunity_id: strawberry.ID


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
