"""Reporting GraphQL: ``metrics``, ``metric(...)``, ``compare(...)`` and dashboards.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
"""

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.errors import ValidationFailed
from kehu.core.graphql.base import UserError, encode_id, payload, pk_of
from kehu.plugins.reporting import metrics as m
from kehu.plugins.reporting import services


@strawberry.enum
class Granularity(Enum):
    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@strawberry.type(description="A metric available for the enabled plugins.")
class MetricInfo:
    name: str
    title: str
    description: str
    formula: str
    unit: str
    dimensions: list[str]
    filters: list[str]
    chart: str
    time_based: bool
    plugin: str

    @classmethod
    def of(cls, metric: m.Metric) -> "MetricInfo":
        return cls(
            name=metric.name,
            title=metric.title,
            description=metric.description,
            formula=metric.formula,
            unit=metric.unit,
            dimensions=list(metric.dimensions),
            filters=list(metric.filters),
            chart=metric.chart,
            time_based=metric.time_based,
            plugin=metric.plugin,
        )


@strawberry.type
class DimensionValue:
    name: str
    value: str


@strawberry.type(description="A named figure behind a row's value (null when undefined).")
class Measure:
    name: str
    value: Decimal | None


@strawberry.type(name="MetricRow", description="One group of a metric result.")
class MetricRowType:
    dimensions: list[DimensionValue]
    value: Decimal
    currency: str | None
    measures: list[Measure]

    @classmethod
    def of(cls, row: m.MetricRow) -> "MetricRowType":
        return cls(
            dimensions=[DimensionValue(name=k, value=v) for k, v in row.dimensions.items()],
            value=row.value,
            currency=row.currency,
            measures=[Measure(name=k, value=v) for k, v in row.measures.items()],
        )


@strawberry.type
class MetricResult:
    metric: MetricInfo
    rows: list[MetricRowType]


@strawberry.type(
    description="(after − before) / before for one group; effect is a fraction "
    "(-0.1667 = −16.67%), null when before is 0 or missing."
)
class ComparisonRow:
    dimensions: list[DimensionValue]
    before: Decimal | None
    after: Decimal | None
    effect: Decimal | None


@strawberry.input
class MetricFilterInput:
    name: str
    value: str


@strawberry.input(description="The period [from, to).")
class PeriodInput:
    start: dt.datetime = strawberry.field(name="from")
    end: dt.datetime = strawberry.field(name="to")


def _filters(items: list[MetricFilterInput] | None) -> dict[str, str]:
    return {f.name: f.value for f in items or []}


@strawberry.type(name="Dashboard", description="A saved list of metric queries.")
class DashboardType:
    id: strawberry.ID
    database_id: int
    name: str
    description: str
    shared: bool
    panels: JSON
    version: int
    owner_pk: strawberry.Private[int]
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> "DashboardType":
        return cls(
            id=encode_id("Dashboard", row["id"]),
            database_id=row["id"],
            name=row["name"],
            description=row["description"],
            shared=row["shared"],
            panels=row["panels"],
            version=row["version"],
            owner_pk=row["owner"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
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


@strawberry.input
class SaveDashboardInput:
    name: str
    panels: JSON = strawberry.field(
        description="[{metric, dimensions, filters, granularity, title}]"
    )
    description: str = ""
    shared: bool = False
    id: strawberry.ID | None = None
    expected_version: int | None = None


@strawberry.type
class DashboardPayload:
    dashboard: DashboardType | None
    errors: list[UserError]


@strawberry.type
class DeleteDashboardPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class ReportingMutation:
    @strawberry.mutation
    async def save_dashboard(
        self, info: strawberry.Info, input: SaveDashboardInput
    ) -> DashboardPayload:
        async def work() -> Any:
            if not isinstance(input.panels, list):
                raise ValidationFailed("panels must be a list", field="panels")
            row = await services.save_dashboard(
                info.context.actor,
                {
                    "name": input.name,
                    "description": input.description,
                    "shared": input.shared,
                    "panels": input.panels,
                },
                pk_of(input.id, "Dashboard"),
                input.expected_version,
            )
            return DashboardType.of(row)

        return await payload(DashboardPayload, "dashboard", work)

    @strawberry.mutation
    async def delete_dashboard(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> DeleteDashboardPayload:
        async def work() -> Any:
            await services.delete_dashboard(info.context.actor, pk_of(id, "Dashboard"))
            return id

        return await payload(DeleteDashboardPayload, "deleted_id", work)
