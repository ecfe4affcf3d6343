"""The webhooks plugin's hook implementations: the ``kehu`` entry point names this module."""

from typing import Any

from kehu import EventType, PluginInfo, hookimpl
from kehu.plugins.webhooks import __version__

NAME = "webhooks"


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    return PluginInfo(
        NAME, __version__, "Signed webhooks (Standard Webhooks) with retries and a delivery log"
    )


@hookimpl
def kehu_settings_model() -> type:
    from kehu.plugins.webhooks.settings import WebhooksSettings

    return WebhooksSettings


@hookimpl
def kehu_piccolo_app() -> str:
    return "kehu.plugins.webhooks.piccolo_app"


@hookimpl
def kehu_permissions() -> dict[str, set[str]]:
    return {"webhook:manage": {"admin"}}


@hookimpl
def kehu_event_types() -> list[EventType]:
    from kehu.plugins.webhooks.event_types import WEBHOOK_EVENTS

    return WEBHOOK_EVENTS


@hookimpl
async def kehu_event_subscribers() -> list[Any]:
    """One subscriber per active endpoint whose owner is active."""
    from kehu.plugins.webhooks.services.sending import subscribers

    return await subscribers()


@hookimpl
def kehu_mail_templates() -> list[Any]:
    from kehu.plugins.webhooks.notifications import TEMPLATES

    return TEMPLATES


@hookimpl
def kehu_graphql_types() -> list[type]:
    from kehu.plugins.webhooks.graphql.schema import NODE_TYPES

    return NODE_TYPES


@hookimpl
def kehu_graphql_queries() -> list[type]:
    from kehu.plugins.webhooks.graphql.schema import QUERIES

    return QUERIES


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu.plugins.webhooks.graphql.schema import MUTATIONS

    return MUTATIONS


@hookimpl
def kehu_graphql_dataloaders() -> dict[str, Any]:
    from kehu.plugins.webhooks.graphql.schema import LOADERS

    return LOADERS


@hookimpl
def kehu_cli_commands() -> list[Any]:
    from kehu.plugins.webhooks.cli import webhooks

    return [webhooks]
