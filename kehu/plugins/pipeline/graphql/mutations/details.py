"""Mutations of an opportunity's team, line items, needs and activities."""

from typing import Any

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.core.graphql.types import ActivityRef, composed
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.graphql.inputs import (
    OpportunityActivityInput,
    OpportunityLineItemInput,
    OpportunityNeedInput,
    OpportunityTeamMemberInput,
    PipelineRecordInput,
    RemoveOpportunityTeamMemberInput,
)
from kehu.plugins.pipeline.graphql.mutations.common import _opp_id
from kehu.plugins.pipeline.graphql.types import OpportunityRef


@strawberry.type
class OpportunityDetailMutations:
    @mutation(description="Add a team member (or change their role).")
    async def set_opportunity_team_member(
        self, info: strawberry.Info, input: OpportunityTeamMemberInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.add_team_member(
                info.context.actor,
                _opp_id(input.opportunity_id, "opportunityId"),
                pk_of(input.user_id, "User", "userId"),
                input.role.value,
            )
        )

    @mutation
    async def remove_opportunity_team_member(
        self, info: strawberry.Info, input: RemoveOpportunityTeamMemberInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.remove_team_member(
                info.context.actor,
                _opp_id(input.opportunity_id, "opportunityId"),
                pk_of(input.user_id, "User", "userId"),
            )
        )

    @mutation
    async def add_opportunity_line_item(
        self, info: strawberry.Info, input: OpportunityLineItemInput
    ) -> OpportunityRef:
        oid = _opp_id(input.opportunity_id, "opportunityId")
        await services.add_line_item(
            info.context.actor, oid, input.product, input.quantity, input.unit_price.to_value()
        )
        return composed("Opportunity").from_row(
            await services.get_opportunity(info.context.actor, oid)
        )

    @mutation
    async def remove_opportunity_line_item(
        self, info: strawberry.Info, input: PipelineRecordInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.remove_line_item(
                info.context.actor, pk_of(input.id, "OpportunityLineItem")
            )
        )

    @mutation(description="Record a need scored 1..5 for impact, difficulty and urgency.")
    async def add_opportunity_need(
        self, info: strawberry.Info, input: OpportunityNeedInput
    ) -> OpportunityRef:
        oid = _opp_id(input.opportunity_id, "opportunityId")
        await services.add_need(
            info.context.actor,
            oid,
            input.description,
            input.impact,
            input.difficulty,
            input.urgency,
        )
        return composed("Opportunity").from_row(
            await services.get_opportunity(info.context.actor, oid)
        )

    @mutation
    async def remove_opportunity_need(
        self, info: strawberry.Info, input: PipelineRecordInput
    ) -> OpportunityRef:
        return composed("Opportunity").from_row(
            await services.remove_need(info.context.actor, pk_of(input.id, "OpportunityNeed"))
        )

    @mutation(
        description="Log or plan an activity linked to an opportunity.",
        payload="OpportunityActivityPayload",
        field="activity",
    )
    async def log_opportunity_activity(
        self, info: strawberry.Info, input: OpportunityActivityInput
    ) -> ActivityRef:
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
