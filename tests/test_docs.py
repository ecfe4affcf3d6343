"""Documentation checks: every hook is documented; CLI help is complete."""

import re
from pathlib import Path

import pluggy

from kehu.core import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _documented() -> set[str]:
    text = (DOCS / "plugin_hooks.md").read_text(encoding="utf-8")
    return set(re.findall(r"^## (kehu_\w+)", text, flags=re.MULTILINE))


def _specs(module: object) -> set[str]:
    pm = pluggy.PluginManager("kehu")
    pm.add_hookspecs(module)
    return {name for name in dir(pm.hook) if name.startswith("kehu_")}


def test_every_core_hook_is_documented() -> None:
    missing = _specs(hookspecs) - _documented()
    assert not missing, f"Undocumented hooks in docs/plugin_hooks.md: {sorted(missing)}"


def test_every_hookspec_has_a_docstring() -> None:
    for name in _specs(hookspecs):
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"


def test_no_stale_hook_sections() -> None:
    stale = _documented() - _specs(hookspecs)
    assert not stale, f"docs/plugin_hooks.md documents hooks that do not exist: {stale}"
