"""Piccolo app of the loyalty tables; its migrations run after core's."""

import os

from piccolo.conf.apps import AppConfig

from kehu_loyalty.tables import LOYALTY_TABLES

APP_CONFIG = AppConfig(
    app_name="loyalty",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=LOYALTY_TABLES,
    migration_dependencies=["kehu.core.piccolo_app"],
    commands=[],
)
