"""Target mutations: create, decompose, delete."""

import strawberry

from kehu.core.graphql.base import (
    encode_id,
    payload,
    pk_of,
)
from kehu.plugins.incentives.graphql.inputs import (
    DecomposeTargetInput,
    TargetInput,
    _target_data,
    _weights,
)
from kehu.plugins.incentives.graphql.mutations.common import (
    DeletedTargetPayload,
    TargetPayload,
    TargetsPayload,
)
from kehu.plugins.incentives.graphql.types import IncentiveTarget
from kehu.plugins.incentives.services import targets as tg


@strawberry.type
class TargetMutations:
    @strawberry.mutation(description="Create a target (incentive:manage).")
    async def create_incentive_target(
        self, info: strawberry.Info, input: TargetInput
    ) -> TargetPayload:
        async def work() -> IncentiveTarget:
            return IncentiveTarget.of(
                await tg.create_target(info.context.actor, _target_data(input))
            )

        return await payload(TargetPayload, "target", work)

    @strawberry.mutation(
        description="Split a target into sub-periods or team members; the "
        "parts sum exactly to the whole."
    )
    async def decompose_incentive_target(
        self, info: strawberry.Info, input: DecomposeTargetInput
    ) -> TargetsPayload:
        async def work() -> list[IncentiveTarget]:
            rows = await tg.decompose(
                info.context.actor,
                pk_of(input.target_id, "IncentiveTarget", "targetId"),
                by=input.by,
                weights=_weights(input),
            )
            return [IncentiveTarget.of(r) for r in rows]

        return await payload(TargetsPayload, "targets", work)

    @strawberry.mutation(description="Delete a target and its decomposition.")
    async def delete_incentive_target(
        self, info: strawberry.Info, target_id: strawberry.ID
    ) -> DeletedTargetPayload:
        async def work() -> strawberry.ID:
            pk = await tg.delete_target(
                info.context.actor, pk_of(target_id, "IncentiveTarget", "targetId")
            )
            return encode_id("IncentiveTarget", pk)

        return await payload(DeletedTargetPayload, "deleted_id", work)
