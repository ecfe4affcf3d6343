"""The module layout holds: no import cycles (counting imports inside functions), and a plugin
imports another plugin only where the skeleton allows it (docs/writing_plugins.md, "Layout")."""

import ast
from pathlib import Path

import pytest

from kehu.core.runtime import _discover, _info

ROOT = Path(__file__).resolve().parents[1]

#: Lazy imports at a composition root: the place that builds the runtime for a CLI or for the
#: ``piccolo`` command, and ``kehu.create_app``. Anything else imported lazily closes a cycle.
COMPOSITION_ROOTS = {
    ("kehu", "kehu.api.app"),
    ("kehu.core.console", "kehu.core.runtime"),
    ("kehu.core.piccolo_conf", "kehu.core.runtime"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "kehu").rglob("*.py"):
        if "piccolo_migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The kehu modules ``name`` imports anywhere, except under ``if TYPE_CHECKING``."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                out.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    prefix = package[: len(package) - child.level + 1]
                    base = ".".join([*prefix, base] if base else prefix)
                out.add(base)
                out.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in out if m in MODULES and m != name and (name, m) not in COMPOSITION_ROOTS}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in GRAPH:
        if v not in index:
            connect(v)
    return found


PLUGINS = {name: _info(name, obj) for name, obj in _discover().items() if name != "core"}
BUILT_IN = sorted(
    p.name for p in (ROOT / "kehu" / "plugins").iterdir() if (p / "plugin.py").exists()
)


def _scope(module: str) -> str:
    return module.split(".")[2] if module.startswith("kehu.plugins.") else "core"


@pytest.mark.parametrize("scope", ["core", *BUILT_IN])
def test_there_is_no_import_cycle_not_even_through_imports_inside_functions(scope):
    assert [c for c in _cycles() if _scope(c[0]) == scope] == []


def _depends(name: str) -> set[str]:
    """A plugin's ``depends``, transitively."""
    out: set[str] = set()
    todo = list(PLUGINS[name].depends)
    while todo:
        dep = todo.pop()
        if dep not in out:
            out.add(dep)
            todo.extend(PLUGINS[dep].depends)
    return out


@pytest.mark.parametrize("plugin", BUILT_IN)
def test_a_plugin_imports_another_only_along_depends_or_through_published_hooks(plugin):
    """Any module may import another plugin's ``hookspecs`` (its published hooks and their
    value types); ``integrations.py`` (or the ``integrations`` package) may import plugins in
    ``depends``; ``tables.py`` and ``piccolo_app.py`` may import the tables and apps of plugins
    in ``depends`` (foreign keys, migration order). Nothing else crosses a plugin boundary."""
    prefix = f"kehu.plugins.{plugin}"
    depends = _depends(plugin)
    wrong = []
    for name, targets in GRAPH.items():
        if not name.startswith(prefix + ".") and name != prefix:
            continue
        inside = name.removeprefix(prefix).lstrip(".").split(".")
        for target in sorted(targets):
            if not target.startswith("kehu.plugins.") or target == "kehu.plugins":
                continue
            other, _, rest = target.removeprefix("kehu.plugins.").partition(".")
            if other == plugin:
                continue
            published = rest.split(".")[0] == "hookspecs"
            integration = inside[0] == "integrations" and other in depends
            schema = (
                inside[-1] in {"tables", "piccolo_app"}
                and rest.split(".")[0] in {"tables", "piccolo_app"}
                and other in depends
            )
            if not (published or integration or schema):
                wrong.append(f"{name} imports {target}")
    assert wrong == []
