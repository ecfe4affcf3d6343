"""Output types of the forecast and metrics queries."""

import datetime as dt
from decimal import Decimal
from enum import Enum

import strawberry

from kehu.core.graphql.base import Money
from kehu.plugins.pipeline.graphql.types import PipelineStage


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
