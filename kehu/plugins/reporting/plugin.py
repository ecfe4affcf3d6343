"""The reporting plugin's hook implementations."""

from typing import Any

from kehu import EventType, PluginInfo, __version__, hookimpl
from kehu.core.permissions import EVERYONE
from kehu.plugins.reporting import hookspecs


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    return PluginInfo(
        "reporting", __version__, "Metric registry, exports, SVG charts and dashboards"
    )


@hookimpl
def kehu_add_hookspecs(pm: Any) -> None:
    pm.add_hookspecs(hookspecs)


@hookimpl
def kehu_piccolo_app() -> str:
    return "kehu.plugins.reporting.piccolo_app"


@hookimpl
def kehu_permissions() -> dict[str, set[str]]:
    return {"report:read": EVERYONE, "dashboard:write": EVERYONE}


@hookimpl
def kehu_report_metrics() -> list:
    from kehu.plugins.reporting.report_metrics import report_metrics

    return report_metrics()


@hookimpl
def kehu_event_types() -> list[EventType]:
    from kehu.plugins.reporting.event_types import REPORTING_EVENTS

    return REPORTING_EVENTS


@hookimpl
def kehu_graphql_queries() -> list[type]:
    from kehu.plugins.reporting.graphql.schema import QUERIES

    return QUERIES


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu.plugins.reporting.graphql.schema import MUTATIONS

    return MUTATIONS


@hookimpl
def kehu_route_handlers() -> list:
    from kehu.plugins.reporting.routes import report

    return [report]


@hookimpl
def kehu_cli_commands() -> list:
    from kehu.plugins.reporting.cli import report

    return [report]
