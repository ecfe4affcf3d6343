"""What pipeline adds to the GraphQL schema is reviewed: a change must update the snapshot.

Refresh after an intended change: ``KEHU_UPDATE_SNAPSHOTS=1 pytest <this file>``.
"""

import os
from pathlib import Path

import pytest
from graphql import build_schema, print_type

from kehu.core.errors import PluginError

SNAPSHOT = Path(__file__).parent / "snapshots" / "pipeline.graphql"
OWN = (
    "Pipeline",
    "Opportunity",
    "Lead",
    "Forecast",
    "Funnel",
    "StageChange",
    "StageTime",
    "TransitionPolicy",
    "CreatePipeline",
    "UpdatePipeline",
    "CreateOpportunity",
    "UpdateOpportunity",
    "LoseOpportunity",
    "MoveOpportunity",
    "RemoveOpportunity",
    "CreateLead",
    "UpdateLead",
    "DisqualifyLead",
    "ConvertLead",
)


def pipeline_sdl(sdl: str) -> str:
    schema = build_schema(sdl)
    parts = [print_type(t) for name, t in sorted(schema.type_map.items()) if name.startswith(OWN)]
    return "\n\n".join(parts) + "\n"


async def test_pipeline_schema_matches_snapshot(kehu):
    sdl = kehu.graphql().schema.as_str()
    customer = build_schema(sdl).type_map["Customer"]
    assert {"opportunities", "leads", "openPipelineValue"} <= set(customer.fields)
    own = pipeline_sdl(sdl)
    if os.environ.get("KEHU_UPDATE_SNAPSHOTS") or (
        not SNAPSHOT.exists() and not os.environ.get("CI")
    ):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(own, encoding="utf-8")
    assert own == SNAPSHOT.read_text(encoding="utf-8"), (
        "The pipeline schema changed; review and refresh with KEHU_UPDATE_SNAPSHOTS=1"
    )


async def test_invalid_settings_refuse_to_start(kehu):
    from kehu.core.context import current
    from kehu.core.runtime import Kehu
    from kehu.core.settings import Settings

    previous = current()
    bad = {"pipeline": {"lead_scoring_weights": {"visits": "-1"}}}
    with pytest.raises(PluginError, match=r"plugin_settings\.pipeline"):
        Kehu(
            Settings(
                database_url="sqlite:///unused.db",
                plugins=["pipeline"],
                plugin_settings=bad,
                _env_file=None,
            )
        )
    assert current() is previous
