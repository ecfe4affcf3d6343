"""The metric registry: what a metric is, how it is queried, and period comparison."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kehu.core.errors import FieldError, PluginError, ValidationFailed
from kehu.core.permissions import Actor

GRANULARITIES = ("day", "month", "quarter", "year")
UNITS = ("count", "percent", "money", "days", "ratio")
CHARTS = ("bar", "line", "funnel")


@dataclass(frozen=True)
class MetricQuery:
    """What to compute: group by ``dimensions``, narrow by ``filters`` (dimension → value),
    restricted to ``[start, end)`` for time-based metrics, periods of ``granularity``."""

    actor: Actor
    dimensions: tuple[str, ...] = ()
    filters: dict[str, str] = field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    granularity: str = "month"


@dataclass(frozen=True)
class MetricRow:
    """One group: its dimension values and the value (money: major units + ``currency``).
    ``measures`` are the named figures the value is derived from or explained by (a funnel
    stage's ``conversion``, a forecast's ``actual`` and ``variance``...), ``None`` when
    undefined (a ratio over zero)."""

    dimensions: dict[str, str]
    value: Decimal
    currency: str | None = None
    measures: dict[str, Decimal | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    """A metric contributed through ``kehu_report_metrics``. ``compute`` runs the aggregate in
    SQL, applies the actor's visibility, and returns at most one row per group."""

    name: str
    title: str
    description: str
    formula: str
    unit: str
    dimensions: tuple[str, ...]
    compute: Callable[[MetricQuery], Awaitable[list[MetricRow]]]
    filters: tuple[str, ...] = ()
    chart: str = "bar"
    time_based: bool = True
    plugin: str = ""

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise PluginError(f"Metric {self.name}: unit must be one of {', '.join(UNITS)}")
        if self.chart not in CHARTS:
            raise PluginError(f"Metric {self.name}: chart must be one of {', '.join(CHARTS)}")


def registry(kehu: Any) -> dict[str, Metric]:
    """Every enabled plugin's metrics by name; a name defined twice is a startup error."""
    found: dict[str, Metric] = {}
    for plugin, metrics in kehu.call_each("kehu_report_metrics"):
        for metric in metrics:
            if metric.name in found:
                raise PluginError(
                    f"Metric {metric.name!r} is defined by both "
                    f"{found[metric.name].plugin!r} and {plugin!r}"
                )
            found[metric.name] = Metric(**{**metric.__dict__, "plugin": plugin})
    return dict(sorted(found.items()))


def check_query(metric: Metric, query: MetricQuery) -> None:
    """Reject dimensions, filters or periods the metric does not support."""
    errors = []
    allowed = set(metric.dimensions)
    for name in query.dimensions:
        if name not in allowed:
            errors.append(
                FieldError(
                    "dimensions",
                    f"{metric.name} cannot be grouped by "
                    f"{name!r}; allowed: {', '.join(metric.dimensions)}",
                    "INVALID_DIMENSION",
                )
            )
    for name in query.filters:
        if name not in allowed | set(metric.filters):
            errors.append(
                FieldError(
                    "filters", f"{metric.name} cannot be filtered by {name!r}", "INVALID_FILTER"
                )
            )
    if query.granularity not in GRANULARITIES:
        errors.append(
            FieldError(
                "granularity",
                f"granularity must be one of {', '.join(GRANULARITIES)}",
                "INVALID_CHOICE",
            )
        )
    if query.start and query.end and query.start >= query.end:
        errors.append(FieldError("from", "from must be before to", "INVALID_PERIOD"))
    if len(set(query.dimensions)) != len(query.dimensions):
        errors.append(FieldError("dimensions", "a dimension is given twice", "INVALID"))
    if errors:
        raise ValidationFailed(errors)


async def run(metric: Metric, query: MetricQuery) -> list[MetricRow]:
    query.actor.require("report:read")
    check_query(metric, query)
    return await metric.compute(query)


@dataclass(frozen=True)
class Comparison:
    """The optimisation effect of a metric between two periods: (after − before) / before."""

    dimensions: dict[str, str]
    before: Decimal | None
    after: Decimal | None
    effect: Decimal | None  # None when before is 0 or missing


def effect(before: Decimal | None, after: Decimal | None) -> Decimal | None:
    """(after − before) / before, as a fraction rounded half up to 4 places."""
    if before in (None, 0) or after is None:
        return None
    return ((after - before) / before).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


async def compare(
    metric: Metric,
    actor: Actor,
    before: tuple[datetime, datetime],
    after: tuple[datetime, datetime],
    dimensions: tuple[str, ...] = (),
    filters: dict[str, str] | None = None,
) -> list[Comparison]:
    """Compute ``metric`` over two periods and the effect per group."""
    if "period" in dimensions:
        raise ValidationFailed(
            "compare groups each period as a whole: drop 'period'", field="dimensions"
        )
    rows = {}
    for label, (start, end) in (("before", before), ("after", after)):
        query = MetricQuery(actor, dimensions, filters or {}, start, end)
        for row in await run(metric, query):
            key = tuple(sorted(row.dimensions.items()))
            rows.setdefault(key, {})[label] = row.value
    return [
        Comparison(
            dict(key), v.get("before"), v.get("after"), effect(v.get("before"), v.get("after"))
        )
        for key, v in sorted(rows.items())
    ]
