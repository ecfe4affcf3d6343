"""Hooks the reporting plugin publishes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kehu import hookspec

if TYPE_CHECKING:
    from kehu.plugins.reporting.metrics import Metric


@hookspec
def kehu_report_metrics() -> list[Metric]:
    """Return the plugin's ``kehu.plugins.reporting.metrics.Metric`` objects (implement with
    ``@hookimpl(optionalhook=True)`` so the plugin also works without reporting)."""
