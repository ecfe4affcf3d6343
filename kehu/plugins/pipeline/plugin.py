"""The pipeline plugin's hook implementations: the ``kehu`` entry point names this module.

GraphQL and click modules are imported inside the hooks that need them, so loading the
plugin for a migration, a job or the CLI stays cheap.
"""

from datetime import timedelta
from typing import Any

from kehu import Event, EventHook, EventType, Job, PluginInfo, hookimpl
from kehu.core.context import current
from kehu.core.money import Money
from kehu.core.permissions import EVERYONE
from kehu.plugins.pipeline import __version__, hookspecs, services
from kehu.plugins.pipeline.settings import PipelineSettings

NAME = "pipeline"


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    return PluginInfo(NAME, __version__, "Pipelines, leads, opportunities, stage history, forecast")


@hookimpl
def kehu_add_hookspecs(pm: Any) -> None:
    pm.add_hookspecs(hookspecs)


@hookimpl
def kehu_settings_model() -> type:
    return PipelineSettings


@hookimpl
def kehu_piccolo_app() -> str:
    return "kehu.plugins.pipeline.piccolo_app"


@hookimpl
def kehu_permissions() -> dict[str, set[str]]:
    sellers = {"admin", "manager", "sales"}
    return {
        "pipeline:read": EVERYONE,
        "pipeline:manage": {"admin", "manager"},
        "opportunity:read": EVERYONE,
        "opportunity:write": sellers,
        "opportunity:assign": {"admin", "manager"},
        "opportunity:approve": {"admin", "manager"},
        "opportunity:delete": {"admin", "manager"},
        "lead:read": EVERYONE,
        "lead:write": sellers,
        "lead:convert": sellers,
        "forecast:read": {"admin", "manager", "sales", "finance"},
    }


@hookimpl
def kehu_graphql_type_extensions() -> dict[str, list[type]]:
    from kehu.plugins.pipeline.graphql.schema import TYPE_EXTENSIONS

    return TYPE_EXTENSIONS


@hookimpl
def kehu_graphql_types() -> list[type]:
    from kehu.plugins.pipeline.graphql.schema import NODE_TYPES

    return NODE_TYPES


@hookimpl
def kehu_graphql_queries() -> list[type]:
    from kehu.plugins.pipeline.graphql.schema import QUERIES

    return QUERIES


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu.plugins.pipeline.graphql.schema import MUTATIONS

    return MUTATIONS


@hookimpl
def kehu_graphql_dataloaders() -> dict[str, Any]:
    from kehu.plugins.pipeline.graphql.schema import LOADERS

    return LOADERS


@hookimpl
def kehu_cli_commands() -> list[Any]:
    from kehu.plugins.pipeline.cli import pipeline

    return [pipeline]


@hookimpl
def kehu_jobs() -> list[Job]:
    every = current().plugin_settings(NAME).forecast_snapshot_every_days
    return [
        Job(
            "pipeline.forecast_snapshot",
            services.snapshot_job,
            every=timedelta(days=every),
            description="Snapshot the weighted forecast of the current quarter",
        ),
        Job(
            "pipeline.stale_deals",
            services.stale_job,
            every=timedelta(days=1),
            description="Remind owners of deals without a move or activity for N days",
        ),
    ]


@hookimpl
def kehu_event_types() -> list[EventType]:
    from kehu.plugins.pipeline.event_types import PIPELINE_EVENTS

    return PIPELINE_EVENTS


@hookimpl
def kehu_event_hooks() -> list[EventHook]:
    """Stage changes, wins and losses, published to other plugins after commit."""

    def stage_changed(e: Event) -> dict[str, Any]:
        return {
            "opportunity_id": e.entity_id,
            "customer_id": e.data["customer"],
            "from_stage": e.data.get("from_stage"),
            "to_stage": e.data["to_stage"],
            "actor_id": e.actor_id,
        }

    def won(e: Event) -> dict[str, Any]:
        return {
            "opportunity_id": e.entity_id,
            "customer_id": e.data["customer"],
            "amount": Money(int(e.data["amount_minor"]), e.data["currency"]),
            "owner_id": e.data.get("owner"),
        }

    def lost(e: Event) -> dict[str, Any]:
        return {
            "opportunity_id": e.entity_id,
            "customer_id": e.data["customer"],
            "reason": e.data.get("reason") or "",
            "owner_id": e.data.get("owner"),
        }

    return [
        EventHook("opportunity.stage_changed", "kehu_opportunity_stage_changed", stage_changed),
        EventHook("opportunity.won", "kehu_opportunity_won", won),
        EventHook("opportunity.lost", "kehu_opportunity_lost", lost),
    ]


@hookimpl
async def kehu_timeline_entries(actor: Any, customer_id: int, before: Any, limit: int) -> list[Any]:
    return await services.timeline_entries(actor, customer_id, before, limit)


@hookimpl
async def kehu_customers_merged(actor: Any, survivor_id: int, merged_id: int) -> None:
    await services.merge_customers(actor, survivor_id, merged_id)


@hookimpl
async def kehu_customers_reassigned(
    actor: Any, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> None:
    await services.reassign_customers(actor, customer_ids, from_user_id, to_user_id)


@hookimpl
async def kehu_demo_data(actor: Any, users: dict[str, Any]) -> None:
    from kehu.plugins.pipeline.demo import load_demo_data

    await load_demo_data(actor, users)


@hookimpl(optionalhook=True)
def kehu_report_metrics() -> list:
    """Sales, forecast, revenue and customer-value metrics for reporting (if enabled)."""
    from kehu.plugins.pipeline.report_metrics import report_metrics

    return report_metrics()
