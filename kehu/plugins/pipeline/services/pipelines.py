"""Pipelines: reading them, the default pipeline, creating and updating one (with its stages)."""

from typing import Any

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import now, raise_if
from kehu.core.services.records import stale
from kehu.core.validation import require_text
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import REQUIRABLE_FIELDS, config
from kehu.plugins.pipeline.services.templates import TEMPLATES, StageSpec


async def list_pipelines(actor: Actor, include_archived: bool = False) -> list[dict[str, Any]]:
    actor.require("pipeline:read")
    query = t.Pipeline.select()
    if not include_archived:
        query = query.where(t.Pipeline.archived_at.is_null())
    return await query.order_by(t.Pipeline.is_default, ascending=False).order_by(t.Pipeline.id)


async def get_pipeline(actor: Actor, pipeline_id: int) -> dict[str, Any]:
    actor.require("pipeline:read")
    row = await t.Pipeline.select().where(t.Pipeline.id == pipeline_id).first()
    if row is None:
        raise NotFound(f"Pipeline {pipeline_id} not found")
    return row


async def default_pipeline() -> dict[str, Any] | None:
    return (
        await t.Pipeline.select()
        .where(t.Pipeline.archived_at.is_null())
        .order_by(t.Pipeline.is_default, ascending=False)
        .order_by(t.Pipeline.id)
        .first()
    )


def _check_stage_specs(specs: list[StageSpec], policy: str) -> None:
    errors: list[FieldError] = []
    names = [s.name.strip() for s in specs]
    if not specs:
        errors.append(FieldError("stages", "A pipeline needs at least one stage", "REQUIRED"))
    if len(set(names)) != len(names):
        errors.append(FieldError("stages", "Stage names must be unique", "DUPLICATE"))
    if policy not in {p.value for p in t.TransitionPolicy}:
        errors.append(FieldError("transitionPolicy", "Unknown transition policy", "INVALID_CHOICE"))
    for s in specs:
        if not s.name.strip() or len(s.name) > 100:
            errors.append(FieldError("stages", "Stage names are 1..100 characters", "INVALID"))
        if not 0 <= s.probability <= 100:
            errors.append(FieldError("stages", f"{s.name}: probability must be 0..100", "INVALID"))
        if s.forecast_category not in {c.value for c in t.ForecastCategory}:
            errors.append(
                FieldError("stages", f"{s.name}: unknown forecast category", "INVALID_CHOICE")
            )
        if s.is_won and not s.is_closed:
            errors.append(FieldError("stages", f"{s.name}: a won stage is closed", "INVALID"))
        bad = set(s.required_fields) - set(REQUIRABLE_FIELDS)
        if bad:
            errors.append(
                FieldError(
                    "stages",
                    f"{s.name}: unknown required field(s) {', '.join(sorted(bad))}; "
                    f"allowed: {', '.join(REQUIRABLE_FIELDS)}",
                    "INVALID",
                )
            )
        earlier = names[: names.index(s.name.strip())] if s.name.strip() in names else []
        if set(s.back_to) - set(earlier):
            errors.append(
                FieldError(
                    "stages",
                    f"{s.name}: backward moves must name earlier stages",
                    "INVALID",
                )
            )
    if sum(1 for s in specs if s.is_won) > 1:
        errors.append(FieldError("stages", "At most one won stage", "INVALID"))
    raise_if(errors)


async def create_pipeline(
    actor: Actor,
    name: str,
    *,
    template: str | None = None,
    stages: list[StageSpec] | None = None,
    transition_policy: str | None = None,
    approval_threshold: Money | None = None,
    stale_after_days: int | None = None,
    description: str = "",
    is_default: bool = False,
) -> dict[str, Any]:
    """A pipeline from a template (``linear``, ``linear_with_approval``, ``consultative``,
    ``customer_journey``, ``online``) or from explicit stages."""
    actor.require("pipeline:manage")
    name, err = require_text(name, "name", 100)
    raise_if([err] if err else [])
    tpl = None
    if template is not None:
        tpl = TEMPLATES.get(template)
        if tpl is None:
            raise ValidationFailed(
                FieldError(
                    "template",
                    f"Unknown template {template!r}; one of {', '.join(TEMPLATES)}",
                    "INVALID_CHOICE",
                )
            )
    if stages is None and tpl is None:
        raise ValidationFailed(FieldError("stages", "Give a template or stages", "REQUIRED"))
    specs = list(stages if stages is not None else tpl.stages)  # type: ignore[union-attr]
    policy = transition_policy or (tpl.policy if tpl else t.TransitionPolicy.linear.value)
    _check_stage_specs(specs, policy)
    if approval_threshold is None and tpl is not None and tpl.approval:
        approval_threshold = Money.from_decimal(
            config().approval_threshold, config().default_currency
        )
    days = stale_after_days if stale_after_days is not None else config().default_stale_after_days
    if days < 1:
        raise ValidationFailed(
            FieldError("staleAfterDays", "staleAfterDays must be ≥ 1", "INVALID")
        )
    async with unit_of_work():
        if await t.Pipeline.exists().where(t.Pipeline.name == name):
            raise ValidationFailed(
                FieldError("name", f"A pipeline named {name!r} exists", "DUPLICATE")
            )
        first = not await t.Pipeline.exists()
        row = (
            await t.Pipeline.insert(
                t.Pipeline(
                    name=name,
                    description=description or (tpl.description if tpl else ""),
                    template=template or "",
                    transition_policy=policy,
                    approval_threshold_minor=approval_threshold.minor
                    if approval_threshold
                    else None,
                    approval_currency=approval_threshold.currency if approval_threshold else "",
                    stale_after_days=days,
                    is_default=is_default or first,
                )
            ).returning(*t.Pipeline.all_columns())
        )[0]
        if row["is_default"] and not first:
            await t.Pipeline.update({t.Pipeline.is_default: False}).where(
                t.Pipeline.id != row["id"]
            )
        await t.Stage.insert(
            *[
                t.Stage(
                    pipeline=row["id"],
                    name=s.name.strip(),
                    position=i + 1,
                    probability=s.probability,
                    forecast_category=s.forecast_category,
                    is_closed=s.is_closed,
                    is_won=s.is_won,
                    is_approval=s.is_approval,
                    required_fields=list(s.required_fields),
                    back_to=list(s.back_to),
                )
                for i, s in enumerate(specs)
            ]
        )
        await record(
            actor,
            "created",
            "pipeline",
            row["id"],
            after={**row, "stages": [s.name for s in specs]},
        )
    return row


async def update_pipeline(
    actor: Actor, pipeline_id: int, expected_version: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Change name, description, transitionPolicy, staleAfterDays, approvalThreshold
    (``Money`` or ``None``), isDefault or archive (``archived: bool``)."""
    actor.require("pipeline:manage")
    values: dict[Any, Any] = {}
    errors: list[FieldError] = []
    if "name" in data:
        values["name"], err = require_text(data["name"], "name", 100)
        errors += [err] if err else []
    if "description" in data:
        values["description"] = data["description"] or ""
    if "transition_policy" in data:
        if data["transition_policy"] not in {p.value for p in t.TransitionPolicy}:
            errors.append(FieldError("transitionPolicy", "Unknown policy", "INVALID_CHOICE"))
        values["transition_policy"] = data["transition_policy"]
    if "stale_after_days" in data:
        if not isinstance(data["stale_after_days"], int) or data["stale_after_days"] < 1:
            errors.append(FieldError("staleAfterDays", "staleAfterDays must be ≥ 1", "INVALID"))
        values["stale_after_days"] = data["stale_after_days"]
    if "approval_threshold" in data:
        money = data["approval_threshold"]
        values["approval_threshold_minor"] = money.minor if money else None
        values["approval_currency"] = money.currency if money else ""
    if "archived" in data:
        values["archived_at"] = now() if data["archived"] else None
    if data.get("is_default"):
        values["is_default"] = True
    raise_if(errors)
    async with unit_of_work():
        before = await get_pipeline(actor, pipeline_id)
        if "name" in values and await t.Pipeline.exists().where(
            t.Pipeline.name == values["name"], t.Pipeline.id != pipeline_id
        ):
            raise ValidationFailed(
                FieldError("name", "A pipeline with this name exists", "DUPLICATE")
            )
        if values.get("is_default"):
            await t.Pipeline.update({t.Pipeline.is_default: False}).where(
                t.Pipeline.id != pipeline_id
            )
        rows = (
            await t.Pipeline.update(
                {
                    **values,
                    t.Pipeline.version: t.Pipeline.version + 1,
                    t.Pipeline.updated_at: now(),
                }
            )
            .where(t.Pipeline.id == pipeline_id, t.Pipeline.version == expected_version)
            .returning(*t.Pipeline.all_columns())
        )
        if not rows:
            raise stale("pipeline", pipeline_id, expected_version)
        changed = {k: rows[0][k] for k in values if rows[0][k] != before[k]}
        await record(
            actor,
            "updated",
            "pipeline",
            pipeline_id,
            {k: before[k] for k in changed},
            changed,
        )
    return rows[0]
