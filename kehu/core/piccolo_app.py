"""Piccolo app of the Kehu core tables."""

import os

from piccolo.conf.apps import AppConfig

from kehu.core.tables import CORE_TABLES

APP_CONFIG = AppConfig(
    app_name="core",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=CORE_TABLES,
    migration_dependencies=[],
    commands=[],
)
