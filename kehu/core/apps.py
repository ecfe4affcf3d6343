"""A plugin's Piccolo app declared from its tables (``piccolo_app.py`` in one line)."""

import os
from collections.abc import Sequence

from piccolo.conf.apps import AppConfig
from piccolo.table import Table


def plugin_app(
    name: str, tables: Sequence[type[Table]], module_file: str, depends: Sequence[str] = ()
) -> AppConfig:
    """The Piccolo app of plugin ``name``: its tables, the ``piccolo_migrations`` folder
    beside ``module_file`` (pass ``__file__``), run after core's migrations and those of the
    ``depends`` apps (their ``piccolo_app`` module paths).

        APP_CONFIG = plugin_app("loyalty", TABLES, __file__)
    """
    return AppConfig(
        app_name=name,
        migrations_folder_path=os.path.join(os.path.dirname(module_file), "piccolo_migrations"),
        table_classes=list(tables),
        migration_dependencies=["kehu.core.piccolo_app", *depends],
        commands=[],
    )
