"""Piccolo app of the tickets tables; its migrations run after core's."""

import os

from piccolo.conf.apps import AppConfig

from kehu.plugins.tickets.tables import TICKETS_TABLES

APP_CONFIG = AppConfig(
    app_name="tickets",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=TICKETS_TABLES,
    migration_dependencies=["kehu.core.piccolo_app"],
    commands=[],
)
