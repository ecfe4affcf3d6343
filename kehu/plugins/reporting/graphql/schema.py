"""Reporting GraphQL, table of contents: the root queries (metrics, runs, comparisons,
dashboards) and what ``plugin.py`` hands to Kehu."""

import datetime as dt
from typing import Annotated

import strawberry

from kehu.plugins.reporting import services
from kehu.plugins.reporting.graphql.inputs import MetricFilterInput, PeriodInput, _filters
from kehu.plugins.reporting.graphql.mutations.dashboards import DashboardMutations
from kehu.plugins.reporting.graphql.types import (
    ComparisonRow,
    DashboardType,
    DimensionValue,
    Granularity,
    MetricInfo,
    MetricResult,
    MetricRowType,
)


@strawberry.type
class ReportingQuery:
    @strawberry.field(description="Metrics of the enabled plugins.")
    def metrics(self, info: strawberry.Info) -> list[MetricInfo]:
        info.context.actor.require("report:read")
        return [MetricInfo.of(metric) for metric in services.all_metrics().values()]

    @strawberry.field(description="Compute a metric; rows obey your visibility.")
    async def metric(
        self,
        info: strawberry.Info,
        name: str,
        dimensions: list[str] | None = None,
        filters: list[MetricFilterInput] | None = None,
        start: Annotated[
            dt.datetime | None,
            strawberry.argument(name="from", description="Start of [from, to)."),
        ] = None,
        end: Annotated[
            dt.datetime | None, strawberry.argument(name="to", description="End, exclusive.")
        ] = None,
        granularity: Granularity = Granularity.MONTH,
    ) -> MetricResult:
        metric, rows = await services.run_metric(
            info.context.actor,
            name,
            dimensions=tuple(dimensions or ()),
            filters=_filters(filters),
            start=start,
            end=end,
            granularity=granularity.value,
        )
        return MetricResult(metric=MetricInfo.of(metric), rows=[MetricRowType.of(r) for r in rows])

    @strawberry.field(description="Optimisation effect between two periods.")
    async def compare(
        self,
        info: strawberry.Info,
        name: str,
        before: PeriodInput,
        after: PeriodInput,
        dimensions: list[str] | None = None,
        filters: list[MetricFilterInput] | None = None,
    ) -> list[ComparisonRow]:
        rows = await services.compare_metric(
            info.context.actor,
            name,
            (before.start, before.end),
            (after.start, after.end),
            tuple(dimensions or ()),
            _filters(filters),
        )
        return [
            ComparisonRow(
                dimensions=[DimensionValue(name=k, value=v) for k, v in r.dimensions.items()],
                before=r.before,
                after=r.after,
                effect=r.effect,
            )
            for r in rows
        ]

    @strawberry.field(description="Your dashboards and those shared with your team.")
    async def dashboards(self, info: strawberry.Info) -> list[DashboardType]:
        return [DashboardType.of(r) for r in await services.list_dashboards(info.context.actor)]


QUERIES = [ReportingQuery]
MUTATIONS = [DashboardMutations]
__all__ = ["MUTATIONS", "QUERIES", "ReportingQuery"]
