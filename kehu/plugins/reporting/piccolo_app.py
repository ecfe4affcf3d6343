"""Piccolo app of the reporting plugin."""

import os

from piccolo.conf.apps import AppConfig

from kehu.plugins.reporting.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="reporting",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=["kehu.core.piccolo_app"],
    commands=[],
)
