"""Hooks the reporting plugin publishes."""

from typing import Any

from kehu import hookspec


@hookspec
def kehu_report_metrics() -> Any:
    """Return the plugin's ``kehu.plugins.reporting.metrics.Metric`` objects (implement with
    ``@hookimpl(optionalhook=True)`` so the plugin also works without reporting)."""
