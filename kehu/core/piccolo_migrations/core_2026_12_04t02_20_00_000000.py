"""Composite indexes of the outbox tables (Piccolo declares single-column ones only): one
delivery row per (subscriber, event), one opt-out per (user, kind), and the lookup of a
subscriber's pending deliveries."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T02:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Outbox indexes: deliveries (subscriber, event), opt-outs (user, kind)"

INDEXES = {
    "core_event_delivery_subscriber_event": "UNIQUE INDEX IF NOT EXISTS {} ON "
    "core_event_delivery (subscriber, event)",
    "core_event_delivery_subscriber_status": "INDEX IF NOT EXISTS {} ON "
    "core_event_delivery (subscriber, status, entity_key)",
    "core_notification_optout_user_kind": "UNIQUE INDEX IF NOT EXISTS {} ON "
    "core_notification_optout (\"user\", kind)",
    "core_event_entity": "INDEX IF NOT EXISTS {} ON core_event (entity, entity_id)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)

    async def create() -> None:
        for name, statement in INDEXES.items():
            await engine_finder().run_ddl("CREATE " + statement.format(name))

    async def drop() -> None:
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
