"""Piccolo app of the incentives tables; its migrations run after core's and pipeline's."""

import os

from piccolo.conf.apps import AppConfig

from kehu.plugins.incentives.tables import INCENTIVES_TABLES

APP_CONFIG = AppConfig(
    app_name="incentives",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=INCENTIVES_TABLES,
    migration_dependencies=["kehu.core.piccolo_app", "kehu.plugins.pipeline.piccolo_app"],
    commands=[],
)
