"""``kehu.sdk`` is the plugin author's one import: everything it exports is documented in
docs/sdk.md (and nothing else), importable, and described; the kehu_cli fixture works."""

import re
from pathlib import Path

import kehu.sdk as sdk
from kehu.core.services import users

DOC = Path(__file__).resolve().parents[1] / "docs" / "sdk.md"


def _documented() -> set[str]:
    names: set[str] = set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            first = line.split(" | ")[0]
            names |= set(re.findall(r"`([A-Za-z_]\w*)`", first))
    return names


def test_the_sdk_exports_exactly_what_is_documented() -> None:
    exported = set(sdk.__all__)
    documented = _documented()
    assert exported - documented == set(), "exported but not in docs/sdk.md"
    assert documented - exported == set(), "documented in docs/sdk.md but not exported"
    assert len(sdk.__all__) == len(exported)


def test_every_sdk_name_resolves_and_is_described() -> None:
    for name in sdk.__all__:
        value = getattr(sdk, name)
        if name in {"MaybeAsync", "EVERYONE", "WRITERS"}:  # a typing alias, role sets
            continue
        assert (value.__doc__ or "").strip(), f"kehu.sdk.{name} has no docstring"


def test_the_package_is_typed() -> None:
    assert (Path(sdk.__file__).parent / "py.typed").exists()


async def test_the_kehu_cli_fixture_runs_commands_on_the_test_database(kehu, kehu_cli):
    result = await kehu_cli.ok("user", "add", "clio", "--role", "sales")
    assert "Created user clio" in result.stdout
    assert (await users.user_by_name("clio"))["role"] == "sales"  # the test runtime sees it
    reason = await kehu_cli.fails("user", "add", "clio", "--role", "sales")
    assert "clio" in reason
