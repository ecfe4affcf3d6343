"""What loyalty adds to the GraphQL schema is reviewed: a change must update the snapshot.

Refresh after an intended change: ``KEHU_UPDATE_SNAPSHOTS=1 pytest <this file>``.
"""

import os
from pathlib import Path

from graphql import build_schema, print_type

SNAPSHOT = Path(__file__).parent / "snapshots" / "loyalty.graphql"


def loyalty_sdl(sdl: str) -> str:
    """The loyalty types in full plus the loyalty fields of core types."""
    schema = build_schema(sdl)
    parts = [
        print_type(t) for name, t in sorted(schema.type_map.items()) if name.startswith("Loyalty")
    ]
    for owner in ("Customer", "Query", "Mutation"):
        for name, field in schema.type_map[owner].fields.items():
            if "loyalty" in name.lower():
                args = ", ".join(f"{a}: {arg.type}" for a, arg in field.args.items())
                parts.append(f"# {owner}.{name}({args}): {field.type}")
    return "\n\n".join(parts) + "\n"


async def test_loyalty_schema_matches_snapshot(kehu):
    sdl = loyalty_sdl(kehu.graphql().schema.as_str())
    if os.environ.get("KEHU_UPDATE_SNAPSHOTS") or (
        not SNAPSHOT.exists() and not os.environ.get("CI")
    ):
        SNAPSHOT.write_text(sdl, encoding="utf-8")
    assert sdl == SNAPSHOT.read_text(encoding="utf-8"), (
        "The loyalty schema changed; review and refresh with KEHU_UPDATE_SNAPSHOTS=1"
    )
