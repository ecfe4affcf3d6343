"""The composed SDL per plugin set is reviewed: a change must update the snapshot.

Refresh after an intended change: ``KEHU_UPDATE_SNAPSHOTS=1 pytest tests/test_schema_snapshot.py``.
"""

import os
from pathlib import Path

import pytest

from kehu.core.context import current
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings

SNAPSHOTS = Path(__file__).parent / "snapshots"
PLUGIN_SETS = {
    "core": ["core"],
    "builtin": ["pipeline", "contracts", "tickets", "reporting", "incentives"],
}


@pytest.mark.parametrize("name", sorted(PLUGIN_SETS))
def test_schema_matches_snapshot(name: str, tmp_path: Path) -> None:
    previous = _current_or_none()
    kehu = Kehu(Settings(database_url=f"sqlite:///{tmp_path}/schema.db", plugins=PLUGIN_SETS[name]))
    sdl = kehu.graphql().schema.as_str() + "\n"
    if previous is not None:
        previous.activate()
    path = SNAPSHOTS / f"schema-{name}.graphql"
    if os.environ.get("KEHU_UPDATE_SNAPSHOTS") or (not path.exists() and not os.environ.get("CI")):
        path.write_text(sdl, encoding="utf-8")
    assert sdl == path.read_text(encoding="utf-8"), (
        f"Schema of plugin set {name!r} changed; review and refresh with KEHU_UPDATE_SNAPSHOTS=1"
    )


def _current_or_none() -> Kehu | None:
    try:
        return current()
    except RuntimeError:
        return None
