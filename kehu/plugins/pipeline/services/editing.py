"""Creating, updating and deleting opportunities: input cleaning, forecast values from the
stage, required fields per stage, optimistic locking."""

from typing import Any

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money, check_currency
from kehu.core.permissions import Actor
from kehu.core.services.common import as_date, now, raise_if
from kehu.core.services.customers import get_customer
from kehu.core.services.records import stale
from kehu.core.tables import Team, User
from kehu.core.validation import require_text
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import LOST, OPEN, WON, config
from kehu.plugins.pipeline.services.opportunities import get_opportunity
from kehu.plugins.pipeline.services.pipelines import default_pipeline, get_pipeline
from kehu.plugins.pipeline.services.stages import stages_by_ids, stages_by_pipeline

EDITABLE = {
    "name",
    "description",
    "amount",
    "expected_close_date",
    "owner",
    "team",
    "probability",
    "forecast_category",
    "source",
}


async def _check_user(user_id: int | None, field: str, errors: list[FieldError]) -> Any:
    if user_id is None:
        return None
    user = await User.select(User.id, User.team, User.active).where(User.id == user_id).first()
    if user is None or not user["active"]:
        errors.append(FieldError(field, "Must be an active user", "NOT_FOUND"))
    return user


def _clean(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - EDITABLE - {"customer", "pipeline", "stage"}
    if unknown:
        raise ValidationFailed(f"Unknown opportunity field(s): {', '.join(sorted(unknown))}")
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        out["name"], err = require_text(data.get("name"), "name", 255)
        errors += [err] if err else []
    if "description" in data:
        out["description"] = data["description"] or ""
    if "source" in data:
        out["source"] = (data["source"] or "").strip()[:50]
    if "amount" in data:
        money = data["amount"]
        if money is None:
            money = Money.zero(config().default_currency)
        if not isinstance(money, Money):
            errors.append(FieldError("amount", "amount must be Money", "INVALID"))
        elif money.minor < 0:
            errors.append(FieldError("amount", "amount must not be negative", "INVALID"))
        else:
            out["amount_minor"], out["currency"] = (
                money.minor,
                check_currency(money.currency),
            )
    if "expected_close_date" in data:
        out["expected_close_date"] = as_date(
            data["expected_close_date"], "expectedCloseDate", errors
        )
    if "probability" in data:
        p = data["probability"]
        if p is not None and (isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 100):
            errors.append(
                FieldError("probability", "probability is an integer percent 0..100", "INVALID")
            )
        out["probability"] = p
    if "forecast_category" in data:
        c = data["forecast_category"]
        if c is not None and c not in {x.value for x in t.ForecastCategory}:
            errors.append(
                FieldError("forecastCategory", "Unknown forecast category", "INVALID_CHOICE")
            )
        out["forecast_category"] = c
    for name in ("owner", "team", "customer", "pipeline", "stage"):
        if name in data:
            out[name] = data[name]
    raise_if(errors)
    return out


def _forecast_values(row: dict[str, Any], stage: dict[str, Any]) -> dict[str, Any]:
    """Effective probability, category and weighted basis for a row in a stage."""
    status = row.get("status", OPEN)
    if status == WON:
        probability, category = 100, t.ForecastCategory.closed.value
    elif status == LOST:
        probability, category = 0, t.ForecastCategory.omitted.value
    else:
        probability = (
            row["probability"] if row.get("probability_overridden") else stage["probability"]
        )
        category = (
            row["forecast_category"]
            if row.get("category_overridden")
            else stage["forecast_category"]
        )
    return {
        "probability": probability,
        "forecast_category": category,
        "weighted_basis": row["amount_minor"] * probability,
    }


async def _missing_required(row: dict[str, Any], stage: dict[str, Any]) -> list[str]:
    missing = []
    empty = {
        "amount": not row["amount_minor"],
        "expected_close_date": row["expected_close_date"] is None,
        "description": not (row.get("description") or "").strip(),
    }
    for name in stage["required_fields"]:
        if empty.get(name):
            missing.append(name)
        elif name in ("needs", "line_items", "team_members"):
            table = {
                "needs": t.Need,
                "line_items": t.LineItem,
                "team_members": t.TeamMember,
            }[name]
            if row.get("id") is None or not await table.exists().where(
                table.opportunity == row["id"]
            ):
                missing.append(name)
    return missing


def _rule(code: str, message: str, field: str = "stageId") -> ValidationFailed:
    return ValidationFailed(FieldError(field, message, code))


async def _check_required(row: dict[str, Any], stage: dict[str, Any]) -> None:
    missing = await _missing_required(row, stage)
    if missing:
        raise _rule(
            "REQUIRED_FIELD_MISSING",
            f"Rule 'required fields': stage {stage['name']!r} requires "
            f"{', '.join(missing)} to be filled first",
        )


async def create_opportunity(
    actor: Actor, data: dict[str, Any], *, lead_id: int | None = None
) -> dict[str, Any]:
    """A new open opportunity on a visible customer, in the given (or default) pipeline and
    its first stage unless ``stage`` names an open stage."""
    actor.require("opportunity:write")
    values = _clean(data, partial=False)
    errors: list[FieldError] = []
    if values.get("customer") is None:
        errors.append(FieldError("customerId", "customerId is required", "REQUIRED"))
    raise_if(errors)
    owner_id = values.pop("owner", None)
    team_id = values.pop("team", None)
    if owner_id is None and not actor.is_system:
        owner_id = actor.user_id
    if owner_id not in (None, actor.user_id):
        actor.require("opportunity:assign")
    owner = await _check_user(owner_id, "ownerId", errors)
    raise_if(errors)
    if team_id is None and owner is not None:
        team_id = owner["team"]
    async with unit_of_work():
        customer = await get_customer(actor, values.pop("customer"))
        if customer["archived_at"] is not None:
            raise ValidationFailed(FieldError("customerId", "Customer is archived", "ARCHIVED"))
        pipeline_id = values.pop("pipeline", None)
        pipeline = (
            await get_pipeline(actor, pipeline_id)
            if pipeline_id is not None
            else await default_pipeline()
        )
        if pipeline is None:
            raise ValidationFailed(FieldError("pipelineId", "No pipeline exists yet", "REQUIRED"))
        if pipeline["archived_at"] is not None:
            raise ValidationFailed(FieldError("pipelineId", "Pipeline is archived", "ARCHIVED"))
        stages = (await stages_by_pipeline([pipeline["id"]]))[pipeline["id"]]
        stage_id = values.pop("stage", None)
        if stage_id is None:
            stage = next(s for s in stages if not s["is_closed"])
        else:
            stage = next((s for s in stages if s["id"] == stage_id), None)
            if stage is None or stage["is_closed"]:
                raise _rule("INVALID_STAGE", "Stage must be an open stage of the pipeline")
        probability = values.pop("probability", None)
        category = values.pop("forecast_category", None)
        row = {
            "amount_minor": 0,
            "currency": config().default_currency,
            "expected_close_date": None,
            **values,
            "probability_overridden": probability is not None,
            "category_overridden": category is not None,
            "probability": probability,
            "forecast_category": category,
        }
        await _check_required(row, stage)
        row.update(_forecast_values(row, stage))
        position = await t.Opportunity.count().where(t.Opportunity.stage == stage["id"])
        created = (
            await t.Opportunity.insert(
                t.Opportunity(
                    **row,
                    customer=customer["id"],
                    pipeline=pipeline["id"],
                    stage=stage["id"],
                    owner=owner_id,
                    team=team_id,
                    kanban_position=position,
                    lead=lead_id,
                    stage_entered_at=now(),
                )
            ).returning(*t.Opportunity.all_columns())
        )[0]
        await t.StageChange.insert(
            t.StageChange(
                opportunity=created["id"],
                kind=t.HistoryKind.created.value,
                from_stage=None,
                to_stage=stage["id"],
                actor=actor.user_id,
                at=created["created_at"],
            )
        )
        await record(actor, "created", "opportunity", created["id"], after=created)
    return created


async def _lock(
    actor: Actor,
    opportunity_id: int,
    expected_version: int | None,
    scope: str = "opportunity:write",
) -> dict[str, Any]:
    actor.require(scope)
    row = await get_opportunity(actor, opportunity_id)
    if expected_version is not None and row["version"] != expected_version:
        raise stale("opportunity", opportunity_id, expected_version)
    return row


async def _save(row: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    o = t.Opportunity
    rows = (
        await o.update({**values, o.version: o.version + 1, o.updated_at: now()})
        .where(o.id == row["id"], o.version == row["version"])
        .returning(*o.all_columns())
    )
    if not rows:
        raise stale("opportunity", row["id"])
    return rows[0]


async def update_opportunity(
    actor: Actor, opportunity_id: int, expected_version: int, data: dict[str, Any]
) -> dict[str, Any]:
    values = _clean(data, partial=True)
    for key in ("customer", "pipeline", "stage"):
        if key in values:
            raise ValidationFailed(
                FieldError(
                    f"{key}Id",
                    f"{key} cannot be changed here (use moveOpportunityStage)",
                    "READ_ONLY",
                )
            )
    async with unit_of_work():
        before = await _lock(actor, opportunity_id, expected_version)
        errors: list[FieldError] = []
        if "owner" in values and values["owner"] != before["owner"]:
            actor.require("opportunity:assign")
            owner = await _check_user(values["owner"], "ownerId", errors)
            if owner is not None and "team" not in values:
                values["team"] = owner["team"]
        if (
            "team" in values
            and values["team"] is not None
            and not await Team.exists().where(Team.id == values["team"])
        ):
            errors.append(FieldError("teamId", "Team not found", "NOT_FOUND"))
        raise_if(errors)
        if "probability" in values:
            p = values.pop("probability")
            values["probability_overridden"] = p is not None
            if p is not None:
                values["probability"] = p
        if "forecast_category" in values:
            c = values.pop("forecast_category")
            values["category_overridden"] = c is not None
            if c is not None:
                values["forecast_category"] = c
        merged = {**before, **values}
        stage = (await stages_by_ids([before["stage"]]))[before["stage"]]
        if before["status"] == OPEN:
            await _check_required(merged, stage)
        values.update(_forecast_values(merged, stage))
        if before["approved_at"] is not None and (
            merged["amount_minor"],
            merged["currency"],
        ) != (
            before["amount_minor"],
            before["currency"],
        ):
            values["approved_at"] = None  # a changed amount needs a new approval
            values["approved_by"] = None
        after = await _save(before, values)
        changed = [k for k in after if k not in ("version", "updated_at") and after[k] != before[k]]
        await record(
            actor,
            "updated",
            "opportunity",
            opportunity_id,
            {k: before[k] for k in changed},
            {k: after[k] for k in changed},
            customer_id=after["customer"],
        )
    return after


async def delete_opportunity(actor: Actor, opportunity_id: int) -> int:
    async with unit_of_work():
        before = await _lock(actor, opportunity_id, None, "opportunity:delete")
        await t.Opportunity.delete().where(t.Opportunity.id == opportunity_id)
        await record(actor, "deleted", "opportunity", opportunity_id, before=before)
    return opportunity_id
