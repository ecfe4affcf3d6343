"""Covering indexes for the sales funnel: the stage history by (to_stage, opportunity) answers
COUNT(DISTINCT opportunity) per stage from the index alone; open deals per stage by
(stage, status). Piccolo declares single-column indexes only, hence raw SQL (same on SQLite
and PostgreSQL)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T06:02:09:258516"
VERSION = "1.38.0"
DESCRIPTION = "Funnel indexes: stage history (to_stage, opportunity), opportunity (stage, status)"

INDEXES = {
    "pipeline_stage_change_to_stage_opportunity": "pipeline_stage_change (to_stage, opportunity)",
    "pipeline_opportunity_stage_status": "pipeline_opportunity (stage, status)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="pipeline", description=DESCRIPTION)

    async def create() -> None:
        for name, target in INDEXES.items():
            await engine_finder().run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    async def drop() -> None:
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
