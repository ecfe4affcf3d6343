"""What a plugin declares to the runtime: its ``PluginInfo`` and its periodic ``Job`` objects."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class PluginInfo:
    """What ``kehu_plugin_info`` returns. ``depends`` are enabled with the plugin;
    ``auto_enable_with`` marks a bridge plugin that is enabled automatically when all the named
    plugins are enabled."""

    name: str
    version: str
    description: str = ""
    depends: tuple[str, ...] = ()
    auto_enable_with: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """Periodic work. ``func(kehu)`` is async; schedule by ``every`` or a ``cron`` expression."""

    name: str
    func: Callable[..., Any]
    every: timedelta | None = None
    cron: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"Job {self.name}: give exactly one of every= or cron=")


__all__ = ["Job", "PluginInfo"]
