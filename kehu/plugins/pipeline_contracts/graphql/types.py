"""The fields the bridge adds: ``Opportunity.contracts`` and ``Contract.sourceOpportunity``."""

from typing import Annotated

import strawberry

ContractRef = Annotated["Contract", strawberry.lazy("kehu.plugins.contracts.graphql.types")]  # noqa: F821

OpportunityRef = Annotated[
    "Opportunity", strawberry.lazy("kehu.plugins.pipeline.graphql.types")  # noqa: F821
]


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
