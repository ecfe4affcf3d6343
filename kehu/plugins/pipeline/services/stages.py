"""Stages of a pipeline: reading them in batches, validating stage specs, changing one stage or
the whole list, and propagating a stage's forecast values to its open deals."""

from typing import Any

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import load_json, now
from kehu.core.services.records import stale
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import OPEN
from kehu.plugins.pipeline.services.pipelines import _check_stage_specs, get_pipeline
from kehu.plugins.pipeline.services.templates import StageSpec


def _stage_row(row: dict[str, Any]) -> dict[str, Any]:
    row["required_fields"] = list(load_json(row["required_fields"]) or [])
    row["back_to"] = list(load_json(row["back_to"]) or [])
    return row


async def stages_by_pipeline(
    pipeline_ids: list[int],
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in pipeline_ids}
    if pipeline_ids:
        rows = await t.Stage.select().where(t.Stage.pipeline.is_in(list(set(pipeline_ids))))
        for row in sorted(rows, key=lambda r: (r["position"], r["id"])):
            out[row["pipeline"]].append(_stage_row(row))
    return out


async def stages_by_ids(ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await t.Stage.select().where(t.Stage.id.is_in(list(set(ids))))
    return {r["id"]: _stage_row(r) for r in rows}


async def update_stage(actor: Actor, stage_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change a stage's name, probability, forecastCategory, requiredFields or backTo.
    Open opportunities in the stage take the new probability/category unless overridden."""
    actor.require("pipeline:manage")
    async with unit_of_work():
        before = (await stages_by_ids([stage_id])).get(stage_id)
        if before is None:
            raise NotFound(f"Stage {stage_id} not found")
        siblings = (await stages_by_pipeline([before["pipeline"]]))[before["pipeline"]]
        fields = (
            "name",
            "probability",
            "forecast_category",
            "is_closed",
            "is_won",
            "is_approval",
            "required_fields",
            "back_to",
        )
        spec = {k: before[k] for k in fields}
        spec.update(
            {
                k: v
                for k, v in data.items()
                if k in spec and k not in ("is_closed", "is_won", "is_approval")
            }
        )
        if isinstance(spec["name"], str):
            spec["name"] = spec["name"].strip()
        renamed = spec["name"] != before["name"]

        def rename(names: list[str]) -> list[str]:
            return [spec["name"] if renamed and n == before["name"] else n for n in names]

        rows = [
            (
                {**spec, "back_to": list(spec["back_to"] or [])}
                if s["id"] == stage_id
                else {**{k: s[k] for k in fields}, "back_to": rename(s["back_to"])}
            )
            for s in siblings
        ]
        specs = [
            StageSpec(
                **{
                    **r,
                    "required_fields": tuple(r["required_fields"] or ()),
                    "back_to": tuple(r["back_to"]),
                }
            )
            for r in rows
        ]
        pipeline = await get_pipeline(actor, before["pipeline"])
        _check_stage_specs(specs, pipeline["transition_policy"])
        values = {
            k: list(v) if isinstance(v, tuple | list) else v for k, v in spec.items() if k in data
        }
        row = (
            await t.Stage.update(values)
            .where(t.Stage.id == stage_id)
            .returning(*t.Stage.all_columns())
        )[0]
        if renamed:  # keep the other stages' backward edges pointing at this stage
            for sibling, new in zip(siblings, rows, strict=True):
                if sibling["id"] != stage_id and sibling["back_to"] != new["back_to"]:
                    await t.Stage.update({t.Stage.back_to: new["back_to"]}).where(
                        t.Stage.id == sibling["id"]
                    )
        if {"probability", "forecast_category"} & set(values):
            await _propagate_stage(row)
        await record(
            actor,
            "stage_updated",
            "pipeline",
            before["pipeline"],
            {k: before[k] for k in values},
            {"stage_id": stage_id, **values},
        )
    return _stage_row(row)


async def set_stages(
    actor: Actor,
    pipeline_id: int,
    expected_version: int,
    stages: list[tuple[int | None, StageSpec]],
) -> dict[str, Any]:
    """Replace a pipeline's stage list in one go: stages given with their id keep their
    identity (rename, reorder, edit), stages without an id are added, stages left out are
    removed — refused with STAGE_IN_USE while an opportunity or its history refers to them."""
    actor.require("pipeline:manage")
    specs = [spec for _, spec in stages]
    async with unit_of_work():
        pipeline = await get_pipeline(actor, pipeline_id)
        _check_stage_specs(specs, pipeline["transition_policy"])
        current = {s["id"]: s for s in (await stages_by_pipeline([pipeline_id]))[pipeline_id]}
        given = [i for i, _ in stages if i is not None]
        foreign = [i for i in given if i not in current]
        if foreign or len(set(given)) != len(given):
            raise ValidationFailed(
                FieldError(
                    "stages",
                    f"Stage {foreign[0] if foreign else given[0]} is not in this pipeline "
                    "or given twice",
                    "INVALID",
                )
            )
        removed = [s for i, s in current.items() if i not in set(given)]
        if removed:
            ids = [s["id"] for s in removed]
            used = await t.Opportunity.exists().where(t.Opportunity.stage.is_in(ids)) or (
                await t.StageChange.exists().where(
                    t.StageChange.to_stage.is_in(ids) | t.StageChange.from_stage.is_in(ids)
                )
            )
            if used:
                raise ValidationFailed(
                    FieldError(
                        "stages",
                        f"Stage(s) {', '.join(s['name'] for s in removed)} hold "
                        "opportunities or their history; move them first",
                        "STAGE_IN_USE",
                    )
                )
            await t.Stage.delete().where(t.Stage.id.is_in(ids))
        for position, (stage_id, spec) in enumerate(stages, start=1):
            values = {
                "name": spec.name.strip(),
                "position": position,
                "probability": spec.probability,
                "forecast_category": spec.forecast_category,
                "is_closed": spec.is_closed,
                "is_won": spec.is_won,
                "is_approval": spec.is_approval,
                "required_fields": list(spec.required_fields),
                "back_to": list(spec.back_to),
            }
            if stage_id is None:
                await t.Stage.insert(t.Stage(pipeline=pipeline_id, **values))
                continue
            before = current[stage_id]
            flags_change = (before["is_closed"], before["is_won"]) != (
                spec.is_closed,
                spec.is_won,
            )
            if flags_change and await t.Opportunity.exists().where(t.Opportunity.stage == stage_id):
                raise ValidationFailed(
                    FieldError(
                        "stages",
                        f"{before['name']}: closed/won flags cannot change while "
                        "opportunities are in it",
                        "STAGE_IN_USE",
                    )
                )
            row = (
                await t.Stage.update(values)
                .where(t.Stage.id == stage_id)
                .returning(*t.Stage.all_columns())
            )[0]
            await _propagate_stage(row)
        rows = (
            await t.Pipeline.update(
                {
                    t.Pipeline.version: t.Pipeline.version + 1,
                    t.Pipeline.updated_at: now(),
                }
            )
            .where(t.Pipeline.id == pipeline_id, t.Pipeline.version == expected_version)
            .returning(*t.Pipeline.all_columns())
        )
        if not rows:
            raise stale("pipeline", pipeline_id, expected_version)
        await record(
            actor,
            "stages_set",
            "pipeline",
            pipeline_id,
            {"stages": [s["name"] for s in current.values()]},
            {"stages": [s.name for s in specs]},
        )
    return rows[0]


async def _propagate_stage(row: dict[str, Any]) -> None:
    """Open opportunities in a stage follow its probability and forecast category unless
    they override them."""
    if row["is_closed"]:
        return
    await t.Opportunity.update(
        {
            t.Opportunity.probability: row["probability"],
            t.Opportunity.weighted_basis: t.Opportunity.amount_minor * row["probability"],
        }
    ).where(
        t.Opportunity.stage == row["id"],
        t.Opportunity.status == OPEN,
        t.Opportunity.probability_overridden.eq(False),
    )
    await t.Opportunity.update({t.Opportunity.forecast_category: row["forecast_category"]}).where(
        t.Opportunity.stage == row["id"],
        t.Opportunity.status == OPEN,
        t.Opportunity.category_overridden.eq(False),
    )
