"""Piccolo app of the pipeline tables; its migrations run after core's."""

import os

from piccolo.conf.apps import AppConfig

from kehu.plugins.pipeline.tables import PIPELINE_TABLES

APP_CONFIG = AppConfig(
    app_name="pipeline",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=PIPELINE_TABLES,
    migration_dependencies=["kehu.core.piccolo_app"],
    commands=[],
)
