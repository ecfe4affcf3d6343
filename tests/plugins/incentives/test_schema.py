"""What incentives adds to the GraphQL schema is reviewed: a change must update the snapshot.

Refresh after an intended change: ``KEHU_UPDATE_SNAPSHOTS=1 pytest <this file>``.
"""

import os
from pathlib import Path

from graphql import build_schema, print_type

SNAPSHOT = Path(__file__).parent / "snapshots" / "incentives.graphql"
OWN = (
    "Incentive",
    "Commission",
    "Target",
    "Leaderboard",
    "Scorecard",
    "PayoutRun",
    "Recompute",
    "Statement",
    "RoleSplit",
    "Split",
    "Tier",
    "Weight",
    "DecomposeTarget",
    "AssignPlan",
    "DecideIncentive",
)


def incentives_sdl(sdl: str) -> str:
    schema = build_schema(sdl)
    parts = [print_type(t) for name, t in sorted(schema.type_map.items()) if name.startswith(OWN)]
    query = schema.type_map["Query"].fields
    mutation = schema.type_map["Mutation"].fields
    roots = sorted(
        f"Query.{n}" for n in query if n.startswith(("incentive", "commission", "scorecard"))
    ) + sorted(f"Mutation.{n}" for n in mutation if "ommission" in n or "ncentive" in n)
    return "\n\n".join(parts) + "\n\n# roots: " + ", ".join(roots) + "\n"


async def test_incentives_schema_matches_snapshot(kehu):
    own = incentives_sdl(kehu.graphql().schema.as_str())
    if os.environ.get("KEHU_UPDATE_SNAPSHOTS") or (
        not SNAPSHOT.exists() and not os.environ.get("CI")
    ):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(own, encoding="utf-8")
    assert own == SNAPSHOT.read_text(encoding="utf-8"), (
        "The incentives schema changed; review and refresh with KEHU_UPDATE_SNAPSHOTS=1"
    )
