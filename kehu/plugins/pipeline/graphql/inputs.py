"""Pipeline GraphQL inputs: the opportunity filter and order, and the mutations' inputs."""

import datetime as dt
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.graphql.base import MoneyInput, pk_of
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.graphql.types import (
    ForecastCategoryEnum,
    OpportunityStatusEnum,
    TeamRoleEnum,
    TransitionPolicyEnum,
)
from kehu.plugins.pipeline.services.templates import StageSpec


@strawberry.input
class OpportunityFilter:
    customer_id: strawberry.ID | None = None
    pipeline_id: strawberry.ID | None = None
    stage_id: strawberry.ID | None = None
    owner_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    status: OpportunityStatusEnum | None = None
    forecast_category: ForecastCategoryEnum | None = None
    close_after: dt.date | None = None
    close_before: dt.date | None = None
    search: str | None = None

    def to_filter(self) -> services.OpportunityFilter:
        return services.OpportunityFilter(
            customer_id=pk_of(self.customer_id, "Customer", "customerId"),
            pipeline_id=pk_of(self.pipeline_id, "Pipeline", "pipelineId"),
            stage_id=pk_of(self.stage_id, "PipelineStage", "stageId"),
            owner_id=pk_of(self.owner_id, "User", "ownerId"),
            team_id=pk_of(self.team_id, "Team", "teamId"),
            status=self.status.value if self.status else None,
            forecast_category=self.forecast_category.value if self.forecast_category else None,
            close_after=self.close_after,
            close_before=self.close_before,
            search=self.search,
        )


@strawberry.enum
class OpportunityOrderField(Enum):
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    AMOUNT = "AMOUNT"
    KANBAN = "KANBAN"
    NAME = "NAME"


def _pipeline_pk(value: strawberry.ID | None) -> int | None:
    return pk_of(value, "Pipeline", "pipelineId")


@strawberry.input
class PipelineStageInput:
    name: str
    probability: int
    forecast_category: ForecastCategoryEnum = ForecastCategoryEnum.PIPELINE  # type: ignore
    is_closed: bool = False
    is_won: bool = False
    is_approval: bool = False
    required_fields: list[str] = strawberry.field(default_factory=list)
    back_to: list[str] = strawberry.field(default_factory=list)

    def to_spec(self) -> StageSpec:
        return StageSpec(
            self.name,
            self.probability,
            self.forecast_category.value,
            self.is_closed,
            self.is_won,
            self.is_approval,
            tuple(self.required_fields),
            tuple(self.back_to),
        )


@strawberry.input
class SetPipelineStageInput(PipelineStageInput):
    id: strawberry.ID | None = strawberry.field(
        default=None, description="An existing stage; omit to add a stage."
    )


@strawberry.input
class SetPipelineStagesInput:
    pipeline_id: strawberry.ID
    expected_version: int
    stages: list[SetPipelineStageInput]


@strawberry.input
class CreatePipelineInput:
    name: str
    template: str | None = strawberry.field(
        default=None,
        description="linear, linear_with_approval, consultative, customer_journey or online",
    )
    stages: list[PipelineStageInput] | None = None
    transition_policy: TransitionPolicyEnum | None = None
    approval_threshold: MoneyInput | None = None
    stale_after_days: int | None = None
    description: str = ""
    is_default: bool = False


@strawberry.input
class UpdatePipelineInput:
    id: strawberry.ID
    expected_version: int
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    transition_policy: TransitionPolicyEnum | None = strawberry.UNSET
    approval_threshold: MoneyInput | None = strawberry.UNSET
    stale_after_days: int | None = strawberry.UNSET
    is_default: bool | None = strawberry.UNSET
    archived: bool | None = strawberry.UNSET


@strawberry.input
class UpdatePipelineStageInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    probability: int | None = strawberry.UNSET
    forecast_category: ForecastCategoryEnum | None = strawberry.UNSET
    required_fields: list[str] | None = strawberry.UNSET
    back_to: list[str] | None = strawberry.UNSET


def _given(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for name in names:
        value = getattr(obj, name)
        if value is strawberry.UNSET:
            continue
        if isinstance(value, Enum):
            value = value.value
        elif isinstance(value, MoneyInput):
            value = value.to_value()
        out[name] = value
    return out


@strawberry.input
class CreateOpportunityInput:
    customer_id: strawberry.ID
    name: str
    pipeline_id: strawberry.ID | None = None
    stage_id: strawberry.ID | None = None
    amount: MoneyInput | None = None
    expected_close_date: dt.date | None = None
    owner_id: strawberry.ID | None = None
    description: str = ""
    probability: int | None = strawberry.field(
        default=None, description="Override the stage default"
    )
    forecast_category: ForecastCategoryEnum | None = None
    source: str = ""


@strawberry.input
class UpdateOpportunityInput:
    id: strawberry.ID
    expected_version: int
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    amount: MoneyInput | None = strawberry.UNSET
    expected_close_date: dt.date | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    probability: int | None = strawberry.field(
        default=strawberry.UNSET, description="null: back to the stage default"
    )
    forecast_category: ForecastCategoryEnum | None = strawberry.UNSET
    source: str | None = strawberry.UNSET


@strawberry.input
class MoveOpportunityStageInput:
    id: strawberry.ID
    stage_id: strawberry.ID
    expected_version: int | None = None
    note: str = ""


@strawberry.input
class OpportunityActionInput:
    id: strawberry.ID
    expected_version: int | None = None


@strawberry.input
class LoseOpportunityInput:
    id: strawberry.ID
    reason: str = strawberry.field(description="One of the configured lost reasons")
    note: str = ""
    expected_version: int | None = None


@strawberry.input
class OpportunityKanbanPositionInput:
    id: strawberry.ID
    position: int


@strawberry.input
class OpportunityTeamMemberInput:
    opportunity_id: strawberry.ID
    user_id: strawberry.ID
    role: TeamRoleEnum = TeamRoleEnum.AM  # type: ignore[attr-defined]


@strawberry.input
class RemoveOpportunityTeamMemberInput:
    opportunity_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.input
class OpportunityLineItemInput:
    opportunity_id: strawberry.ID
    product: str
    quantity: int
    unit_price: MoneyInput


@strawberry.input
class OpportunityNeedInput:
    opportunity_id: strawberry.ID
    description: str
    impact: int
    difficulty: int
    urgency: int


@strawberry.input
class PipelineRecordInput:
    id: strawberry.ID


@strawberry.input
class CreateLeadInput:
    name: str
    company: str = ""
    email: str = ""
    phone: str = ""
    title: str = ""
    source: str = strawberry.field(
        default="",
        description="Channel: trade_show, referral, website, social, ads, ground_promotion, ...",
    )
    industry: str = ""
    size: str = ""
    notes: str = ""
    factors: JSON | None = strawberry.field(
        default=None, description='Factor scores 0..100, e.g. {"visits": 80, "inquiries": 40}'
    )
    owner_id: strawberry.ID | None = None
    allow_duplicate: bool = False


@strawberry.input
class UpdateLeadInput:
    id: strawberry.ID
    expected_version: int
    name: str | None = strawberry.UNSET
    company: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    size: str | None = strawberry.UNSET
    notes: str | None = strawberry.UNSET
    factors: JSON | None = strawberry.UNSET


@strawberry.input
class DisqualifyLeadInput:
    id: strawberry.ID
    reason: str


@strawberry.input
class ConvertLeadInput:
    id: strawberry.ID
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="Convert into this customer instead of matching/creating"
    )
    create_opportunity: bool = True
    opportunity_name: str | None = None
    pipeline_id: strawberry.ID | None = None
    amount: MoneyInput | None = None
    expected_close_date: dt.date | None = None


@strawberry.input(description="An activity on the opportunity's customer, linked to it.")
class OpportunityActivityInput:
    opportunity_id: strawberry.ID
    subject: str
    kind: str = strawberry.field(
        default="note",
        description="call, visit, meeting, demo, negotiation, task, ... (core ActivityKind values)",
    )
    body: str = ""
    status: str = strawberry.field(default="done", description="done or planned")
    occurred_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    outcome: str = ""
