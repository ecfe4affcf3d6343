"""Old import paths that keep working for one minor version, with a warning naming the new one.

A moved module leaves a two-line shim at its old path::

    from kehu.core.deprecation import moved_module

    moved_module(__name__, "kehu.plugins.contracts.services.receivables")

A name that moved out of a module that stays keeps working through the module's
``__getattr__ = moved_names(__name__, {"current": "kehu.core.context"})``.

Importing the old path warns (``DeprecationWarning``, attributed to the importing line) and gives
the new module itself, so ``from old.path import name`` and ``import old.path`` both keep working.
Kehu's own code imports the new paths only; ``tests/test_deprecations.py`` checks every shim.
"""

import importlib
import sys
import warnings
from collections.abc import Callable
from typing import Any

REMOVED_IN = "0.3"

#: old path -> new path of every module kept by a shim (filled as the shims are imported, and
#: listed statically in ``MOVED`` for the test and the docs).
MOVED: dict[str, str] = {}


def _stacklevel() -> int:
    """The warning's stack level: the first frame outside the shims (``warnings`` itself skips
    the import machinery's frames, so they are not counted)."""
    frame = sys._getframe(2)  # the shim module's frame, stack level 2 of ``warnings.warn``
    level = 2
    while frame is not None and (
        frame.f_code.co_filename.startswith("<frozen importlib")
        or frame.f_globals.get("__name__") in MOVED
    ):
        if not frame.f_code.co_filename.startswith("<frozen importlib"):
            level += 1
        frame = frame.f_back  # type: ignore[assignment]
    return level


def moved_module(old: str, new: str) -> None:
    """Make the module being imported as ``old`` an alias of ``new``, warning once per import."""
    MOVED[old] = new
    warnings.warn(
        f"{old} moved to {new}; the old path goes away in Kehu {REMOVED_IN}",
        DeprecationWarning,
        stacklevel=_stacklevel(),
    )
    sys.modules[old] = importlib.import_module(new)


def moved_names(old: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for names that moved out of module ``old``: ``{name: new
    module}``. ``from old import name`` warns and gives the name from its new module."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} moved to {names[name]}.{name}; the old path goes away in Kehu "
            f"{REMOVED_IN}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(names[name]), name)

    return __getattr__


__all__ = ["MOVED", "REMOVED_IN", "moved_module", "moved_names"]
