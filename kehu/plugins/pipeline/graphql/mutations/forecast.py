"""Forecast snapshot mutation."""

import strawberry

from kehu.plugins.pipeline import services
from kehu.plugins.pipeline.graphql.reports import ForecastSnapshot


@strawberry.type
class ForecastMutations:
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
