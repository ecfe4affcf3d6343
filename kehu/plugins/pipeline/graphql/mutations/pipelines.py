"""Mutations of pipelines and their stages."""

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.graphql.inputs import (
    CreatePipelineInput,
    SetPipelineStagesInput,
    UpdatePipelineInput,
    UpdatePipelineStageInput,
    _given,
)
from kehu.plugins.pipeline.graphql.types import Pipeline, PipelineStage


@strawberry.type
class PipelineMutations:
    @mutation(description="Create a pipeline from a template or stages (pipeline:manage).")
    async def create_pipeline(self, info: strawberry.Info, input: CreatePipelineInput) -> Pipeline:
        row = await services.create_pipeline(
            info.context.actor,
            input.name,
            template=input.template,
            stages=[s.to_spec() for s in input.stages] if input.stages else None,
            transition_policy=input.transition_policy.value if input.transition_policy else None,
            approval_threshold=input.approval_threshold.to_value()
            if input.approval_threshold
            else None,
            stale_after_days=input.stale_after_days,
            description=input.description,
            is_default=input.is_default,
        )
        return Pipeline.from_row(row)

    @mutation(description="Edit a pipeline (pipeline:manage).")
    async def update_pipeline(self, info: strawberry.Info, input: UpdatePipelineInput) -> Pipeline:
        data = _given(
            input,
            (
                "name",
                "description",
                "transition_policy",
                "approval_threshold",
                "stale_after_days",
                "is_default",
                "archived",
            ),
        )
        row = await services.update_pipeline(
            info.context.actor, pk_of(input.id, "Pipeline"), input.expected_version, data
        )
        return Pipeline.from_row(row)

    @mutation(
        description="Replace the stage list: add (no id), rename/reorder/edit (with id), remove "
        "(leave out; refused while in use) — pipeline:manage."
    )
    async def set_pipeline_stages(
        self, info: strawberry.Info, input: SetPipelineStagesInput
    ) -> Pipeline:
        stages = [
            (pk_of(s.id, "PipelineStage", "stages") if s.id else None, s.to_spec())
            for s in input.stages
        ]
        row = await services.set_stages(
            info.context.actor,
            pk_of(input.pipeline_id, "Pipeline", "pipelineId"),
            input.expected_version,
            stages,
        )
        return Pipeline.from_row(row)

    @mutation(
        description="Edit a stage (pipeline:manage).", payload="PipelineStagePayload", field="stage"
    )
    async def update_pipeline_stage(
        self, info: strawberry.Info, input: UpdatePipelineStageInput
    ) -> PipelineStage:
        data = _given(
            input, ("name", "probability", "forecast_category", "required_fields", "back_to")
        )
        row = await services.update_stage(
            info.context.actor, pk_of(input.id, "PipelineStage"), data
        )
        return PipelineStage.from_row(row)
