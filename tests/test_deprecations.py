"""Moved modules keep their old import path for one minor version, with a warning naming the
new one (``kehu.core.deprecation.moved_module``); Kehu itself imports the new paths only."""

import importlib
import re
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIM = re.compile(r'moved_module\(__name__, "([\w.]+)"\)')


def _shims() -> dict[str, str]:
    found = {}
    for path in (ROOT / "kehu").rglob("*.py"):
        match = SHIM.search(path.read_text(encoding="utf-8"))
        if match and path.name != "deprecation.py":
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = match[1]
    return found


SHIMS = _shims()


def _fresh_import(name: str):
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(name)
    return module, [w for w in caught if issubclass(w.category, DeprecationWarning)]


def test_an_old_path_warns_names_the_new_one_and_gives_the_new_module(tmp_path, monkeypatch):
    (tmp_path / "old_place.py").write_text(
        "from kehu.core.deprecation import moved_module\n\n"
        'moved_module(__name__, "kehu.core.money")\n'
    )
    (tmp_path / "user_code.py").write_text("from old_place import Money\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module, caught = _fresh_import("user_code")
    import kehu.core.money

    assert module.Money is kehu.core.money.Money
    assert sys.modules["old_place"] is kehu.core.money
    assert [str(w.message) for w in caught] == [
        "old_place moved to kehu.core.money; the old path goes away in Kehu 0.3"
    ]
    assert caught[0].filename == str(tmp_path / "user_code.py")  # the importing line


@pytest.mark.parametrize("old", sorted(SHIMS))
def test_each_moved_module_keeps_its_old_path_with_a_warning(old):
    module, caught = _fresh_import(old)
    assert module is importlib.import_module(SHIMS[old])
    assert any(SHIMS[old] in str(w.message) for w in caught)


def test_kehu_itself_imports_no_old_path():
    pattern = re.compile(
        r"^\s*(?:from|import)\s+(" + "|".join(map(re.escape, SHIMS)) + r")\b", re.M
    )
    users = [
        str(path.relative_to(ROOT))
        for base in ("kehu", "tests", "examples", "docs")
        for path in (ROOT / base).rglob("*.py")
        if SHIMS
        and pattern.search(path.read_text(encoding="utf-8"))
        and path.name != "test_deprecations.py"
    ]
    assert users == []


def test_a_name_moved_out_of_a_module_warns_and_still_imports():
    import kehu.core.context

    with pytest.warns(
        DeprecationWarning,
        match=r"kehu\.core\.runtime\.current moved to "
        r"kehu\.core\.context\.current",
    ):
        from kehu.core.runtime import current
    assert current is kehu.core.context.current
    with pytest.raises(ImportError):
        from kehu.core.runtime import no_such_name  # noqa: F401
