"""Reporting GraphQL output types: metric descriptions, results, comparisons and dashboards.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup."""

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.graphql.base import encode_id
from kehu.plugins.reporting.services import registry as m


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
