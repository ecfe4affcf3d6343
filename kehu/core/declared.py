"""A plugin declared in one call, for small plugins:

    plugin = Plugin("stars", "1.0.0", "Star ratings of customers",
                    graphql_mutations=[StarsMutation], cli_commands=[stars], event=on_event)

with the entry point ``stars = "kehu_stars.plugin:plugin"``. Each keyword is a core hook's
name without ``kehu_``: a function is that hook's implementation (``event=``,
``demo_data=``...), anything else is what the hook returns. Hooks other plugins publish go in
``hooks={"kehu_report_metrics": fn}`` (implemented as optional hooks).
"""

import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kehu.core import hookspecs
from kehu.core.errors import PluginError
from kehu.core.hookspecs import hookimpl
from kehu.core.info import PluginInfo

CORE_HOOKS = {n.removeprefix("kehu_") for n in dir(hookspecs) if n.startswith("kehu_")}


class Plugin:
    """A plugin object whose hook implementations come from keywords (see the module)."""

    def __init__(
        self,
        name: str,
        version: str,
        description: str = "",
        *,
        depends: Sequence[str] = (),
        auto_enable_with: Sequence[str] = (),
        hooks: Mapping[str, Callable[..., Any]] | None = None,
        **contributions: Any,
    ) -> None:
        # the declaring module: where Kehu looks for the plugin's @extensible GraphQL types
        self.__name__ = sys._getframe(1).f_globals.get("__name__", name)
        self.info = PluginInfo(name, version, description, tuple(depends), tuple(auto_enable_with))
        unknown = sorted(set(contributions) - CORE_HOOKS)
        if unknown:
            raise PluginError(
                f"Plugin {name!r}: {', '.join(unknown)} is not a core hook (for hooks other "
                "plugins publish use hooks={'kehu_...': function})"
            )
        self._implement("plugin_info", lambda: self.info)
        for key, value in contributions.items():
            self._implement(key, value if inspect.isfunction(value) else _constant(value))
        for hook, function in (hooks or {}).items():
            setattr(self, hook, hookimpl(optionalhook=True)(function))

    def _implement(self, key: str, function: Callable[..., Any]) -> None:
        setattr(self, f"kehu_{key}", hookimpl(function))

    def __repr__(self) -> str:
        return f"<Plugin {self.info.name} {self.info.version}>"


def _constant(value: Any) -> Callable[[], Any]:
    def contribution() -> Any:
        return value

    return contribution


__all__ = ["Plugin"]
