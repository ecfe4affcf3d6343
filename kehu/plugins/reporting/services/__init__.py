"""Reporting services: run metrics, compare periods, export, dashboards."""

from kehu.plugins.reporting.services.dashboards import (
    dashboard_scope,
    delete_dashboard,
    get_dashboard,
    list_dashboards,
    save_dashboard,
)
from kehu.plugins.reporting.services.reports import (
    all_metrics,
    compare_metric,
    export,
    get_metric,
    run_metric,
    to_records,
)

__all__ = [
    "all_metrics",
    "compare_metric",
    "dashboard_scope",
    "delete_dashboard",
    "export",
    "get_dashboard",
    "get_metric",
    "list_dashboards",
    "run_metric",
    "save_dashboard",
    "to_records",
]
