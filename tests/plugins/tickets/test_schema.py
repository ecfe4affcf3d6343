"""What tickets adds to the GraphQL schema is reviewed: a change must update the snapshot.

Refresh after an intended change: ``KEHU_UPDATE_SNAPSHOTS=1 pytest <this file>``.
"""

import os
from pathlib import Path

from graphql import build_schema, print_type

SNAPSHOT = Path(__file__).parent / "snapshots" / "tickets.graphql"
CORE = Path(__file__).parents[2] / "snapshots" / "schema-core.graphql"


def tickets_sdl(sdl: str) -> str:
    """Types the core schema lacks, in full, plus the fields tickets adds to core types."""
    schema = build_schema(sdl)
    core = build_schema(CORE.read_text(encoding="utf-8"))
    parts = [
        print_type(t)
        for name, t in sorted(schema.type_map.items())
        if name not in core.type_map and not name.startswith("__")
    ]
    for owner, t in sorted(core.type_map.items()):
        fields = getattr(t, "fields", None)
        if owner.startswith("__") or fields is None or owner not in schema.type_map:
            continue
        for name, field in schema.type_map[owner].fields.items():
            if name not in fields:
                args = ", ".join(f"{a}: {arg.type}" for a, arg in field.args.items())
                parts.append(f"# {owner}.{name}({args}): {field.type}")
    return "\n\n".join(parts) + "\n"


async def test_tickets_schema_matches_snapshot(kehu):
    sdl = tickets_sdl(kehu.graphql().schema.as_str())
    if os.environ.get("KEHU_UPDATE_SNAPSHOTS") or (
        not SNAPSHOT.exists() and not os.environ.get("CI")
    ):
        SNAPSHOT.write_text(sdl, encoding="utf-8")
    assert sdl == SNAPSHOT.read_text(encoding="utf-8"), (
        "The tickets schema changed; review and refresh with KEHU_UPDATE_SNAPSHOTS=1"
    )
