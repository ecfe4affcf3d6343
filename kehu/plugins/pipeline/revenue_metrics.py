"""Moved to kehu.plugins.pipeline.report_metrics.revenue (this path goes away in Kehu 0.3)."""

from kehu.core.deprecation import moved_module

moved_module(__name__, "kehu.plugins.pipeline.report_metrics.revenue")
