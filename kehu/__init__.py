"""Kehu (客户): a plugin-based, headless CRM framework."""

from kehu.core.event_types import EventHook, EventType, on_events
from kehu.core.events import Event
from kehu.core.hookspecs import hookimpl, hookspec
from kehu.core.info import Job, PluginInfo
from kehu.core.money import Money
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings
from kehu.version import __version__


def create_app(settings: Settings | None = None, kehu: Kehu | None = None):
    """Build the Litestar application (see ``kehu.api.app``)."""
    from kehu.api.app import create_app as _create_app

    return _create_app(settings=settings, kehu=kehu)


__all__ = [
    "Event",
    "EventHook",
    "EventType",
    "Job",
    "Kehu",
    "Money",
    "PluginInfo",
    "Settings",
    "__version__",
    "create_app",
    "hookimpl",
    "hookspec",
    "on_events",
]
