"""Piccolo app of the pipeline ↔ contracts bridge."""

import os

from piccolo.conf.apps import AppConfig

from kehu.plugins.pipeline_contracts.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="pipeline_contracts",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=[
        "kehu.plugins.pipeline.piccolo_app",
        "kehu.plugins.contracts.piccolo_app",
    ],
    commands=[],
)
