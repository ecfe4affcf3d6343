"""Piccolo configuration built from the enabled plugins (``PICCOLO_CONF`` points here).

Kehu sets ``DB`` and ``APP_REGISTRY`` when the runtime starts; the ``piccolo`` CLI can use this
module too (``PICCOLO_CONF=kehu.core.piccolo_conf piccolo migrations new core --auto``).
"""

from typing import Any


def configure(db: Any, apps: list[str]) -> None:
    from piccolo.conf.apps import AppRegistry

    globals()["DB"] = db
    globals()["APP_REGISTRY"] = AppRegistry(apps=apps)


def __getattr__(name: str) -> Any:
    # Used by the piccolo CLI without a running Kehu: build from settings on first access.
    if name in {"DB", "APP_REGISTRY"}:
        from kehu.core.runtime import Kehu

        Kehu.from_settings()
        return globals()[name]
    raise AttributeError(name)
