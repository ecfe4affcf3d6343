"""The loyalty plugin's hook implementations: the ``kehu`` entry point names this module.

GraphQL, Litestar and click modules are imported inside the hooks that need them, so loading
the plugin for a migration, a job or the CLI stays cheap.
"""

from datetime import timedelta
from typing import Any

from kehu import Event, EventType, Job, PluginInfo, hookimpl, on_events
from kehu.sdk import EVERYONE
from kehu_loyalty import __version__, hookspecs, services
from kehu_loyalty.settings import LoyaltySettings

NAME = "loyalty"


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    return PluginInfo(NAME, __version__, "Loyalty points: awards, redemptions, expiry")


@hookimpl
def kehu_add_hookspecs(pm: Any) -> None:
    pm.add_hookspecs(hookspecs)


@hookimpl
def kehu_settings_model() -> type:
    return LoyaltySettings


@hookimpl
def kehu_piccolo_app() -> str:
    return "kehu_loyalty.piccolo_app"


@hookimpl
def kehu_permissions() -> dict[str, set[str]]:
    return {
        "loyalty:read": EVERYONE,
        "loyalty:award": {"admin", "manager", "sales"},
        "loyalty:redeem": {"admin", "manager", "sales", "support"},
        "loyalty:expire": {"admin"},
    }


@hookimpl
def kehu_graphql_type_extensions() -> dict[str, list[type]]:
    from kehu_loyalty.graphql.schema import TYPE_EXTENSIONS

    return TYPE_EXTENSIONS


@hookimpl
def kehu_graphql_types() -> list[type]:
    from kehu_loyalty.graphql.schema import NODE_TYPES

    return NODE_TYPES


@hookimpl
def kehu_graphql_queries() -> list[type]:
    from kehu_loyalty.graphql.schema import QUERIES

    return QUERIES


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu_loyalty.graphql.schema import MUTATIONS

    return MUTATIONS


@hookimpl
def kehu_graphql_dataloaders() -> dict[str, Any]:
    from kehu_loyalty.graphql.schema import LOADERS

    return LOADERS


@hookimpl
def kehu_route_handlers() -> list[Any]:
    from kehu_loyalty.routes import customer_points

    return [customer_points]


@hookimpl
def kehu_cli_commands() -> list[Any]:
    from kehu_loyalty.cli import loyalty

    return [loyalty]


@hookimpl
def kehu_jobs() -> list[Job]:
    return [
        Job(
            "loyalty.expire",
            services.expire_due,
            every=timedelta(days=1),
            description="Expire loyalty points older than expire_after_days",
        )
    ]


@hookimpl
@on_events("activity.created")
async def kehu_event(event: Event) -> None:
    if event.name == "activity.created" and event.entity_id is not None:
        await services.award_for_activity(event.entity_id, event.data)


@hookimpl
def kehu_event_types() -> list[EventType]:
    from kehu_loyalty.event_types import LOYALTY_EVENTS

    return LOYALTY_EVENTS


@hookimpl
async def kehu_timeline_entries(customer_id: int, before: Any, limit: int) -> list[Any]:
    from kehu_loyalty.timeline import timeline_entries

    return await timeline_entries(customer_id, before, limit)


@hookimpl
async def kehu_customers_merged(actor: Any, survivor_id: int, merged_id: int) -> None:
    await services.merge_accounts(actor, survivor_id, merged_id)


@hookimpl
async def kehu_demo_data(actor: Any) -> None:
    from kehu_loyalty.demo import load_demo_data

    await load_demo_data(actor)
