"""Surveys by the record they follow (``related_type``, ``related_id``, ``kind``): the won-deal
handler checks for an existing survey before it creates one, on every delivery of the event.
Piccolo declares single-column indexes only, hence raw SQL (same on SQLite and PostgreSQL)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T03:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Survey index (related_type, related_id, kind) for one survey per won deal"

INDEXES = {"tickets_survey_related": "tickets_survey (related_type, related_id, kind)"}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tickets", description=DESCRIPTION)

    async def create() -> None:
        for name, target in INDEXES.items():
            await engine_finder().run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    async def drop() -> None:
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
