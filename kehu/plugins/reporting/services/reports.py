"""Running metrics: the registry of the enabled plugins' metrics, one run, a period
comparison, and export as CSV or JSON."""

import io
import json
from datetime import datetime
from typing import Any

import kehu.plugins.reporting.services.registry as m
from kehu.core.context import current
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.permissions import Actor
from kehu.core.spreadsheet import SafeWriter


def all_metrics() -> dict[str, m.Metric]:
    return m.registry(current())


def get_metric(name: str) -> m.Metric:
    found = all_metrics().get(name)
    if found is None:
        raise NotFound(f"Metric {name!r} not found (kehu report lists the available ones)")
    return found


async def run_metric(
    actor: Actor,
    name: str,
    *,
    dimensions: tuple[str, ...] = (),
    filters: dict[str, str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    granularity: str = "month",
) -> tuple[m.Metric, list[m.MetricRow]]:
    metric = get_metric(name)
    query = m.MetricQuery(actor, tuple(dimensions), dict(filters or {}), start, end, granularity)
    return metric, await m.run(metric, query)


async def compare_metric(
    actor: Actor,
    name: str,
    before: tuple[datetime, datetime],
    after: tuple[datetime, datetime],
    dimensions: tuple[str, ...] = (),
    filters: dict[str, str] | None = None,
) -> list[m.Comparison]:
    return await m.compare(get_metric(name), actor, before, after, tuple(dimensions), filters)


def to_records(metric: m.Metric, rows: list[m.MetricRow]) -> list[dict[str, Any]]:
    """Flat rows for CSV/JSON: one column per dimension, the value (and currency), then one
    column per measure (empty when undefined)."""
    out = []
    for row in rows:
        record_ = dict(row.dimensions)
        record_[metric.unit] = str(row.value)
        if row.currency:
            record_["currency"] = row.currency
        for name, value in row.measures.items():
            record_[name] = None if value is None else str(value)
        out.append(record_)
    return out


def export(metric: m.Metric, rows: list[m.MetricRow], fmt: str, *, bom: bool = False) -> str:
    """The rows as ``json`` (undefined measures ``null``) or ``csv`` (empty cells, formula
    cells neutralised, a BOM first with ``bom``)."""
    records = to_records(metric, rows)
    if fmt == "json":
        return json.dumps(
            {"metric": metric.name, "unit": metric.unit, "rows": records},
            ensure_ascii=False,
            indent=2,
        )
    if fmt != "csv":
        raise ValidationFailed("format must be csv or json", field="format")
    out = io.StringIO()
    columns = list(dict.fromkeys(k for r in records for k in r)) or [metric.unit]
    writer = SafeWriter(out, bom=bom)
    writer.writerow(columns)
    writer.writerows([r.get(c) for c in columns] for r in records)
    return out.getvalue()
