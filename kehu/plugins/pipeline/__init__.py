"""The built-in pipeline plugin: pipelines and stages, leads, opportunities, stage history,
forecasts, stale-deal reminders and pipeline metrics."""

__version__ = "0.1.0"
