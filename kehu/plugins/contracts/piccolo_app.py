"""Piccolo app of the contracts tables; its migrations run after core's."""

import os

from piccolo.conf.apps import AppConfig

from kehu.plugins.contracts.tables import CONTRACTS_TABLES

APP_CONFIG = AppConfig(
    app_name="contracts",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=CONTRACTS_TABLES,
    migration_dependencies=["kehu.core.piccolo_app"],
    commands=[],
)
