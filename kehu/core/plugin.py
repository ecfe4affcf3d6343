"""The core plugin: customers, contacts, activities, users/teams, audit."""

from kehu.core.hookspecs import hookimpl
from kehu.core.permissions import CORE_PERMISSIONS
from kehu.core.runtime import PluginInfo


@hookimpl
def kehu_plugin_info() -> PluginInfo:
    from kehu import __version__

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

    return [CoreQuery]


@hookimpl
def kehu_graphql_mutations() -> list[type]:
    from kehu.core.graphql.api import CoreMutation

    return [CoreMutation]


@hookimpl
def kehu_graphql_dataloaders() -> dict:
    from kehu.core.graphql.loaders import CORE_LOADERS

    return CORE_LOADERS


@hookimpl
async def kehu_timeline_entries(actor, customer_id, before, limit):
    from kehu.core.services.timeline import activity_entries

    return await activity_entries(customer_id, before, limit)
