"""Pipeline GraphQL output types: Pipeline and its stages, Opportunity (extensible) and its
stage history, team, line items and needs, Lead, and the fields added to Customer.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
Tables are imported as ``t`` so that no table shares a name with a GraphQL type here."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.errors import NotFound
from kehu.core.graphql.base import (
    Money,
    Node,
    connection,
    encode_id,
    enum_value,
    extensible,
    gql_enum,
    make_connection,
)
from kehu.core.graphql.rows import RowType
from kehu.core.graphql.types import CustomerRef, TeamRef, UserRef, composed
from kehu.core.money import Money as MoneyValue
from kehu.core.services.activities import ActivityFilter, count_activities, list_activities
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t

OpportunityRef = Annotated["Opportunity", strawberry.lazy(__name__)]  # noqa: F821

ActivityConnectionRef = Annotated[
    "ActivityConnection", strawberry.lazy("kehu.core.graphql.types")  # noqa: F821
]

TransitionPolicyEnum = gql_enum(
    t.TransitionPolicy, "TransitionPolicy", "LINEAR: no skipping, only configured backward moves"
)

ForecastCategoryEnum = gql_enum(t.ForecastCategory, "ForecastCategory")

OpportunityStatusEnum = gql_enum(t.OpportunityStatus, "OpportunityStatus")

LeadStatusEnum = gql_enum(t.LeadStatus, "LeadStatus")

TeamRoleEnum = gql_enum(
    t.TeamRole,
    "OpportunityTeamRole",
    "AM account manager, TS technical sales, SC solution consultant, BD business development",
)

HistoryKindEnum = gql_enum(t.HistoryKind, "StageChangeKind")


def _days(seconds: int | None) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(seconds) / 86400).quantize(Decimal("0.01"))


def _money(minor: int | None, currency: str) -> Money | None:
    return None if minor is None else Money.of(MoneyValue(minor, currency))


@strawberry.type(description="A stage of a pipeline.")
class PipelineStage(RowType, Node):
    pk: strawberry.Private[int]
    pipeline_pk: strawberry.Private[int]
    database_id: int
    name: str
    position: int
    probability: int = strawberry.field(description="Default win probability, percent 0..100")
    forecast_category: ForecastCategoryEnum
    is_closed: bool
    is_won: bool
    is_approval: bool = strawberry.field(
        description="Decision approval stage: deals above the pipeline's threshold must be "
        "approved here"
    )
    required_fields: list[str] = strawberry.field(
        description="Opportunity fields that must be filled to enter the stage"
    )
    back_to: list[str] = strawberry.field(
        description="Earlier stages a linear pipeline may move back to from here"
    )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> "PipelineStage | None":
        return await info.context.loader("pipeline_stage").load(pk)


@strawberry.type(description="A sales pipeline: an ordered list of stages.")
class Pipeline(Node):
    pk: strawberry.Private[int]
    database_id: int
    name: str
    description: str
    template: str
    transition_policy: TransitionPolicyEnum
    approval_threshold: Money | None = strawberry.field(
        description="Deals above this amount must pass the approval stage"
    )
    stale_after_days: int
    is_default: bool
    archived: bool
    version: int
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Pipeline":
        return cls(
            id=encode_id("Pipeline", row["id"]),
            pk=row["id"],
            database_id=row["id"],
            name=row["name"],
            description=row["description"],
            template=row["template"],
            transition_policy=enum_value(TransitionPolicyEnum, row["transition_policy"]),
            approval_threshold=_money(row["approval_threshold_minor"], row["approval_currency"]),
            stale_after_days=row["stale_after_days"],
            is_default=row["is_default"],
            archived=row["archived_at"] is not None,
            version=row["version"],
            created_at=row["created_at"],
        )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> "Pipeline | None":
        return await info.context.loader("pipeline_pipeline").load(pk)

    @strawberry.field(description="Stages in order.")
    async def stages(self, info: strawberry.Info) -> list[PipelineStage]:
        return await info.context.loader("pipeline_stages").load(self.pk)


@strawberry.type(description="A pipeline template shipped with Kehu.")
class PipelineTemplate:
    key: str
    title: str
    description: str
    transition_policy: TransitionPolicyEnum
    stage_names: list[str]


@strawberry.type(description="One move of an opportunity (stage history).")
class OpportunityStageChange:
    pk: strawberry.Private[int]
    from_pk: strawberry.Private[int | None]
    to_pk: strawberry.Private[int]
    actor_pk: strawberry.Private[int | None]
    kind: HistoryKindEnum
    at: dt.datetime
    left_at: dt.datetime | None
    days_in_stage: Decimal | None = strawberry.field(
        description="Days spent in the target stage; null while the deal is still there"
    )
    note: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "OpportunityStageChange":
        return cls(
            pk=row["id"],
            from_pk=row["from_stage"],
            to_pk=row["to_stage"],
            actor_pk=row["actor"],
            kind=enum_value(HistoryKindEnum, row["kind"]),
            at=row["at"],
            left_at=row["left_at"],
            days_in_stage=_days(row["seconds"]),
            note=row["note"],
        )

    @strawberry.field
    async def from_stage(self, info: strawberry.Info) -> PipelineStage | None:
        if self.from_pk is None:
            return None
        return await info.context.loader("pipeline_stage").load(self.from_pk)

    @strawberry.field
    async def to_stage(self, info: strawberry.Info) -> PipelineStage:
        return await info.context.loader("pipeline_stage").load(self.to_pk)

    @strawberry.field(description="Who moved it; null for the system.")
    async def actor(self, info: strawberry.Info) -> UserRef | None:
        if self.actor_pk is None:
            return None
        return await info.context.loader("user").load(self.actor_pk)


@strawberry.type
class OpportunityStageTime:
    stage_pk: strawberry.Private[int]
    seconds: int
    days: Decimal

    @strawberry.field
    async def stage(self, info: strawberry.Info) -> PipelineStage:
        return await info.context.loader("pipeline_stage").load(self.stage_pk)


@strawberry.type(description="A member of the opportunity team.")
class OpportunityTeamMember:
    user_pk: strawberry.Private[int]
    role: TeamRoleEnum

    @strawberry.field
    async def user(self, info: strawberry.Info) -> UserRef | None:
        return await info.context.loader("user").load(self.user_pk)


@strawberry.type(description="A product line of an opportunity.")
class OpportunityLineItem:
    id: strawberry.ID
    product: str
    quantity: int
    unit_price: Money
    total: Money

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "OpportunityLineItem":
        return cls(
            id=encode_id("OpportunityLineItem", row["id"]),
            product=row["product"],
            quantity=row["quantity"],
            unit_price=Money.of(MoneyValue(row["unit_price_minor"], row["currency"])),
            total=Money.of(services.line_total(row)),
        )


@strawberry.type(description="A need from the needs document, scored 1..5.")
class OpportunityNeed:
    id: strawberry.ID
    description: str
    impact: int
    difficulty: int
    urgency: int
    priority: Decimal = strawberry.field(
        description="0.4·impact + 0.3·difficulty + 0.3·urgency (exact)"
    )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "OpportunityNeed":
        return cls(
            id=encode_id("OpportunityNeed", row["id"]),
            description=row["description"],
            impact=row["impact"],
            difficulty=row["difficulty"],
            urgency=row["urgency"],
            priority=services.need_priority(row["impact"], row["difficulty"], row["urgency"]),
        )


@extensible("Opportunity")
@strawberry.type(name="OpportunityFields", description="A sales opportunity (销售机会).")
class OpportunityFields(Node):
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    pipeline_pk: strawberry.Private[int]
    stage_pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int | None]
    team_pk: strawberry.Private[int | None]
    row: strawberry.Private[dict[str, Any]]
    database_id: int
    name: str
    description: str
    amount: Money
    weighted_amount: Money = strawberry.field(
        description="amount × probability, rounded half up to the minor unit"
    )
    probability: int
    probability_overridden: bool
    forecast_category: ForecastCategoryEnum
    status: OpportunityStatusEnum
    expected_close_date: dt.date | None
    lost_reason: str | None
    lost_note: str
    kanban_position: int
    approved_at: dt.datetime | None
    stage_entered_at: dt.datetime
    closed_at: dt.datetime | None
    source: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Any:
        amount = MoneyValue(row["amount_minor"], row["currency"])
        return cls(
            id=encode_id("Opportunity", row["id"]),
            pk=row["id"],
            customer_pk=row["customer"],
            pipeline_pk=row["pipeline"],
            stage_pk=row["stage"],
            owner_pk=row["owner"],
            team_pk=row["team"],
            row=row,
            database_id=row["id"],
            name=row["name"],
            description=row["description"],
            amount=Money.of(amount),
            weighted_amount=Money.of(services.weighted(row["weighted_basis"], row["currency"])),
            probability=row["probability"],
            probability_overridden=row["probability_overridden"],
            forecast_category=enum_value(ForecastCategoryEnum, row["forecast_category"]),
            status=enum_value(OpportunityStatusEnum, row["status"]),
            expected_close_date=row["expected_close_date"],
            lost_reason=row["lost_reason"] or None,
            lost_note=row["lost_note"],
            kanban_position=row["kanban_position"],
            approved_at=row["approved_at"],
            stage_entered_at=row["stage_entered_at"],
            closed_at=row["closed_at"],
            source=row["source"],
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        return await info.context.loader("pipeline_opportunity").load(pk)

    @strawberry.field
    async def customer(self, info: strawberry.Info) -> CustomerRef | None:
        return await info.context.loader("customer").load(self.customer_pk)

    @strawberry.field
    async def owner(self, info: strawberry.Info) -> UserRef | None:
        if self.owner_pk is None:
            return None
        return await info.context.loader("user").load(self.owner_pk)

    @strawberry.field
    async def team(self, info: strawberry.Info) -> TeamRef | None:
        if self.team_pk is None:
            return None
        return await info.context.loader("team").load(self.team_pk)

    @strawberry.field
    async def pipeline(self, info: strawberry.Info) -> Pipeline:
        return await info.context.loader("pipeline_pipeline").load(self.pipeline_pk)

    @strawberry.field
    async def stage(self, info: strawberry.Info) -> PipelineStage:
        return await info.context.loader("pipeline_stage").load(self.stage_pk)

    @strawberry.field(description="The latest stage history entry.")
    async def last_stage_change(self, info: strawberry.Info) -> OpportunityStageChange | None:
        return await info.context.loader("pipeline_last_change").load(self.pk)

    @strawberry.field(description="Every move, oldest first.")
    async def stage_history(self, info: strawberry.Info) -> list[OpportunityStageChange]:
        rows = await info.context.loader("pipeline_history").load(self.pk)
        return [OpportunityStageChange.from_row(r) for r in rows]

    @strawberry.field(description="Time spent per stage (the current one counts until now).")
    async def time_in_stages(self, info: strawberry.Info) -> list[OpportunityStageTime]:
        rows = await info.context.loader("pipeline_history").load(self.pk)
        return [
            OpportunityStageTime(stage_pk=s, seconds=sec, days=_days(sec))
            for s, sec in services.time_in_stages(rows)
        ]

    @strawberry.field(description="Days from creation to closing (to now while open).")
    def cycle_time_days(self) -> Decimal:
        return _days(services.cycle_seconds(self.row))

    @strawberry.field
    async def team_members(self, info: strawberry.Info) -> list[OpportunityTeamMember]:
        rows = await info.context.loader("pipeline_team_members").load(self.pk)
        return [
            OpportunityTeamMember(user_pk=r["user"], role=enum_value(TeamRoleEnum, r["role"]))
            for r in rows
        ]

    @strawberry.field
    async def line_items(self, info: strawberry.Info) -> list[OpportunityLineItem]:
        rows = await info.context.loader("pipeline_line_items").load(self.pk)
        return [OpportunityLineItem.from_row(r) for r in rows]

    @strawberry.field(description="Needs, highest priority first.")
    async def needs(self, info: strawberry.Info) -> list[OpportunityNeed]:
        rows = await info.context.loader("pipeline_needs").load(self.pk)
        needs = [OpportunityNeed.from_row(r) for r in rows]
        return sorted(needs, key=lambda n: n.priority, reverse=True)

    @strawberry.field(
        description="Activities linked to this opportunity (relatedType "
        '"opportunity"), newest first.'
    )
    async def activities(
        self, info: strawberry.Info, first: int = 20, after: str | None = None
    ) -> ActivityConnectionRef:
        actor = info.context.actor
        f = ActivityFilter(
            customer_id=self.customer_pk, related_type="opportunity", related_id=self.pk
        )
        page = await list_activities(actor, f, first=first, after=after)
        return make_connection(
            "Activity", page, composed("Activity").from_row, lambda: count_activities(actor, f)
        )


OpportunityConnection = connection("Opportunity", OpportunityRef)


@strawberry.type(description="A lead (线索) before it becomes customer + opportunity.")
class Lead(Node):
    pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int | None]
    customer_pk: strawberry.Private[int | None]
    opportunity_pk: strawberry.Private[int | None]
    database_id: int
    name: str
    company: str
    email: str
    phone: str
    title: str
    source: str
    industry: str
    size: str
    notes: str
    factors: JSON = strawberry.field(description="Factor scores 0..100 by factor name")
    score: int = strawberry.field(description="Σ weight × factor score")
    hot: bool
    status: LeadStatusEnum
    disqualify_reason: str
    converted_at: dt.datetime | None
    version: int
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Lead":
        return cls(
            id=encode_id("Lead", row["id"]),
            pk=row["id"],
            owner_pk=row["owner"],
            customer_pk=row["customer"],
            opportunity_pk=row["opportunity_id"],
            database_id=row["id"],
            name=row["name"],
            company=row["company"],
            email=row["email"],
            phone=row["phone"],
            title=row["title"],
            source=row["source"],
            industry=row["industry"],
            size=row["size"],
            notes=row["notes"],
            factors=row["factors"],
            score=row["score"],
            hot=row["score"] >= services.config().lead_hot_score,
            status=enum_value(LeadStatusEnum, row["status"]),
            disqualify_reason=row["disqualify_reason"],
            converted_at=row["converted_at"],
            version=row["version"],
            created_at=row["created_at"],
        )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> "Lead | None":
        try:
            return cls.from_row(await services.get_lead(info.context.actor, pk))
        except NotFound:
            return None

    @strawberry.field
    async def owner(self, info: strawberry.Info) -> UserRef | None:
        if self.owner_pk is None:
            return None
        return await info.context.loader("user").load(self.owner_pk)

    @strawberry.field(description="The customer it was converted into.")
    async def customer(self, info: strawberry.Info) -> CustomerRef | None:
        if self.customer_pk is None:
            return None
        return await info.context.loader("customer").load(self.customer_pk)

    @strawberry.field(description="The opportunity it was converted into.")
    async def opportunity(self, info: strawberry.Info) -> OpportunityRef | None:
        if self.opportunity_pk is None:
            return None
        return await info.context.loader("pipeline_opportunity").load(self.opportunity_pk)


LeadConnection = connection("Lead", Lead)


@strawberry.type(description="Pipeline fields added to Customer by the pipeline plugin.")
class CustomerPipeline:
    @strawberry.field(
        description="Opportunities of this customer you may see, newest first (batched)."
    )
    async def opportunities(
        self, info: strawberry.Info, status: OpportunityStatusEnum | None = None
    ) -> list[OpportunityRef]:
        key = (self.pk, status.value if status is not None else None)
        return await info.context.loader("pipeline_customer_opportunities").load(key)

    @strawberry.field(description="Leads converted into this customer.")
    async def leads(self, info: strawberry.Info) -> list[Lead]:
        return await info.context.loader("pipeline_customer_leads").load(self.pk)

    @strawberry.field(description="Sum of open opportunity amounts, one entry per currency.")
    async def open_pipeline_value(self, info: strawberry.Info) -> list[Money]:
        return await info.context.loader("pipeline_open_value").load(self.pk)
