"""The hooks Kehu core calls. Each one is documented in ``docs/plugin_hooks.md``.

Hooks that do I/O may be implemented as ``async def``: Kehu awaits the coroutine.
Contributions are merged in dependency order of the plugins, never in pluggy's call order.
"""

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("kehu")
hookimpl = pluggy.HookimplMarker("kehu")


@hookspec
def kehu_plugin_info() -> Any:
    """Describe the plugin: return a ``kehu.PluginInfo`` (name, version, description, depends)."""


@hookspec
def kehu_add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Publish hookspecs for other plugins: ``pm.add_hookspecs(MySpecs)``."""


@hookspec
def kehu_settings_model() -> Any:
    """Return a pydantic model for this plugin's ``[plugin_settings.<name>]`` section."""


@hookspec
def kehu_configure(kehu: Any) -> None:
    """Called once after all plugins are loaded, with the ``Kehu`` runtime object."""


@hookspec
def kehu_piccolo_app() -> Any:
    """Return the plugin's Piccolo ``AppConfig`` (tables and migrations)."""


@hookspec
def kehu_permissions() -> Any:
    """Return ``{scope: [roles...]}``: the scopes this plugin defines and the roles granted them."""


@hookspec
def kehu_graphql_queries() -> Any:
    """Return Strawberry types whose fields are merged into the root ``Query``."""


@hookspec
def kehu_graphql_mutations() -> Any:
    """Return Strawberry types whose fields are merged into the root ``Mutation``."""


@hookspec
def kehu_graphql_subscriptions() -> Any:
    """Return Strawberry types whose fields are merged into the root ``Subscription``."""


@hookspec
def kehu_graphql_type_extensions() -> Any:
    """Return ``{"Customer": [Mixin, ...]}``: resolver fields added to core or plugin types."""


@hookspec
def kehu_graphql_types() -> Any:
    """Return extra Strawberry types to include in the schema (e.g. Node implementations)."""


@hookspec
def kehu_graphql_schema_extensions() -> Any:
    """Return Strawberry schema extensions (classes or instances) to install."""


@hookspec
def kehu_graphql_dataloaders() -> Any:
    """Return ``{name: batch_function}``; ``info.context.loader(name)`` gives a per-request
    DataLoader whose batch function is called as ``batch(context, keys)``."""


@hookspec
def kehu_graphql_context(context: Any) -> None:
    """Add per-request values to the GraphQL context (``context.extra[...]``)."""


@hookspec
def kehu_route_handlers() -> Any:
    """Return Litestar route handlers or controllers to mount on the app."""


@hookspec
def kehu_cli_commands() -> Any:
    """Return click commands or groups added under the ``kehu`` command."""


@hookspec
def kehu_jobs() -> Any:
    """Return ``kehu.Job`` objects: periodic work run by ``kehu worker``."""


@hookspec
def kehu_demo_data(actor: Any, users: dict[str, Any]) -> Any:
    """Load this plugin's demo data (async allowed). ``users`` maps demo usernames to ids.
    Runs after the plugins it depends on; must be idempotent."""


@hookspec
def kehu_event(event: Any) -> Any:
    """Receive a committed domain event (``kehu.Event``), at least once: a failure is retried
    with backoff, then dead-lettered; a plugin gets one entity's events in commit order.
    Deduplicate on ``event.id``. Never called for rolled-back work."""


@hookspec
def kehu_event_types() -> Any:
    """Return ``kehu.EventType`` declarations: every event name the plugin emits, its data
    fields, the permission a receiver needs and the GraphQL type of its entity."""


@hookspec
def kehu_event_hooks() -> Any:
    """Return ``kehu.EventHook`` objects: typed hooks this plugin publishes for its events
    (``opportunity.won`` → ``kehu_opportunity_won(...)``), delivered like ``kehu_event``."""


@hookspec
def kehu_mail_templates() -> Any:
    """Return ``kehu.core.mail.MailTemplate`` objects: the e-mail notifications this plugin
    sends (``queue_mail(kind, ...)``), with Chinese and English subject and body."""


@hookspec
def kehu_event_subscribers() -> Any:
    """Return further event subscribers (``kehu.core.delivery.Subscriber``), e.g. one per
    webhook endpoint (async allowed)."""


@hookspec
def kehu_timeline_entries(actor: Any, customer_id: int, before: Any, limit: int) -> Any:
    """Return the newest ``limit`` ``TimelineEntry`` items for a customer at or before
    ``before`` (inclusive; ``None`` = now)."""


@hookspec
def kehu_customers_merged(actor: Any, survivor_id: int, merged_id: int) -> Any:
    """Re-point this plugin's rows from ``merged_id`` to ``survivor_id`` (same transaction)."""


@hookspec
def kehu_customers_reassigned(
    actor: Any, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> Any:
    """Hand over this plugin's open work for these customers to the new owner (same transaction)."""
