"""The loyalty plugin's hook implementations: the ``kehu`` entry point names this module.

GraphQL, Litestar and click modules are imported inside the hooks that need them, so loading
the plugin for a migration, a job or the CLI stays cheap.
"""

from datetime import timedelta
from typing import Any

from kehu import Event, EventType, Job, Kehu, PluginInfo, hookimpl, on_events
from kehu.sdk import EVERYONE, now
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
    from kehu_loyalty.graphql import CustomerLoyalty

    return {"Customer": [CustomerLoyalty]}


@hookimpl
def kehu_graphql_types() -> list[type]:
    from kehu_loyalty.graphql import LoyaltyEntry

    return [LoyaltyEntry]


@hookimpl
def kehu_graphql_queries() -> list[type]:
    from kehu_loyalty.graphql import LoyaltyQuery

    return [LoyaltyQuery]


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu_loyalty.graphql import LoyaltyMutation

    return [LoyaltyMutation]


@hookimpl
def kehu_graphql_dataloaders() -> dict[str, Any]:
    from kehu_loyalty.graphql import LOADERS

    return LOADERS


@hookimpl
def kehu_route_handlers() -> list[Any]:
    from kehu_loyalty.routes import customer_points

    return [customer_points]


@hookimpl
def kehu_cli_commands() -> list[Any]:
    from kehu_loyalty.cli import loyalty

    return [loyalty]


async def expire_job(kehu: Kehu) -> str | None:
    """Expire points older than ``expire_after_days`` (0: points never expire)."""
    days = kehu.plugin_settings(NAME).expire_after_days
    if not days:
        return None
    points, customers = await services.expire_points(now() - timedelta(days=days))
    return f"expired {points} points of {customers} customer(s)"


@hookimpl
def kehu_jobs() -> list[Job]:
    return [
        Job(
            "loyalty.expire",
            expire_job,
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
    return await services.timeline_entries(customer_id, before, limit)


@hookimpl
async def kehu_customers_merged(actor: Any, survivor_id: int, merged_id: int) -> None:
    await services.merge_accounts(actor, survivor_id, merged_id)


@hookimpl
async def kehu_demo_data(actor: Any) -> None:
    await services.load_demo_data(actor)
