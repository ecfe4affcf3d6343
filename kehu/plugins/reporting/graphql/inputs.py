"""Reporting GraphQL inputs: metric filters, periods and dashboards."""

import datetime as dt

import strawberry
from strawberry.scalars import JSON


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
