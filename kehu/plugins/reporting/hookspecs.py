"""Hooks the reporting plugin publishes, and what an implementation builds its metrics from.

A plugin's ``report_metrics.py`` imports from here only (``Metric`` and its query and row
types, and the SQL helpers every built-in metric uses), so it depends on reporting's published
surface and not on its internals.
"""

from __future__ import annotations

from kehu import hookspec
from kehu.plugins.reporting.services.registry import Metric, MetricQuery, MetricRow
from kehu.plugins.reporting.services.sql import (
    Source,
    first_day,
    grouped,
    id_of,
    labels,
    period_sql,
    utc_midnight,
)


@hookspec
def kehu_report_metrics() -> list[Metric]:
    """Return the plugin's ``Metric`` objects (implement with ``@hookimpl(optionalhook=True)``
    so the plugin also works without reporting)."""


__all__ = [
    "Metric",
    "MetricQuery",
    "MetricRow",
    "Source",
    "first_day",
    "grouped",
    "id_of",
    "kehu_report_metrics",
    "labels",
    "period_sql",
    "utc_midnight",
]
