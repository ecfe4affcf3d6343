"""Reporting: a metric registry fed by every plugin, exports, charts and dashboards."""
