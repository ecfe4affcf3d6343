"""Mutations of an opportunity's team, line items, needs and activities."""

from typing import Any

import strawberry

from kehu.core.graphql.base import (
    payload,
    pk_of,
)
from kehu.core.graphql.types import composed
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.graphql.inputs import (
    OpportunityActivityInput,
    OpportunityLineItemInput,
    OpportunityNeedInput,
    OpportunityTeamMemberInput,
    PipelineRecordInput,
    RemoveOpportunityTeamMemberInput,
)
from kehu.plugins.pipeline.graphql.mutations.common import (
    OpportunityActivityPayload,
    OpportunityPayload,
    _opp,
    _opp_id,
)


@strawberry.type
class OpportunityDetailMutations:
    @strawberry.mutation(description="Add a team member (or change their role).")
    async def set_opportunity_team_member(
        self, info: strawberry.Info, input: OpportunityTeamMemberInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.add_team_member(
                info.context.actor,
                _opp_id(input.opportunity_id, "opportunityId"),
                pk_of(input.user_id, "User", "userId"),
                input.role.value,
            )
        )

    @strawberry.mutation
    async def remove_opportunity_team_member(
        self, info: strawberry.Info, input: RemoveOpportunityTeamMemberInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.remove_team_member(
                info.context.actor,
                _opp_id(input.opportunity_id, "opportunityId"),
                pk_of(input.user_id, "User", "userId"),
            )
        )

    @strawberry.mutation
    async def add_opportunity_line_item(
        self, info: strawberry.Info, input: OpportunityLineItemInput
    ) -> OpportunityPayload:
        async def work() -> dict[str, Any]:
            oid = _opp_id(input.opportunity_id, "opportunityId")
            await services.add_line_item(
                info.context.actor, oid, input.product, input.quantity, input.unit_price.to_value()
            )
            return await services.get_opportunity(info.context.actor, oid)

        return await _opp(work)

    @strawberry.mutation
    async def remove_opportunity_line_item(
        self, info: strawberry.Info, input: PipelineRecordInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.remove_line_item(
                info.context.actor, pk_of(input.id, "OpportunityLineItem")
            )
        )

    @strawberry.mutation(
        description="Record a need scored 1..5 for impact, difficulty and urgency."
    )
    async def add_opportunity_need(
        self, info: strawberry.Info, input: OpportunityNeedInput
    ) -> OpportunityPayload:
        async def work() -> dict[str, Any]:
            oid = _opp_id(input.opportunity_id, "opportunityId")
            await services.add_need(
                info.context.actor,
                oid,
                input.description,
                input.impact,
                input.difficulty,
                input.urgency,
            )
            return await services.get_opportunity(info.context.actor, oid)

        return await _opp(work)

    @strawberry.mutation
    async def remove_opportunity_need(
        self, info: strawberry.Info, input: PipelineRecordInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.remove_need(info.context.actor, pk_of(input.id, "OpportunityNeed"))
        )

    @strawberry.mutation(description="Log or plan an activity linked to an opportunity.")
    async def log_opportunity_activity(
        self, info: strawberry.Info, input: OpportunityActivityInput
    ) -> OpportunityActivityPayload:
        async def work() -> Any:
            data: dict[str, Any] = {
                "subject": input.subject,
                "kind": input.kind,
                "body": input.body,
                "status": input.status,
                "outcome": input.outcome,
            }
            if input.occurred_at is not None:
                data["occurred_at"] = input.occurred_at
            if input.due_at is not None:
                data["due_at"] = input.due_at
            row = await services.log_opportunity_activity(
                info.context.actor, _opp_id(input.opportunity_id, "opportunityId"), data
            )
            return composed("Activity").from_row(row)

        return await payload(OpportunityActivityPayload, "activity", work)
