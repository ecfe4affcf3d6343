"""Pipeline GraphQL: Pipeline/Opportunity/Lead nodes, the fields added to Customer, root
queries (lists, forecast, metrics) and mutations. Every relation goes through a DataLoader.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
Tables are imported as ``t`` so that no table shares a name with a GraphQL type here.
"""

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.errors import NotFound
from kehu.core.graphql.base import (
    Money,
    MoneyInput,
    Node,
    UserError,
    connection,
    encode_id,
    enum_value,
    extensible,
    gql_enum,
    make_connection,
    payload,
    pk_of,
)
from kehu.core.graphql.types import composed
from kehu.core.money import Money as MoneyValue
from kehu.core.services.activities import ActivityFilter, count_activities, list_activities
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.templates import TEMPLATES, StageSpec

CustomerRef = Annotated["Customer", strawberry.lazy("kehu.core.graphql.types")]  # noqa: F821
UserRef = Annotated["User", strawberry.lazy("kehu.core.graphql.types")]  # noqa: F821
TeamRef = Annotated["Team", strawberry.lazy("kehu.core.graphql.types")]  # noqa: F821
ContactRef = Annotated["Contact", strawberry.lazy("kehu.core.graphql.types")]  # noqa: F821
ActivityRef = Annotated["Activity", strawberry.lazy("kehu.core.graphql.types")]  # noqa: F821
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


# -- pipelines and stages -----------------------------------------------------------------


@strawberry.type(description="A stage of a pipeline.")
class PipelineStage(Node):
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
    def from_row(cls, row: dict[str, Any]) -> "PipelineStage":
        return cls(
            id=encode_id("PipelineStage", row["id"]),
            pk=row["id"],
            pipeline_pk=row["pipeline"],
            database_id=row["id"],
            name=row["name"],
            position=row["position"],
            probability=row["probability"],
            forecast_category=enum_value(ForecastCategoryEnum, row["forecast_category"]),
            is_closed=row["is_closed"],
            is_won=row["is_won"],
            is_approval=row["is_approval"],
            required_fields=row["required_fields"],
            back_to=row["back_to"],
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


# -- opportunities --------------------------------------------------------------------------


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


# -- leads --------------------------------------------------------------------------------


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


# -- fields on Customer --------------------------------------------------------------------


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


# -- loaders -------------------------------------------------------------------------------


async def load_stages(ctx: Any, keys: list[int]) -> list[PipelineStage | None]:
    rows = await services.stages_by_ids(keys)
    return [PipelineStage.from_row(rows[k]) if k in rows else None for k in keys]


async def load_pipeline_stages(ctx: Any, keys: list[int]) -> list[list[PipelineStage]]:
    rows = await services.stages_by_pipeline(keys)
    return [[PipelineStage.from_row(r) for r in rows[k]] for k in keys]


async def load_pipelines(ctx: Any, keys: list[int]) -> list[Pipeline | None]:
    rows = {
        r["id"]: r for r in await t.Pipeline.select().where(t.Pipeline.id.is_in(list(set(keys))))
    }
    return [Pipeline.from_row(rows[k]) if k in rows else None for k in keys]


async def load_opportunities(ctx: Any, keys: list[int]) -> list[OpportunityRef | None]:
    rows = await services.opportunities_by_ids(ctx.actor, keys)
    return [composed("Opportunity").from_row(rows[k]) if k in rows else None for k in keys]


async def load_last_changes(ctx: Any, keys: list[int]) -> list[OpportunityStageChange | None]:
    rows = await services.last_changes(keys)
    return [OpportunityStageChange.from_row(rows[k]) if k in rows else None for k in keys]


async def load_history(ctx: Any, keys: list[int]) -> list[list[dict[str, Any]]]:
    rows = await services.history(keys)
    return [rows[k] for k in keys]


def _children(fn: Any) -> Any:
    async def load(ctx: Any, keys: list[int]) -> list[list[dict[str, Any]]]:
        rows = await fn(keys)
        return [rows[k] for k in keys]

    return load


async def load_customer_opportunities(
    ctx: Any, keys: list[tuple[int, str | None]]
) -> list[list[OpportunityRef]]:
    by_status: dict[str | None, list[int]] = {}
    for customer_id, status in keys:
        by_status.setdefault(status, []).append(customer_id)
    found = {
        status: await services.opportunities_by_customer(ctx.actor, ids, status)
        for status, ids in by_status.items()
    }
    return [
        [composed("Opportunity").from_row(r) for r in found[status][cid]] for cid, status in keys
    ]


async def load_customer_leads(ctx: Any, keys: list[int]) -> list[list[Lead]]:
    rows = await services.leads_by_customer(ctx.actor, keys)
    return [[Lead.from_row(r) for r in rows[k]] for k in keys]


async def load_open_values(ctx: Any, keys: list[int]) -> list[list[Money]]:
    values = await services.open_value_by_customer(ctx.actor, keys)
    return [[Money.of(m) for m in values[k]] for k in keys]


LOADERS = {
    "pipeline_stage": load_stages,
    "pipeline_stages": load_pipeline_stages,
    "pipeline_pipeline": load_pipelines,
    "pipeline_opportunity": load_opportunities,
    "pipeline_last_change": load_last_changes,
    "pipeline_history": load_history,
    "pipeline_team_members": _children(services.team_members_of),
    "pipeline_line_items": _children(services.line_items_of),
    "pipeline_needs": _children(services.needs_of),
    "pipeline_customer_opportunities": load_customer_opportunities,
    "pipeline_customer_leads": load_customer_leads,
    "pipeline_open_value": load_open_values,
}


# -- forecast and metrics types ---------------------------------------------------------------


@strawberry.enum
class ForecastGroupBy(Enum):
    CATEGORY = "category"
    OWNER = "owner"
    TEAM = "team"
    MONTH = "month"
    QUARTER = "quarter"


@strawberry.type(description="Forecast of one group (category, owner or team) and currency.")
class ForecastLine:
    key: str = strawberry.field(
        description="The category (lower case), owner/team "
        "database id, month (2026-11) or quarter (2026-Q4); empty "
        "for none"
    )
    currency: str
    count: int
    total: Money
    weighted: Money


@strawberry.type
class ForecastComparison:
    snapshot_id: int
    taken_at: dt.datetime
    period_start: dt.date
    period_end: dt.date
    currency: str
    forecast_weighted: Money
    forecast_commit: Money
    actual_won: Money
    variance: Money


@strawberry.type
class ForecastSnapshot:
    database_id: int
    taken_at: dt.datetime
    period_start: dt.date
    period_end: dt.date


@strawberry.type
class PipelineFunnelStage:
    stage_pk: strawberry.Private[int]
    name: str
    position: int
    reached: int
    current: int
    conversion: Decimal | None

    @strawberry.field
    async def stage(self, info: strawberry.Info) -> PipelineStage:
        return await info.context.loader("pipeline_stage").load(self.stage_pk)


@strawberry.type(description="Mean days spent in a stage (completed stays).")
class PipelineStageDuration:
    stage_pk: strawberry.Private[int]
    average_days: Decimal

    @strawberry.field
    async def stage(self, info: strawberry.Info) -> PipelineStage:
        return await info.context.loader("pipeline_stage").load(self.stage_pk)


@strawberry.type
class OpportunityWinRate:
    won: int
    lost: int
    rate: Decimal | None


@strawberry.type
class PipelineVelocity:
    currency: str
    open_deals: int
    average_won_amount: Money | None
    win_rate: Decimal | None
    cycle_days: Decimal | None
    per_day: Money | None


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


@strawberry.type
class PipelineQuery:
    @strawberry.field(description="Active pipelines, the default first.")
    async def pipelines(self, info: strawberry.Info) -> list[Pipeline]:
        return [Pipeline.from_row(r) for r in await services.list_pipelines(info.context.actor)]

    @strawberry.field(description="The pipeline templates shipped with Kehu.")
    def pipeline_templates(self) -> list[PipelineTemplate]:
        return [
            PipelineTemplate(
                key=k,
                title=v.title,
                description=v.description,
                transition_policy=TransitionPolicyEnum(v.policy),
                stage_names=[s.name for s in v.stages],
            )
            for k, v in TEMPLATES.items()
        ]

    @strawberry.field(
        description="Opportunities you may see (keyset pagination). For a "
        "kanban column filter by stageId and order by KANBAN ascending."
    )
    async def opportunities(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        filter: OpportunityFilter | None = None,
        order_by: OpportunityOrderField = OpportunityOrderField.CREATED_AT,
        descending: bool = True,
    ) -> OpportunityConnection:
        actor = info.context.actor
        f = (filter or OpportunityFilter()).to_filter()
        page = await services.list_opportunities(
            actor, f, order_by=order_by.value, descending=descending, first=first, after=after
        )
        return make_connection(
            "Opportunity",
            page,
            composed("Opportunity").from_row,
            lambda: services.count_opportunities(actor, f),
        )

    @strawberry.field(description="Leads you may see, newest first.")
    async def leads(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        status: LeadStatusEnum | None = None,
    ) -> LeadConnection:
        actor = info.context.actor
        page = await services.list_leads(
            actor, status=status.value if status else None, first=first, after=after
        )

        async def count() -> int:
            query = t.Lead.count()
            scope = services.lead_scope(actor)
            if scope is not None:
                query = query.where(scope)
            if status is not None:
                query = query.where(t.Lead.status == status.value)
            return await query

        return make_connection("Lead", page, Lead.from_row, count)

    @strawberry.field(
        description="Weighted forecast Σ amount × probability of open and won "
        "deals closing in [periodStart, periodEnd); lost deals count 0."
    )
    async def forecast(
        self,
        info: strawberry.Info,
        period_start: dt.date | None = None,
        period_end: dt.date | None = None,
        group_by: ForecastGroupBy = ForecastGroupBy.CATEGORY,
        owner_id: strawberry.ID | None = None,
        team_id: strawberry.ID | None = None,
        pipeline_id: strawberry.ID | None = None,
    ) -> list[ForecastLine]:
        rows = await services.forecast(
            info.context.actor,
            period_start=period_start,
            period_end=period_end,
            group_by=group_by.value,
            owner_id=pk_of(owner_id, "User", "ownerId"),
            team_id=pk_of(team_id, "Team", "teamId"),
            pipeline_id=_pipeline_pk(pipeline_id),
        )
        return [
            ForecastLine(
                key=r.key,
                currency=r.currency,
                count=r.count,
                total=Money.of(r.total),
                weighted=Money.of(r.weighted),
            )
            for r in rows
        ]

    @strawberry.field(description="Forecast snapshots, newest first.")
    async def forecast_snapshots(
        self, info: strawberry.Info, first: int = 20
    ) -> list[ForecastSnapshot]:
        rows = await services.list_snapshots(info.context.actor, max(1, min(first, 100)))
        return [
            ForecastSnapshot(
                database_id=r["id"],
                taken_at=r["taken_at"],
                period_start=r["period_start"],
                period_end=r["period_end"],
            )
            for r in rows
        ]

    @strawberry.field(description="A snapshot's forecast against what was actually won.")
    async def forecast_vs_actual(
        self, info: strawberry.Info, snapshot_id: int
    ) -> list[ForecastComparison]:
        rows = await services.forecast_vs_actual(info.context.actor, snapshot_id)
        return [
            ForecastComparison(
                snapshot_id=r.snapshot_id,
                taken_at=r.taken_at,
                period_start=r.period_start,
                period_end=r.period_end,
                currency=r.currency,
                forecast_weighted=Money.of(r.forecast_weighted),
                forecast_commit=Money.of(r.forecast_commit),
                actual_won=Money.of(r.actual_won),
                variance=Money.of(r.variance),
            )
            for r in rows
        ]

    @strawberry.field(description="Funnel counts and stage conversion of a pipeline.")
    async def pipeline_funnel(
        self, info: strawberry.Info, pipeline_id: strawberry.ID
    ) -> list[PipelineFunnelStage]:
        rows = await services.funnel(info.context.actor, _pipeline_pk(pipeline_id))
        return [
            PipelineFunnelStage(
                stage_pk=r.stage_id,
                name=r.name,
                position=r.position,
                reached=r.reached,
                current=r.current,
                conversion=r.conversion,
            )
            for r in rows
        ]

    @strawberry.field(description="Mean days per stage over the deals you may see.")
    async def pipeline_stage_durations(
        self, info: strawberry.Info, pipeline_id: strawberry.ID
    ) -> list[PipelineStageDuration]:
        pk = _pipeline_pk(pipeline_id)
        averages = await services.average_time_in_stage(info.context.actor, pk)
        stages = (await services.stages_by_pipeline([pk]))[pk]
        return [
            PipelineStageDuration(stage_pk=s["id"], average_days=averages[s["id"]])
            for s in stages
            if s["id"] in averages
        ]

    @strawberry.field
    async def win_rate(
        self, info: strawberry.Info, pipeline_id: strawberry.ID | None = None
    ) -> OpportunityWinRate:
        r = await services.win_rate(info.context.actor, pipeline_id=_pipeline_pk(pipeline_id))
        return OpportunityWinRate(won=r.won, lost=r.lost, rate=r.rate)

    @strawberry.field(description="Mean days from creation to winning.")
    async def average_deal_cycle_days(
        self, info: strawberry.Info, pipeline_id: strawberry.ID | None = None
    ) -> Decimal | None:
        return await services.average_deal_cycle_days(
            info.context.actor, pipeline_id=_pipeline_pk(pipeline_id)
        )

    @strawberry.field(description="Open deals × average won amount × win rate ÷ cycle days.")
    async def pipeline_velocity(
        self, info: strawberry.Info, currency: str, pipeline_id: strawberry.ID | None = None
    ) -> PipelineVelocity:
        v = await services.pipeline_velocity(
            info.context.actor, currency=currency, pipeline_id=_pipeline_pk(pipeline_id)
        )
        return PipelineVelocity(
            currency=v.currency,
            open_deals=v.open_deals,
            average_won_amount=Money.of(v.average_won_amount),
            win_rate=v.win_rate,
            cycle_days=v.cycle_days,
            per_day=Money.of(v.per_day),
        )


# -- mutations ------------------------------------------------------------------------------


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


@strawberry.type
class OpportunityActivityPayload:
    activity: ActivityRef | None
    errors: list[UserError]


@strawberry.type
class PipelinePayload:
    pipeline: Pipeline | None
    errors: list[UserError]


@strawberry.type
class PipelineStagePayload:
    stage: PipelineStage | None
    errors: list[UserError]


@strawberry.type
class OpportunityPayload:
    opportunity: OpportunityRef | None
    errors: list[UserError]


@strawberry.type
class LeadPayload:
    lead: Lead | None
    errors: list[UserError]


@strawberry.type
class LeadConversion:
    lead: Lead
    customer: CustomerRef
    contact: ContactRef | None
    opportunity: OpportunityRef | None
    reused_customer: bool


@strawberry.type
class ConvertLeadPayload:
    conversion: LeadConversion | None
    errors: list[UserError]


@strawberry.type
class OpportunityDeletePayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


def _opp_id(value: strawberry.ID, field: str = "id") -> int:
    return pk_of(value, "Opportunity", field)


async def _opp(work: Any) -> OpportunityPayload:
    async def run() -> Any:
        return composed("Opportunity").from_row(await work())

    return await payload(OpportunityPayload, "opportunity", run)


async def _lead(work: Any) -> LeadPayload:
    async def run() -> Lead:
        return Lead.from_row(await work())

    return await payload(LeadPayload, "lead", run)


@strawberry.type
class PipelineMutation:
    @strawberry.mutation(
        description="Create a pipeline from a template or stages (pipeline:manage)."
    )
    async def create_pipeline(
        self, info: strawberry.Info, input: CreatePipelineInput
    ) -> PipelinePayload:
        async def work() -> Pipeline:
            row = await services.create_pipeline(
                info.context.actor,
                input.name,
                template=input.template,
                stages=[s.to_spec() for s in input.stages] if input.stages else None,
                transition_policy=input.transition_policy.value
                if input.transition_policy
                else None,
                approval_threshold=input.approval_threshold.to_value()
                if input.approval_threshold
                else None,
                stale_after_days=input.stale_after_days,
                description=input.description,
                is_default=input.is_default,
            )
            return Pipeline.from_row(row)

        return await payload(PipelinePayload, "pipeline", work)

    @strawberry.mutation(description="Edit a pipeline (pipeline:manage).")
    async def update_pipeline(
        self, info: strawberry.Info, input: UpdatePipelineInput
    ) -> PipelinePayload:
        async def work() -> Pipeline:
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

        return await payload(PipelinePayload, "pipeline", work)

    @strawberry.mutation(
        description="Replace the stage list: add (no id), rename/reorder/edit (with id), remove "
        "(leave out; refused while in use) — pipeline:manage."
    )
    async def set_pipeline_stages(
        self, info: strawberry.Info, input: SetPipelineStagesInput
    ) -> PipelinePayload:
        async def work() -> Pipeline:
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

        return await payload(PipelinePayload, "pipeline", work)

    @strawberry.mutation(description="Edit a stage (pipeline:manage).")
    async def update_pipeline_stage(
        self, info: strawberry.Info, input: UpdatePipelineStageInput
    ) -> PipelineStagePayload:
        async def work() -> PipelineStage:
            data = _given(
                input, ("name", "probability", "forecast_category", "required_fields", "back_to")
            )
            row = await services.update_stage(
                info.context.actor, pk_of(input.id, "PipelineStage"), data
            )
            return PipelineStage.from_row(row)

        return await payload(PipelineStagePayload, "stage", work)

    @strawberry.mutation
    async def create_opportunity(
        self, info: strawberry.Info, input: CreateOpportunityInput
    ) -> OpportunityPayload:
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

        return await _opp(lambda: services.create_opportunity(info.context.actor, data()))

    @strawberry.mutation(
        description="Edit an opportunity; expectedVersion guards against lost updates."
    )
    async def update_opportunity(
        self, info: strawberry.Info, input: UpdateOpportunityInput
    ) -> OpportunityPayload:
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

        return await _opp(
            lambda: services.update_opportunity(
                info.context.actor, _opp_id(input.id), input.expected_version, data()
            )
        )

    @strawberry.mutation(description="Delete an opportunity (opportunity:delete).")
    async def delete_opportunity(
        self, info: strawberry.Info, input: PipelineRecordInput
    ) -> OpportunityDeletePayload:
        async def work() -> strawberry.ID:
            await services.delete_opportunity(info.context.actor, _opp_id(input.id))
            return input.id

        return await payload(OpportunityDeletePayload, "deleted_id", work)

    @strawberry.mutation(
        description="Move to another open stage. Errors name the rule: "
        "STAGE_SKIPPED, BACKWARD_NOT_ALLOWED, REQUIRED_FIELD_MISSING, "
        "APPROVAL_REQUIRED, OPPORTUNITY_CLOSED, CLOSED_STAGE, WRONG_PIPELINE."
    )
    async def move_opportunity_stage(
        self, info: strawberry.Info, input: MoveOpportunityStageInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.move_stage(
                info.context.actor,
                _opp_id(input.id),
                pk_of(input.stage_id, "PipelineStage", "stageId"),
                input.expected_version,
                input.note,
            )
        )

    @strawberry.mutation(
        description="Approve a deal in the decision approval stage (opportunity:approve)."
    )
    async def approve_opportunity(
        self, info: strawberry.Info, input: OpportunityActionInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.approve_opportunity(
                info.context.actor, _opp_id(input.id), input.expected_version
            )
        )

    @strawberry.mutation(
        description="Close as won (enters the won stage under the same transition rules)."
    )
    async def win_opportunity(
        self, info: strawberry.Info, input: OpportunityActionInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.win_opportunity(
                info.context.actor, _opp_id(input.id), input.expected_version
            )
        )

    @strawberry.mutation(description="Close as lost with a reason.")
    async def lose_opportunity(
        self, info: strawberry.Info, input: LoseOpportunityInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.lose_opportunity(
                info.context.actor,
                _opp_id(input.id),
                input.reason,
                input.note,
                input.expected_version,
            )
        )

    @strawberry.mutation(description="Reopen a won or lost deal in the stage it closed from.")
    async def reopen_opportunity(
        self, info: strawberry.Info, input: OpportunityActionInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.reopen_opportunity(
                info.context.actor, _opp_id(input.id), input.expected_version
            )
        )

    @strawberry.mutation(
        description="Place the opportunity at a 0-based position in its stage's kanban column."
    )
    async def set_opportunity_kanban_position(
        self, info: strawberry.Info, input: OpportunityKanbanPositionInput
    ) -> OpportunityPayload:
        return await _opp(
            lambda: services.set_kanban_position(
                info.context.actor, _opp_id(input.id), input.position
            )
        )

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

    @strawberry.mutation(
        description="Capture a lead; DUPLICATE unless allowDuplicate when it "
        "matches an open lead or a customer."
    )
    async def create_lead(self, info: strawberry.Info, input: CreateLeadInput) -> LeadPayload:
        def data() -> dict[str, Any]:
            out = {
                k: getattr(input, k)
                for k in (
                    "name",
                    "company",
                    "email",
                    "phone",
                    "title",
                    "source",
                    "industry",
                    "size",
                    "notes",
                )
            }
            if input.factors is not None:
                out["factors"] = input.factors
            if input.owner_id is not None:
                out["owner"] = pk_of(input.owner_id, "User", "ownerId")
            return out

        return await _lead(
            lambda: services.create_lead(
                info.context.actor, data(), allow_duplicate=input.allow_duplicate
            )
        )

    @strawberry.mutation
    async def update_lead(self, info: strawberry.Info, input: UpdateLeadInput) -> LeadPayload:
        return await _lead(
            lambda: services.update_lead(
                info.context.actor,
                pk_of(input.id, "Lead"),
                input.expected_version,
                _given(
                    input,
                    (
                        "name",
                        "company",
                        "email",
                        "phone",
                        "title",
                        "source",
                        "industry",
                        "size",
                        "notes",
                        "factors",
                    ),
                ),
            )
        )

    @strawberry.mutation
    async def qualify_lead(self, info: strawberry.Info, input: PipelineRecordInput) -> LeadPayload:
        return await _lead(
            lambda: services.qualify_lead(info.context.actor, pk_of(input.id, "Lead"))
        )

    @strawberry.mutation
    async def disqualify_lead(
        self, info: strawberry.Info, input: DisqualifyLeadInput
    ) -> LeadPayload:
        return await _lead(
            lambda: services.disqualify_lead(
                info.context.actor, pk_of(input.id, "Lead"), input.reason
            )
        )

    @strawberry.mutation(
        description="Convert a lead into customer + contact + opportunity in "
        "one transaction, reusing a matching customer."
    )
    async def convert_lead(
        self, info: strawberry.Info, input: ConvertLeadInput
    ) -> ConvertLeadPayload:
        async def work() -> LeadConversion:
            opportunity: dict[str, Any] = {}
            if input.opportunity_name:
                opportunity["name"] = input.opportunity_name
            if input.pipeline_id is not None:
                opportunity["pipeline"] = _pipeline_pk(input.pipeline_id)
            if input.amount is not None:
                opportunity["amount"] = input.amount.to_value()
            if input.expected_close_date is not None:
                opportunity["expected_close_date"] = input.expected_close_date
            result = await services.convert_lead(
                info.context.actor,
                pk_of(input.id, "Lead"),
                opportunity=opportunity,
                create_opportunity_too=input.create_opportunity,
                customer_id=pk_of(input.customer_id, "Customer", "customerId"),
            )
            return LeadConversion(
                lead=Lead.from_row(result.lead),
                customer=composed("Customer").from_row(result.customer),
                contact=composed("Contact").from_row(result.contact) if result.contact else None,
                opportunity=composed("Opportunity").from_row(result.opportunity)
                if result.opportunity
                else None,
                reused_customer=result.reused_customer,
            )

        return await payload(ConvertLeadPayload, "conversion", work)

    @strawberry.mutation(
        description="Take a forecast snapshot of the current quarter now "
        "(pipeline:manage); the job does this periodically."
    )
    async def take_forecast_snapshot(self, info: strawberry.Info) -> ForecastSnapshot:
        info.context.actor.require("pipeline:manage")
        r = await services.take_forecast_snapshot()
        return ForecastSnapshot(
            database_id=r["id"],
            taken_at=r["taken_at"],
            period_start=r["period_start"],
            period_end=r["period_end"],
        )


NODE_TYPES = [Pipeline, PipelineStage, Lead]  # Opportunity is composed (extensible)
