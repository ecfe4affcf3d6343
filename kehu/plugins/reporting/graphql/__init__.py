"""Reporting GraphQL: ``schema.py`` is the table of contents (what ``plugin.py`` hands to
Kehu); ``types.py`` the output types, ``inputs.py``, ``loaders.py`` and ``mutations/`` one
module per aggregate.

The names this module held before it became a package still resolve, with a deprecation
warning naming their new module."""

from kehu.core.deprecation import moved_names

__getattr__ = moved_names(
    __name__,
    {
        "ComparisonRow": "kehu.plugins.reporting.graphql.types",
        "DashboardMutations": "kehu.plugins.reporting.graphql.mutations.dashboards",
        "DashboardType": "kehu.plugins.reporting.graphql.types",
        "DimensionValue": "kehu.plugins.reporting.graphql.types",
        "Granularity": "kehu.plugins.reporting.graphql.types",
        "Measure": "kehu.plugins.reporting.graphql.types",
        "MetricFilterInput": "kehu.plugins.reporting.graphql.inputs",
        "MetricInfo": "kehu.plugins.reporting.graphql.types",
        "MetricResult": "kehu.plugins.reporting.graphql.types",
        "MetricRowType": "kehu.plugins.reporting.graphql.types",
        "PeriodInput": "kehu.plugins.reporting.graphql.inputs",
        "ReportingQuery": "kehu.plugins.reporting.graphql.schema",
        "SaveDashboardInput": "kehu.plugins.reporting.graphql.inputs",
    },
)
