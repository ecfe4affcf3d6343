"""One idempotency record per (API key, Idempotency-Key): the unique index makes two
concurrent first requests with the same key race for one row, not both run."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T21:18:40:000000"
VERSION = "1.38.0"
DESCRIPTION = "Idempotency records: unique (scope, key)"
INDEX = "core_idempotency_scope_key"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="core", description=DESCRIPTION)

    async def create() -> None:
        await engine_finder().run_ddl(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {INDEX} ON core_idempotency (scope, key)"
        )

    async def drop() -> None:
        await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {INDEX}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
