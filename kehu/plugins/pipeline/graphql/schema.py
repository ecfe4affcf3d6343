"""Pipeline GraphQL, table of contents: the root queries (lists, forecast, metrics) and what
``plugin.py`` hands to Kehu — query and mutation classes, node types, the fields added to
Customer and the DataLoaders."""

import datetime as dt
from decimal import Decimal

import strawberry

from kehu.core.graphql.base import Money, make_connection, pk_of
from kehu.core.graphql.types import composed
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.graphql.inputs import (
    OpportunityFilter,
    OpportunityOrderField,
    _pipeline_pk,
)
from kehu.plugins.pipeline.graphql.loaders import LOADERS
from kehu.plugins.pipeline.graphql.mutations.details import OpportunityDetailMutations
from kehu.plugins.pipeline.graphql.mutations.forecast import ForecastMutations
from kehu.plugins.pipeline.graphql.mutations.leads import LeadMutations
from kehu.plugins.pipeline.graphql.mutations.opportunities import OpportunityMutations
from kehu.plugins.pipeline.graphql.mutations.pipelines import PipelineMutations
from kehu.plugins.pipeline.graphql.reports import (
    ForecastComparison,
    ForecastGroupBy,
    ForecastLine,
    ForecastSnapshot,
    OpportunityWinRate,
    PipelineFunnelStage,
    PipelineStageDuration,
    PipelineVelocity,
)
from kehu.plugins.pipeline.graphql.types import (
    CustomerPipeline,
    Lead,
    LeadConnection,
    LeadStatusEnum,
    OpportunityConnection,
    Pipeline,
    PipelineStage,
    PipelineTemplate,
    TransitionPolicyEnum,
)
from kehu.plugins.pipeline.services.templates import TEMPLATES


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


NODE_TYPES = [Pipeline, PipelineStage, Lead]  # Opportunity is composed (extensible)

QUERIES = [PipelineQuery]
MUTATIONS = [
    PipelineMutations,
    OpportunityMutations,
    OpportunityDetailMutations,
    LeadMutations,
    ForecastMutations,
]
TYPE_EXTENSIONS = {"Customer": [CustomerPipeline]}
__all__ = ["LOADERS", "MUTATIONS", "NODE_TYPES", "QUERIES", "TYPE_EXTENSIONS", "PipelineQuery"]
