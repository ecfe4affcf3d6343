"""Every plugin, the built-ins and the example alike, has the skeleton of
docs/writing_plugins.md ("Layout"): the same file names for the same concepts, hook
implementations only in ``plugin.py``, business logic in small ``services/`` modules and the
GraphQL schema behind ``graphql/schema.py``."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in (ROOT / "kehu" / "plugins").iterdir() if (p / "plugin.py").exists())
PLUGINS.append(ROOT / "examples" / "kehu-loyalty" / "kehu_loyalty")

#: what may sit at a plugin's top level (``integrations`` and ``report_metrics`` may grow
#: into packages); anything else is a two-line deprecation shim of a moved module
LAYOUT = {
    "__init__.py",
    "plugin.py",
    "hookspecs.py",
    "settings.py",
    "tables.py",
    "piccolo_app.py",
    "piccolo_migrations",
    "event_types.py",
    "services",
    "graphql",
    "integrations.py",
    "integrations",
    "report_metrics.py",
    "report_metrics",
    "timeline.py",
    "demo.py",
    "cli.py",
    "notifications.py",
    "routes.py",
}
#: "no file over ~400 lines" (docs/writing_plugins.md)
SERVICE_LINES = 420


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def _is_shim(path: Path) -> bool:
    return path.suffix == ".py" and "moved_module(__name__," in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("plugin", PLUGINS, ids=_ids(PLUGINS))
def test_a_plugin_has_the_skeleton_layout(plugin: Path):
    extra = [
        p.name
        for p in plugin.iterdir()
        if p.name not in LAYOUT and p.name != "__pycache__" and not _is_shim(p)
    ]
    assert extra == []
    assert (plugin / "services").is_dir() and (plugin / "services" / "__init__.py").exists()


@pytest.mark.parametrize("plugin", PLUGINS, ids=_ids(PLUGINS))
def test_plugin_py_holds_hook_implementations_only(plugin: Path):
    tree = ast.parse((plugin / "plugin.py").read_text(encoding="utf-8"))
    others = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not any(ast.unparse(d).startswith("hookimpl") for d in node.decorator_list)
    ]
    assert others == []


@pytest.mark.parametrize("plugin", PLUGINS, ids=_ids(PLUGINS))
def test_graphql_hooks_return_what_graphql_schema_lists(plugin: Path):
    source = (plugin / "plugin.py").read_text(encoding="utf-8")
    if "def kehu_graphql_" not in source:
        return
    assert (plugin / "graphql" / "schema.py").exists()
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("kehu_graphql_"):
            imports = [n for n in ast.walk(node) if isinstance(n, ast.ImportFrom)]
            assert [i.module.rsplit(".", 1)[-1] for i in imports] == ["schema"], node.name


@pytest.mark.parametrize("plugin", PLUGINS, ids=_ids(PLUGINS))
def test_service_modules_stay_small(plugin: Path):
    sizes = {
        p.name: n
        for p in (plugin / "services").glob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > SERVICE_LINES
    }
    assert sizes == {}
