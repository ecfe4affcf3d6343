"""The core plugin: customers, contacts, activities, users/teams, audit."""

from kehu.core.hookspecs import hookimpl
from kehu.core.info import PluginInfo
from kehu.core.permissions import CORE_PERMISSIONS


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    from kehu.version import __version__

    return PluginInfo("core", __version__, "Customers, contacts, activities, users, teams, audit")


@hookimpl
def kehu_piccolo_app() -> str:
    return "kehu.core.piccolo_app"


@hookimpl
def kehu_permissions() -> dict[str, set[str]]:
    return CORE_PERMISSIONS


@hookimpl
def kehu_graphql_queries() -> list[type]:
    from kehu.core.graphql.api import CoreQuery
    from kehu.core.graphql.events import EventsQuery
    from kehu.core.graphql.notifications import NotificationsQuery

    return [CoreQuery, EventsQuery, NotificationsQuery]


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu.core.graphql.api import CoreMutation
    from kehu.core.graphql.events import EventsMutation
    from kehu.core.graphql.notifications import NotificationsMutation

    return [CoreMutation, EventsMutation, NotificationsMutation]


@hookimpl
def kehu_graphql_subscriptions() -> list[type]:
    from kehu.core.graphql.events import EventsSubscription

    return [EventsSubscription]


@hookimpl
def kehu_graphql_dataloaders() -> dict:
    from kehu.core.graphql.loaders import CORE_LOADERS

    return CORE_LOADERS


@hookimpl
async def kehu_timeline_entries(actor, customer_id, before, limit):
    from kehu.core.services.timeline import activity_entries

    return await activity_entries(customer_id, before, limit)


@hookimpl
def kehu_jobs() -> list:
    from datetime import timedelta

    from kehu.core.info import Job

    async def stale_review(kehu) -> str:
        from kehu.core.permissions import system_actor
        from kehu.core.services.maintenance import plan_stale_reviews

        days = kehu.settings.stale_customer_days
        created = await plan_stale_reviews(system_actor(), days)
        return f"{created} stale-customer review task(s) planned"

    async def prune_events(kehu) -> str:
        from kehu.core.services import idempotency
        from kehu.core.services.events import prune

        gone = await prune(timedelta(days=kehu.settings.event_retention_days))
        keys = await idempotency.prune()
        return f"{gone} old event(s) pruned from the outbox, {keys} expired idempotency key(s)"

    return [
        Job(
            "core.stale-customers",
            stale_review,
            every=timedelta(days=1),
            description="Plan a review task for customers without activity for "
            "stale_customer_days days",
        ),
        Job(
            "core.prune-events",
            prune_events,
            every=timedelta(days=1),
            description="Delete outbox events older than event_retention_days that every "
            "subscriber has read, and idempotency keys older than 24 hours",
        ),
    ]


@hookimpl
def kehu_event_types() -> list:
    from kehu.core.core_events import CORE_EVENTS

    return CORE_EVENTS


@hookimpl
def kehu_cli_commands() -> list:
    from kehu.core.commands import COMMANDS

    return COMMANDS


@hookimpl
async def kehu_demo_data(actor, users):
    from kehu.core.demo import load_core_demo

    await load_core_demo(actor, users)


@hookimpl
def kehu_graphql_types() -> list[type]:
    from kehu.core.graphql import events, notifications
    from kehu.core.graphql.base import Money, MoneyInput

    # the money convention, the outbox and notifications are in every schema
    return [Money, MoneyInput, *events.TYPES, *notifications.TYPES]
