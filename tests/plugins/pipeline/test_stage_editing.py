"""Editing a pipeline's stage list: add, rename, reorder, remove (refused while in use)."""

from kehu.plugins.pipeline import services

from .conftest import gid

SET = """mutation($input: SetPipelineStagesInput!) { setPipelineStages(input: $input) {
  pipeline { version stages { name position probability } } errors { field code message } } }"""


def _stages(st: dict, *names: str) -> list[dict]:
    out = []
    for name in names:
        s = st[name]
        out.append(
            {
                "id": gid("PipelineStage", s),
                "name": s["name"],
                "probability": s["probability"],
                "forecastCategory": s["forecast_category"].upper(),
                "isClosed": s["is_closed"],
                "isWon": s["is_won"],
                "backTo": s["back_to"],
            }
        )
    return out


async def test_add_rename_reorder_and_remove_stages(
    kehu, make_user, gql, make_pipeline, make_customer, make_opportunity
):
    admin = await make_user("admin")
    pipeline, st = await make_pipeline("online", name="Web")
    names = list(st)
    stages = _stages(st, *names)
    stages.insert(1, {"name": "Qualified", "probability": 25})  # new stage, no id
    stages[0]["name"] = "Visitor"  # rename keeps identity
    body = await gql(
        SET,
        {
            "input": {
                "pipelineId": gid("Pipeline", pipeline),
                "expectedVersion": pipeline["version"],
                "stages": stages,
            }
        },
        user=admin,
    )
    result = body["data"]["setPipelineStages"]
    assert result["errors"] == []
    got = [(s["name"], s["position"]) for s in result["pipeline"]["stages"]]
    assert got[:2] == [("Visitor", 1), ("Qualified", 2)]
    assert len(got) == len(names) + 1
    refreshed = {
        s["name"]: s for s in (await services.stages_by_pipeline([pipeline["id"]]))[pipeline["id"]]
    }
    assert refreshed["Visitor"]["id"] == st[names[0]]["id"]

    # a stage holding an opportunity cannot be removed; an unused one can
    opp = await make_opportunity(await make_customer(), pipeline)
    in_use = next(n for n, s in refreshed.items() if s["id"] == opp["stage"])
    keep = [n for n in refreshed if n != in_use]
    body = await gql(
        SET,
        {
            "input": {
                "pipelineId": gid("Pipeline", pipeline),
                "expectedVersion": pipeline["version"] + 1,
                "stages": _stages(refreshed, *keep),
            }
        },
        user=admin,
    )
    assert body["data"]["setPipelineStages"]["errors"][0]["code"] == "STAGE_IN_USE"
    body = await gql(
        SET,
        {
            "input": {
                "pipelineId": gid("Pipeline", pipeline),
                "expectedVersion": pipeline["version"] + 1,
                "stages": _stages(refreshed, *[n for n in refreshed if n != "Qualified"]),
            }
        },
        user=admin,
    )
    assert body["data"]["setPipelineStages"]["errors"] == []
    assert "Qualified" not in [
        s["name"] for s in body["data"]["setPipelineStages"]["pipeline"]["stages"]
    ]


async def test_stale_version_and_permissions(kehu, make_user, gql, make_pipeline):
    admin, rep = await make_user("admin"), await make_user("sales")
    pipeline, st = await make_pipeline("linear")
    payload = {
        "input": {
            "pipelineId": gid("Pipeline", pipeline),
            "expectedVersion": 99,
            "stages": _stages(st, *st),
        }
    }
    body = await gql(SET, payload, user=admin, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    payload["input"]["expectedVersion"] = pipeline["version"]
    body = await gql(SET, payload, user=rep, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
