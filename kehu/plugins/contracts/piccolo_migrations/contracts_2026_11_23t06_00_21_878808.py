from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date

ID = "2026-11-23T06:00:21:878808"
VERSION = "1.38.0"
DESCRIPTION = "Index contracts_allocation.applied_on (as-of aging, collected amount)"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="contracts", description=DESCRIPTION
    )

    manager.alter_column(
        table_class_name="Allocation",
        tablename="contracts_allocation",
        column_name="applied_on",
        db_column_name="applied_on",
        params={"index": True},
        old_params={"index": False},
        column_class=Date,
        old_column_class=Date,
        schema=None,
    )

    return manager
