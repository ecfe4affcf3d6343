"""Mutations of opportunities: create, update, delete, stage moves, win, lose, reopen, kanban."""

from typing import Any

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.core.graphql.types import composed
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.graphql.inputs import (
    CreateOpportunityInput,
    LoseOpportunityInput,
    MoveOpportunityStageInput,
    OpportunityActionInput,
    OpportunityKanbanPositionInput,
    PipelineRecordInput,
    UpdateOpportunityInput,
    _given,
)
from kehu.plugins.pipeline.graphql.mutations.common import _opp_id
from kehu.plugins.pipeline.graphql.types import OpportunityRef


@strawberry.type
class OpportunityMutations:
    @mutation
    async def create_opportunity(
        self, info: strawberry.Info, input: CreateOpportunityInput
    ) -> OpportunityRef:
        def data() -> dict[str, Any]:
            out: dict[str, Any] = {
                "customer": pk_of(input.customer_id, "Customer", "customerId"),
                "name": input.name,
                "description": input.description,
                "source": input.source,
                "expected_close_date": input.expected_close_date,
                "probability": input.probability,
                "forecast_category": input.forecast_category.value
                if input.forecast_category
                else None,
            }
            if input.amount is not None:
                out["amount"] = input.amount.to_value()
            for key, value, kind in (
                ("pipeline", input.pipeline_id, "Pipeline"),
                ("stage", input.stage_id, "PipelineStage"),
                ("owner", input.owner_id, "User"),
            ):
                if value is not None:
                    out[key] = pk_of(value, kind, f"{key}Id")
            return out

        return composed("Opportunity").from_row(
            await services.create_opportunity(info.context.actor, data())
        )

    @mutation(description="Edit an opportunity; expectedVersion guards against lost updates.")
    async def update_opportunity(
        self, info: strawberry.Info, input: UpdateOpportunityInput
    ) -> OpportunityRef:
        def data() -> dict[str, Any]:
            out = _given(
                input,
                (
                    "name",
                    "description",
                    "amount",
                    "expected_close_date",
                    "probability",
                    "forecast_category",
                    "source",
                ),
            )
            if input.owner_id is not strawberry.UNSET:
                out["owner"] = pk_of(input.owner_id, "User", "ownerId")
            return out

        return composed("Opportunity").from_row(
            await services.update_opportunity(
                info.context.actor, _opp_id(input.id), input.expected_version, data()
            )
        )

    @mutation(
        description="Delete an opportunity (opportunity:delete).",
        payload="OpportunityDeletePayload",
        field="deleted_id",
    )
    async def delete_opportunity(
        self, info: strawberry.Info, input: PipelineRecordInput
    ) -> strawberry.ID:
        await services.delete_opportunity(info.context.actor, _opp_id(input.id))
        return input.id

    @mutation(
        description="Move to another open stage. Errors name the rule: "
        "STAGE_SKIPPED, BACKWARD_NOT_ALLOWED, REQUIRED_FIELD_MISSING, "
        "APPROVAL_REQUIRED, OPPORTUNITY_CLOSED, CLOSED_STAGE, WRONG_PIPELINE."
    )
    async def move_opportunity_stage(
        self, info: strawberry.Info, input: MoveOpportunityStageInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.move_stage(
                info.context.actor,
                _opp_id(input.id),
                pk_of(input.stage_id, "PipelineStage", "stageId"),
                input.expected_version,
                input.note,
            )
        )

    @mutation(description="Approve a deal in the decision approval stage (opportunity:approve).")
    async def approve_opportunity(
        self, info: strawberry.Info, input: OpportunityActionInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.approve_opportunity(
                info.context.actor, _opp_id(input.id), input.expected_version
            )
        )

    @mutation(description="Close as won (enters the won stage under the same transition rules).")
    async def win_opportunity(
        self, info: strawberry.Info, input: OpportunityActionInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.win_opportunity(
                info.context.actor, _opp_id(input.id), input.expected_version
            )
        )

    @mutation(description="Close as lost with a reason.")
    async def lose_opportunity(
        self, info: strawberry.Info, input: LoseOpportunityInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.lose_opportunity(
                info.context.actor,
                _opp_id(input.id),
                input.reason,
                input.note,
                input.expected_version,
            )
        )

    @mutation(description="Reopen a won or lost deal in the stage it closed from.")
    async def reopen_opportunity(
        self, info: strawberry.Info, input: OpportunityActionInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.reopen_opportunity(
                info.context.actor, _opp_id(input.id), input.expected_version
            )
        )

    @mutation(
        description="Place the opportunity at a 0-based position in its stage's kanban column."
    )
    async def set_opportunity_kanban_position(
        self, info: strawberry.Info, input: OpportunityKanbanPositionInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.set_kanban_position(
                info.context.actor, _opp_id(input.id), input.position
            )
        )
