"""Mutations of a contract under execution: milestones, disputes and amendments."""

import strawberry

from kehu.core.graphql.base import (
    payload,
)
from kehu.plugins.contracts import services
from kehu.plugins.contracts.graphql.inputs import (
    AddMilestoneInput,
    CompleteMilestoneInput,
    DecideAmendmentInput,
    OpenDisputeInput,
    RequestAmendmentInput,
    ResolveDisputeInput,
)
from kehu.plugins.contracts.graphql.mutations.common import (
    AmendmentPayload,
    DisputePayload,
    MilestonePayload,
    _cid,
)
from kehu.plugins.contracts.graphql.types import AmendmentType, DisputeType, MilestoneType


@strawberry.type
class ExecutionMutations:
    @strawberry.mutation
    async def add_contract_milestone(
        self, info: strawberry.Info, input: AddMilestoneInput
    ) -> MilestonePayload:
        actor = info.context.actor

        async def work() -> MilestoneType:
            return MilestoneType.from_row(
                await services.add_milestone(
                    actor,
                    _cid(input.contract_id, "contractId"),
                    input.kind.value,
                    input.title,
                    input.due_date,
                )
            )

        return await payload(MilestonePayload, "milestone", work)

    @strawberry.mutation
    async def complete_contract_milestone(
        self, info: strawberry.Info, input: CompleteMilestoneInput
    ) -> MilestonePayload:
        actor = info.context.actor

        async def work() -> MilestoneType:
            return MilestoneType.from_row(
                await services.complete_milestone(actor, input.milestone_id, input.completed_on)
            )

        return await payload(MilestonePayload, "milestone", work)

    @strawberry.mutation(description="Record a dispute; the contract becomes DISPUTED.")
    async def open_contract_dispute(
        self, info: strawberry.Info, input: OpenDisputeInput
    ) -> DisputePayload:
        actor = info.context.actor

        async def work() -> DisputeType:
            return DisputeType.from_row(
                await services.open_dispute(
                    actor,
                    _cid(input.contract_id, "contractId"),
                    kind=input.kind,
                    description=input.description,
                    amount=input.amount.to_value() if input.amount else None,
                    legal_involved=input.legal_involved,
                )
            )

        return await payload(DisputePayload, "dispute", work)

    @strawberry.mutation
    async def resolve_contract_dispute(
        self, info: strawberry.Info, input: ResolveDisputeInput
    ) -> DisputePayload:
        actor = info.context.actor

        async def work() -> DisputeType:
            return DisputeType.from_row(
                await services.resolve_dispute(
                    actor, input.dispute_id, input.resolution, legal_involved=input.legal_involved
                )
            )

        return await payload(DisputePayload, "dispute", work)

    @strawberry.mutation(description="Propose a supplementary agreement (补充协议).")
    async def request_contract_amendment(
        self, info: strawberry.Info, input: RequestAmendmentInput
    ) -> AmendmentPayload:
        actor = info.context.actor

        async def work() -> AmendmentType:
            return AmendmentType.from_row(
                await services.request_amendment(
                    actor,
                    _cid(input.contract_id, "contractId"),
                    input.changes.to_data(),
                    input.reason,
                )
            )

        return await payload(AmendmentPayload, "amendment", work)

    @strawberry.mutation(description="Approve (apply, new version) or reject an amendment.")
    async def decide_contract_amendment(
        self, info: strawberry.Info, input: DecideAmendmentInput
    ) -> AmendmentPayload:
        actor = info.context.actor

        async def work() -> AmendmentType:
            return AmendmentType.from_row(
                await services.decide_amendment(
                    actor, input.amendment_id, input.approve, input.comment
                )
            )

        return await payload(AmendmentPayload, "amendment", work)
