"""The active runtime of this process, for code that is not handed one.

``Kehu.from_settings()`` sets it. A leaf module (it imports no other part of Kehu at run time),
so services can reach the runtime without importing ``kehu.core.runtime`` and closing an import
circle. Code that is given the runtime (``kehu_configure``, jobs, CLI commands) uses that one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu

_current: Kehu | None = None


def set_current(kehu: Kehu) -> None:
    """Make ``kehu`` the active runtime (done by ``Kehu.__init__``)."""
    global _current
    _current = kehu


def current() -> Kehu:
    """The runtime most recently created in this process."""
    if _current is None:
        raise RuntimeError("Kehu runtime not created (Kehu.from_settings())")
    return _current


__all__ = ["current", "set_current"]
