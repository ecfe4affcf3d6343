"""Mutations of a contract under execution: milestones, disputes and amendments."""

import strawberry

from kehu.core.graphql.mutations import mutation
from kehu.plugins.contracts import services
from kehu.plugins.contracts.graphql.inputs import (
    AddMilestoneInput,
    CompleteMilestoneInput,
    DecideAmendmentInput,
    OpenDisputeInput,
    RequestAmendmentInput,
    ResolveDisputeInput,
)
from kehu.plugins.contracts.graphql.mutations.common import _cid
from kehu.plugins.contracts.graphql.types import AmendmentType, DisputeType, MilestoneType


@strawberry.type
class ExecutionMutations:
    @mutation(payload="MilestonePayload", field="milestone")
    async def add_contract_milestone(
        self, info: strawberry.Info, input: AddMilestoneInput
    ) -> MilestoneType:
        actor = info.context.actor
        return MilestoneType.from_row(
            await services.add_milestone(
                actor,
                _cid(input.contract_id, "contractId"),
                input.kind.value,
                input.title,
                input.due_date,
            )
        )

    @mutation(payload="MilestonePayload", field="milestone")
    async def complete_contract_milestone(
        self, info: strawberry.Info, input: CompleteMilestoneInput
    ) -> MilestoneType:
        actor = info.context.actor
        return MilestoneType.from_row(
            await services.complete_milestone(actor, input.milestone_id, input.completed_on)
        )

    @mutation(
        description="Record a dispute; the contract becomes DISPUTED.",
        payload="DisputePayload",
        field="dispute",
    )
    async def open_contract_dispute(
        self, info: strawberry.Info, input: OpenDisputeInput
    ) -> DisputeType:
        actor = info.context.actor
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

    @mutation(payload="DisputePayload", field="dispute")
    async def resolve_contract_dispute(
        self, info: strawberry.Info, input: ResolveDisputeInput
    ) -> DisputeType:
        actor = info.context.actor
        return DisputeType.from_row(
            await services.resolve_dispute(
                actor, input.dispute_id, input.resolution, legal_involved=input.legal_involved
            )
        )

    @mutation(
        description="Propose a supplementary agreement (补充协议).",
        payload="AmendmentPayload",
        field="amendment",
    )
    async def request_contract_amendment(
        self, info: strawberry.Info, input: RequestAmendmentInput
    ) -> AmendmentType:
        actor = info.context.actor
        return AmendmentType.from_row(
            await services.request_amendment(
                actor,
                _cid(input.contract_id, "contractId"),
                input.changes.to_data(),
                input.reason,
            )
        )

    @mutation(
        description="Approve (apply, new version) or reject an amendment.",
        payload="AmendmentPayload",
        field="amendment",
    )
    async def decide_contract_amendment(
        self, info: strawberry.Info, input: DecideAmendmentInput
    ) -> AmendmentType:
        actor = info.context.actor
        return AmendmentType.from_row(
            await services.decide_amendment(actor, input.amendment_id, input.approve, input.comment)
        )
