"""The hooks Kehu core calls. Each one is documented in ``docs/plugin_hooks.md``.

Hooks that do I/O may be implemented as ``async def``: Kehu awaits the coroutine
(``MaybeAsync``). Hooks are called through pluggy, in the plugins' dependency order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, Union

import pluggy

if TYPE_CHECKING:
    import click
    from pydantic import BaseModel
    from strawberry.extensions import SchemaExtension

    from kehu.core.delivery import Subscriber
    from kehu.core.event_types import EventHook, EventType
    from kehu.core.events import Event
    from kehu.core.graphql.base import KehuContext
    from kehu.core.info import Job, PluginInfo
    from kehu.core.mail import MailTemplate
    from kehu.core.permissions import Actor
    from kehu.core.runtime import Kehu
    from kehu.core.services.timeline import TimelineEntry

T = TypeVar("T")
MaybeAsync = Union[T, Awaitable[T]]  # noqa: UP007 - a generic alias: MaybeAsync[None]
"""A hook result that may be returned directly or by an ``async def`` implementation."""
Loader = Callable[["KehuContext", list[Any]], Awaitable[list[Any]]]

hookspec = pluggy.HookspecMarker("kehu")
hookimpl = pluggy.HookimplMarker("kehu")


@hookspec
def kehu_plugin_info() -> PluginInfo:
    """Describe the plugin: return a ``kehu.PluginInfo`` (name, version, description, depends)."""


@hookspec
def kehu_add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Publish hookspecs for other plugins: ``pm.add_hookspecs(MySpecs)``."""


@hookspec
def kehu_settings_model() -> type[BaseModel]:
    """Return a pydantic model for this plugin's ``[plugin_settings.<name>]`` section."""


@hookspec
def kehu_configure(kehu: Kehu) -> None:
    """Called once after all plugins are loaded, with the ``Kehu`` runtime object."""


@hookspec
def kehu_piccolo_app() -> str | ModuleType:
    """Return the plugin's Piccolo ``AppConfig`` (tables and migrations)."""


@hookspec
def kehu_permissions() -> Mapping[str, Iterable[str]]:
    """Return ``{scope: [roles...]}``: the scopes this plugin defines and the roles granted them."""


@hookspec
def kehu_graphql_queries() -> list[type]:
    """Return Strawberry types whose fields are merged into the root ``Query``."""


@hookspec
def kehu_graphql_mutations() -> list[type]:
    """Return Strawberry types whose fields are merged into the root ``Mutation``."""


@hookspec
def kehu_graphql_subscriptions() -> list[type]:
    """Return Strawberry types whose fields are merged into the root ``Subscription``."""


@hookspec
def kehu_graphql_type_extensions() -> Mapping[str, list[type]]:
    """Return ``{"Customer": [Mixin, ...]}``: resolver fields added to core or plugin types."""


@hookspec
def kehu_graphql_types() -> list[type]:
    """Return extra Strawberry types to include in the schema (e.g. Node implementations)."""


@hookspec
def kehu_graphql_schema_extensions() -> list[type[SchemaExtension] | SchemaExtension]:
    """Return Strawberry schema extensions (classes or instances) to install."""


@hookspec
def kehu_graphql_dataloaders() -> Mapping[str, Loader]:
    """Return ``{name: batch_function}``; ``info.context.loader(name)`` gives a per-request
    DataLoader whose batch function is called as ``batch(context, keys)``."""


@hookspec
def kehu_graphql_context(context: KehuContext) -> None:
    """Add per-request values to the GraphQL context (``context.extra[...]``)."""


@hookspec
def kehu_route_handlers() -> list[Any]:
    """Return Litestar route handlers or controllers to mount on the app."""


@hookspec
def kehu_cli_commands() -> list[click.Command]:
    """Return click commands or groups added under the ``kehu`` command."""


@hookspec
def kehu_jobs() -> list[Job]:
    """Return ``kehu.Job`` objects: periodic work run by ``kehu worker``."""


@hookspec
def kehu_demo_data(actor: Actor, users: dict[str, int]) -> MaybeAsync[None]:
    """Load this plugin's demo data (async allowed). ``users`` maps demo usernames to ids.
    Runs after the plugins it depends on; must be idempotent."""


@hookspec
def kehu_event(event: Event) -> MaybeAsync[None]:
    """Receive a committed domain event (``kehu.Event``), at least once: a failure is retried
    with backoff, then dead-lettered; a plugin gets one entity's events in commit order.
    Deduplicate on ``event.id``. Never called for rolled-back work."""


@hookspec
def kehu_event_types() -> list[EventType]:
    """Return ``kehu.EventType`` declarations: every event name the plugin emits, its data
    fields, the permission a receiver needs and the GraphQL type of its entity."""


@hookspec
def kehu_event_hooks() -> list[EventHook]:
    """Return ``kehu.EventHook`` objects: typed hooks this plugin publishes for its events
    (``opportunity.won`` → ``kehu_opportunity_won(...)``), delivered like ``kehu_event``."""


@hookspec
def kehu_mail_templates() -> list[MailTemplate]:
    """Return ``kehu.core.mail.MailTemplate`` objects: the e-mail notifications this plugin
    sends (``queue_mail(kind, ...)``), with Chinese and English subject and body."""


@hookspec
def kehu_event_subscribers() -> MaybeAsync[list[Subscriber]]:
    """Return further event subscribers (``kehu.core.delivery.Subscriber``), e.g. one per
    webhook endpoint (async allowed)."""


@hookspec
def kehu_timeline_entries(
    actor: Actor, customer_id: int, before: datetime | None, limit: int
) -> MaybeAsync[list[TimelineEntry]]:
    """Return the newest ``limit`` ``TimelineEntry`` items for a customer at or before
    ``before`` (inclusive; ``None`` = now)."""


@hookspec
def kehu_customers_merged(actor: Actor, survivor_id: int, merged_id: int) -> MaybeAsync[None]:
    """Re-point this plugin's rows from ``merged_id`` to ``survivor_id`` (same transaction)."""


@hookspec
def kehu_customers_reassigned(
    actor: Actor, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> MaybeAsync[None]:
    """Hand over this plugin's open work for these customers to the new owner (same transaction)."""
