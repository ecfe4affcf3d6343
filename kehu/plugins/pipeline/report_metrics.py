"""Pipeline metrics for the reporting plugin's registry (used only when reporting is enabled).

Each wraps a service function that aggregates in SQL with the actor's visibility."""

from decimal import Decimal

from kehu.core.errors import FieldError, ValidationFailed
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t


async def _pipeline_id(filters: dict[str, str]) -> int:
    """The ``pipeline`` filter (id or name), else the default pipeline."""
    value = filters.get("pipeline")
    if value is None:
        row = await services.default_pipeline()
    elif value.isdigit():
        row = await t.Pipeline.select(t.Pipeline.id).where(t.Pipeline.id == int(value)).first()
    else:
        row = await t.Pipeline.select(t.Pipeline.id).where(t.Pipeline.name == value).first()
    if row is None:
        raise ValidationFailed(FieldError("filters", f"Unknown pipeline {value!r}", "NOT_FOUND"))
    return row["id"]


def report_metrics() -> list:
    from kehu.plugins.reporting.metrics import Metric, MetricQuery, MetricRow

    async def funnel(q: MetricQuery) -> list[MetricRow]:
        stages = await services.funnel(q.actor, await _pipeline_id(q.filters))
        return [MetricRow({"stage": s.name}, Decimal(s.reached)) for s in stages]

    async def win_rate(q: MetricQuery) -> list[MetricRow]:
        pipeline = await _pipeline_id(q.filters) if "pipeline" in q.filters else None
        result = await services.win_rate(q.actor, pipeline_id=pipeline, since=q.start,
                                         until=q.end)
        rate = result.rate * 100 if result.rate is not None else Decimal(0)
        return [MetricRow({}, rate.quantize(Decimal("0.01")))]

    async def cycle(q: MetricQuery) -> list[MetricRow]:
        pipeline = await _pipeline_id(q.filters) if "pipeline" in q.filters else None
        days = await services.average_deal_cycle_days(q.actor, pipeline_id=pipeline)
        return [MetricRow({}, days or Decimal(0))]

    from kehu.plugins.pipeline.revenue_metrics import revenue_metrics

    return [
        *revenue_metrics(),
        Metric("pipeline.funnel", "Sales funnel",
               "Deals that ever reached each open or won stage of a pipeline (default pipeline "
               "unless filtered); the chart shows each stage's conversion from the previous.",
               "COUNT(DISTINCT deals entering the stage)", "count", ("stage",), funnel,
               filters=("pipeline",), chart="funnel", time_based=False),
        Metric("pipeline.win_rate", "Win rate", "Won ÷ (won + lost) of deals closed in the "
               "period.", "won / (won + lost) × 100", "percent", (), win_rate,
               filters=("pipeline",)),
        Metric("pipeline.deal_cycle", "Average deal cycle",
               "Mean days from creation to winning, over won deals.",
               "AVG(won_at − created_at) in days", "days", (), cycle, filters=("pipeline",),
               time_based=False),
    ]
