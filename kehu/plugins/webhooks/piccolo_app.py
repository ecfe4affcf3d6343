"""Piccolo app of the webhooks plugin."""

import os

from piccolo.conf.apps import AppConfig

from kehu.plugins.webhooks.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="webhooks",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=["kehu.core.piccolo_app"],
    commands=[],
)
