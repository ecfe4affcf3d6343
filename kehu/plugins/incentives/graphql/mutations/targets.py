"""Target mutations: create, decompose, delete."""

import strawberry

from kehu.core.graphql.base import encode_id, pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.incentives.graphql.inputs import (
    DecomposeTargetInput,
    TargetInput,
    _target_data,
    _weights,
)
from kehu.plugins.incentives.graphql.types import IncentiveTarget
from kehu.plugins.incentives.services import targets as tg


@strawberry.type
class TargetMutations:
    @mutation(
        description="Create a target (incentive:manage).", payload="TargetPayload", field="target"
    )
    async def create_incentive_target(
        self, info: strawberry.Info, input: TargetInput
    ) -> IncentiveTarget:
        return IncentiveTarget.of(await tg.create_target(info.context.actor, _target_data(input)))

    @mutation(
        description="Split a target into sub-periods or team members; the "
        "parts sum exactly to the whole.",
        payload="TargetsPayload",
        field="targets",
    )
    async def decompose_incentive_target(
        self, info: strawberry.Info, input: DecomposeTargetInput
    ) -> list[IncentiveTarget]:
        rows = await tg.decompose(
            info.context.actor,
            pk_of(input.target_id, "IncentiveTarget", "targetId"),
            by=input.by,
            weights=_weights(input),
        )
        return [IncentiveTarget.of(r) for r in rows]

    @mutation(
        description="Delete a target and its decomposition.",
        payload="DeletedTargetPayload",
        field="deleted_id",
    )
    async def delete_incentive_target(
        self, info: strawberry.Info, target_id: strawberry.ID
    ) -> strawberry.ID:
        pk = await tg.delete_target(
            info.context.actor, pk_of(target_id, "IncentiveTarget", "targetId")
        )
        return encode_id("IncentiveTarget", pk)
