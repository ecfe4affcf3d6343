"""Commission plan mutations: create, assign, end."""

import datetime as dt

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.incentives.graphql.inputs import AssignPlanInput, CommissionPlanInput, _pk
from kehu.plugins.incentives.graphql.types import CommissionPlan
from kehu.plugins.incentives.services import plans


@strawberry.type
class PlanMutations:
    @mutation(
        description="Create a commission plan (incentive:manage).",
        payload="CommissionPlanPayload",
        field="plan",
    )
    async def create_commission_plan(
        self, info: strawberry.Info, input: CommissionPlanInput
    ) -> CommissionPlan:
        data = {
            "name": input.name,
            "basis": input.basis.value,
            "currency": input.currency,
            "effective_from": input.effective_from,
            "effective_to": input.effective_to,
            "rate": input.rate,
            "attainment_metric": input.attainment_metric,
            "tiers": [{"from": x.from_attainment, "rate": x.rate} for x in input.tiers]
            if input.tiers
            else None,
            "splits": {s.role: s.percent for s in input.splits} if input.splits else None,
            "cap_minor": input.cap.to_value().minor if input.cap else None,
        }
        return CommissionPlan.of(await plans.create_plan(info.context.actor, data))

    @mutation(
        description="Assign a plan to a user or a team.",
        payload="CommissionPlanPayload",
        field="plan",
    )
    async def assign_commission_plan(
        self, info: strawberry.Info, input: AssignPlanInput
    ) -> CommissionPlan:
        plan_id = pk_of(input.plan_id, "CommissionPlan", "planId")
        await plans.assign_plan(
            info.context.actor,
            plan_id,
            user_id=_pk(input.user_id, "User", "userId"),
            team_id=_pk(input.team_id, "Team", "teamId"),
            effective_from=input.effective_from,
            effective_to=input.effective_to,
        )
        return CommissionPlan.of(await plans.get_plan(info.context.actor, plan_id))

    @mutation(
        description="End a plan on a date (inclusive).",
        payload="CommissionPlanPayload",
        field="plan",
    )
    async def end_commission_plan(
        self, info: strawberry.Info, plan_id: strawberry.ID, effective_to: dt.date
    ) -> CommissionPlan:
        return CommissionPlan.of(
            await plans.end_plan(
                info.context.actor, pk_of(plan_id, "CommissionPlan", "planId"), effective_to
            )
        )
