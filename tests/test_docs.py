"""Documentation checks: every hook (core and published by built-in plugins) is documented,
and the event catalogue of docs/events.md is the one generated from the declarations."""

import os
import re
from importlib.metadata import entry_points
from pathlib import Path

import pluggy

from kehu.core import hookspecs
from kehu.core.context import current
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _documented() -> set[str]:
    """``## kehu_*`` headings in docs/plugin_hooks.md and docs/plugins/*.md."""
    files = [DOCS / "plugin_hooks.md", *sorted((DOCS / "plugins").glob("*.md"))]
    found: set[str] = set()
    for path in files:
        found |= set(
            re.findall(r"^## (kehu_\w+)", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
        )
    return found


def _core_specs() -> set[str]:
    pm = pluggy.PluginManager("kehu")
    pm.add_hookspecs(hookspecs)
    return {name for name in dir(pm.hook) if name.startswith("kehu_")}


def _builtin(tmp_path: Path) -> Kehu:
    """A runtime with every built-in plugin (kehu.plugins.*) enabled."""
    builtin = [ep.name for ep in entry_points(group="kehu") if ep.value.startswith("kehu.plugins.")]
    try:
        previous = current()
    except RuntimeError:
        previous = None
    kehu = Kehu(Settings(database_url=f"sqlite:///{tmp_path}/docs.db", plugins=builtin))
    if previous is not None:
        previous.activate()
    return kehu


def _builtin_specs(tmp_path: Path) -> set[str]:
    """Hookspecs of a runtime with every built-in plugin enabled."""
    kehu = _builtin(tmp_path)
    return {
        name
        for name in dir(kehu.pm.hook)
        if name.startswith("kehu_") and kehu.pm.hook.__dict__[name].spec is not None
    }


def test_every_hook_is_documented(tmp_path: Path) -> None:
    missing = (_core_specs() | _builtin_specs(tmp_path)) - _documented()
    assert not missing, (
        f"Undocumented hooks (docs/plugin_hooks.md, docs/plugins/*.md): {sorted(missing)}"
    )


def _sections() -> dict[str, str]:
    """The text of each ``## kehu_*`` section of the hook docs."""
    files = [DOCS / "plugin_hooks.md", *sorted((DOCS / "plugins").glob("*.md"))]
    out: dict[str, str] = {}
    for path in files:
        parts = re.split(r"^## ", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
        for part in parts[1:]:
            name, _, body = part.partition("\n")
            if name.startswith("kehu_"):
                out[name.strip()] = body
    return out


def test_every_hook_argument_is_documented(tmp_path: Path) -> None:
    """Like Datasette's check: each argument name of a hook appears in its section."""
    kehu = _builtin(tmp_path)
    sections = _sections()
    missing = []
    for name in sorted(_core_specs() | _builtin_specs(tmp_path)):
        spec = kehu.pm.hook.__dict__[name].spec
        for arg in spec.argnames:
            if not re.search(rf"\b{arg}\b", sections.get(name, "")):
                missing.append(f"{name}({arg})")
    assert not missing, f"Hook arguments missing from their docs section: {missing}"


def test_every_hookspec_is_typed(tmp_path: Path) -> None:
    """Parameters and return values carry real types, not ``Any``."""
    import typing

    kehu = _builtin(tmp_path)
    untyped = []
    for name in sorted(_core_specs() | _builtin_specs(tmp_path)):
        spec = kehu.pm.hook.__dict__[name].spec
        hints = spec.function.__annotations__  # strings where the module postpones them
        for arg in (*spec.argnames, "return"):
            if hints.get(arg, typing.Any) in (typing.Any, "Any"):
                untyped.append(f"{name}:{arg}")
    assert not untyped, f"Untyped hookspec parts: {untyped}"


def test_every_core_hookspec_has_a_docstring() -> None:
    for name in _core_specs():
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"


def test_no_stale_hook_sections(tmp_path: Path) -> None:
    stale = _documented() - _core_specs() - _builtin_specs(tmp_path)
    assert not stale, f"Docs describe hooks that do not exist: {sorted(stale)}"


START, END = "<!-- catalogue:start -->", "<!-- catalogue:end -->"


def test_the_event_catalogue_is_generated_from_the_declarations(tmp_path: Path) -> None:
    path = DOCS / "events.md"
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    documented, _, tail = rest.partition(END)
    generated = _builtin(tmp_path).event_types.markdown()
    if os.environ.get("KEHU_UPDATE_DOCS"):
        path.write_text(f"{head}{START}\n{generated}\n{END}{tail}", encoding="utf-8")
        documented = generated
    assert documented.strip() == generated.strip(), (
        "docs/events.md's catalogue is out of date: KEHU_UPDATE_DOCS=1 pytest tests/test_docs.py"
    )
    for name, declared in _builtin(tmp_path).event_types.types.items():
        assert declared.description.strip(), name
        assert all(meaning.strip() for meaning in declared.data_fields().values()), name
