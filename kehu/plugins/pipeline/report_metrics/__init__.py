"""The pipeline's metrics for the reporting plugin (``kehu_report_metrics``): revenue
(``revenue.py``: won revenue, targets, customer value) and sales (``sales.py``: funnel, win
rate, deal cycle, velocity, forecast)."""

from kehu.plugins.pipeline.report_metrics.revenue import revenue_metrics
from kehu.plugins.pipeline.report_metrics.sales import sales_metrics
from kehu.plugins.reporting.hookspecs import Metric


def report_metrics() -> list[Metric]:
    return [*revenue_metrics(), *sales_metrics()]
