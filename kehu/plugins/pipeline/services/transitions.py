"""Stage transitions: the rules a move must pass (order, required fields, approvals), moving,
approving, winning, losing and reopening a deal, and its kanban position."""

from typing import Any

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import LOST, OPEN, WON, _aware, config
from kehu.plugins.pipeline.services.editing import (
    _check_required,
    _forecast_values,
    _lock,
    _rule,
    _save,
)
from kehu.plugins.pipeline.services.opportunities import get_opportunity
from kehu.plugins.pipeline.services.pipelines import get_pipeline
from kehu.plugins.pipeline.services.stages import stages_by_ids, stages_by_pipeline


def _approval_required(pipeline: dict[str, Any], row: dict[str, Any]) -> bool:
    threshold = pipeline["approval_threshold_minor"]
    if threshold is None:
        return False
    if row["currency"] != pipeline["approval_currency"]:
        return True  # cannot compare across currencies: be safe
    return row["amount_minor"] > threshold


async def check_transition(
    pipeline: dict[str, Any],
    stages: list[dict[str, Any]],
    row: dict[str, Any],
    to: dict[str, Any],
) -> None:
    """Raise ``ValidationFailed`` naming the rule when ``row`` may not enter stage ``to``."""
    current_stage = next(s for s in stages if s["id"] == row["stage"])
    if to["id"] == current_stage["id"]:
        raise _rule("SAME_STAGE", f"The opportunity is already in {to['name']!r}")
    order = [s for s in stages if not s["is_closed"] or s["is_won"]]
    needs_approval = _approval_required(pipeline, row)
    approval_stages = [s for s in order if s["is_approval"]]
    forward = to["position"] > current_stage["position"]
    if pipeline["transition_policy"] == t.TransitionPolicy.linear.value:
        if forward:
            after = [s for s in order if s["position"] > current_stage["position"]]
            expected = next(
                (s for s in after if not (s["is_approval"] and not needs_approval)),
                None,
            )
            skipped = [s for s in after if s["position"] < to["position"]]
            if any(s["is_approval"] for s in skipped) and needs_approval:
                raise _rule(
                    "APPROVAL_REQUIRED",
                    "Rule 'approval': deals above the approval threshold must pass "
                    f"{approval_stages[0]['name']!r}",
                )
            if expected is None or to["id"] != expected["id"]:
                names = ", ".join(repr(s["name"]) for s in skipped if not s["is_approval"])
                raise _rule(
                    "STAGE_SKIPPED",
                    f"Rule 'linear': stages may not be skipped (next is "
                    f"{expected['name'] if expected else 'none'!r}; skipping {names})",
                )
        elif to["name"] not in current_stage["back_to"]:
            raise _rule(
                "BACKWARD_NOT_ALLOWED",
                f"Rule 'linear': moving back from {current_stage['name']!r} to "
                f"{to['name']!r} is not allowed",
            )
    elif (
        forward
        and needs_approval
        and approval_stages
        and any(current_stage["position"] < s["position"] < to["position"] for s in approval_stages)
    ):
        raise _rule(
            "APPROVAL_REQUIRED",
            "Rule 'approval': deals above the approval threshold "
            f"must pass {approval_stages[0]['name']!r}",
        )
    if forward and current_stage["is_approval"] and needs_approval and row["approved_at"] is None:
        raise _rule(
            "APPROVAL_REQUIRED",
            f"Rule 'approval': the deal is above the approval threshold and must be "
            f"approved in {current_stage['name']!r} before moving on",
        )
    await _check_required(row, to)


async def _transition(
    actor: Actor,
    row: dict[str, Any],
    to: dict[str, Any],
    kind: str,
    extra: dict[str, Any] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Write the move: close the open history row, add the new one, update the row, audit
    and queue ``opportunity.<kind>`` events (plus ``opportunity.stage_changed``)."""
    at = now()
    h = t.StageChange
    open_rows = await h.select(h.id, h.at).where(h.opportunity == row["id"], h.left_at.is_null())
    for r in open_rows:
        await h.update(
            {
                h.left_at: at,
                h.seconds: max(0, int((at - _aware(r["at"])).total_seconds())),
            }
        ).where(h.id == r["id"])
    await h.insert(
        h(
            opportunity=row["id"],
            kind=kind,
            from_stage=row["stage"],
            to_stage=to["id"],
            actor=actor.user_id,
            at=at,
            note=note[:255],
        )
    )
    values = {"stage": to["id"], "stage_entered_at": at, **(extra or {})}
    merged = {**row, **values}
    values.update(_forecast_values(merged, to))
    if row["stage"] != to["id"]:
        values["kanban_position"] = await t.Opportunity.count().where(
            t.Opportunity.stage == to["id"]
        )
    after = await _save(row, values)
    stages = await stages_by_ids([row["stage"], to["id"]])
    data = {
        "customer": row["customer"],
        "from_stage": stages[row["stage"]]["name"],
        "to_stage": to["name"],
        "from_stage_id": row["stage"],
        "to_stage_id": to["id"],
        "status": after["status"],
        "amount_minor": after["amount_minor"],
        "currency": after["currency"],
        "owner": after["owner"],
    }
    await record(
        actor,
        "stage_changed",
        "opportunity",
        row["id"],
        {"stage": row["stage"], "status": row["status"]},
        {"stage": to["id"], "status": after["status"]},
        event_data=data,
    )
    if kind in ("won", "lost", "reopened"):
        await record(
            actor,
            kind,
            "opportunity",
            row["id"],
            {"status": row["status"]},
            {"status": after["status"], **(extra or {})},
            event_data={**data, "reason": after["lost_reason"]},
        )
    return after


async def _context(actor: Actor, row: dict[str, Any]) -> tuple[dict, list[dict]]:
    pipeline = await get_pipeline(actor, row["pipeline"])
    stages = (await stages_by_pipeline([pipeline["id"]]))[pipeline["id"]]
    return pipeline, stages


def _require_open(row: dict[str, Any]) -> None:
    if row["status"] != OPEN:
        raise _rule(
            "OPPORTUNITY_CLOSED",
            f"Rule 'closed': the opportunity is {row['status']}; reopen it first",
            "id",
        )


async def move_stage(
    actor: Actor,
    opportunity_id: int,
    stage_id: int,
    expected_version: int | None = None,
    note: str = "",
) -> dict[str, Any]:
    """Move an open opportunity to another open stage of its pipeline, enforcing the
    pipeline's transition policy, entry requirements and the approval threshold."""
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version)
        _require_open(row)
        pipeline, stages = await _context(actor, row)
        to = next((s for s in stages if s["id"] == stage_id), None)
        if to is None:
            raise _rule("WRONG_PIPELINE", "Stage is not in the opportunity's pipeline")
        if to["is_closed"]:
            raise _rule(
                "CLOSED_STAGE",
                f"{to['name']!r} is a closed stage: use winOpportunity or loseOpportunity",
            )
        await check_transition(pipeline, stages, row, to)
        return await _transition(actor, row, to, t.HistoryKind.moved.value, note=note)


async def approve_opportunity(
    actor: Actor, opportunity_id: int, expected_version: int | None = None
) -> dict[str, Any]:
    """Grant the decision approval of a deal sitting in the approval stage."""
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version, "opportunity:approve")
        _require_open(row)
        stage = (await stages_by_ids([row["stage"]]))[row["stage"]]
        if not stage["is_approval"]:
            raise _rule("NOT_IN_APPROVAL", "Only deals in the approval stage can be approved")
        after = await _save(row, {"approved_at": now(), "approved_by": actor.user_id})
        await record(
            actor,
            "approved",
            "opportunity",
            opportunity_id,
            None,
            {"approved_at": after["approved_at"]},
            customer_id=row["customer"],
        )
    return after


def _closing(row: dict[str, Any], status: str) -> dict[str, Any]:
    at = now()
    extra: dict[str, Any] = {
        "status": status,
        "closed_at": at,
        "cycle_seconds": max(0, int((at - _aware(row["created_at"])).total_seconds())),
    }
    if row["expected_close_date"] is None:
        extra["expected_close_date"] = at.date()
    return extra


async def win_opportunity(
    actor: Actor, opportunity_id: int, expected_version: int | None = None
) -> dict[str, Any]:
    """Close as won: the deal enters the won stage (through the same transition rules)."""
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version)
        _require_open(row)
        pipeline, stages = await _context(actor, row)
        won = next((s for s in stages if s["is_won"]), None)
        if won is None:
            raise _rule("NO_WON_STAGE", "The pipeline has no won stage", "id")
        await check_transition(pipeline, stages, row, won)
        return await _transition(
            actor,
            row,
            won,
            t.HistoryKind.won.value,
            {**_closing(row, WON), "lost_reason": "", "lost_note": ""},
        )


async def lose_opportunity(
    actor: Actor,
    opportunity_id: int,
    reason: str,
    note: str = "",
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Close as lost with one of the configured lost reasons; from any open stage."""
    reasons = config().lost_reasons
    if reason not in reasons:
        raise ValidationFailed(
            FieldError(
                "reason",
                f"reason must be one of {', '.join(reasons)}",
                "INVALID_CHOICE",
            )
        )
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version)
        _require_open(row)
        _, stages = await _context(actor, row)
        lost = next((s for s in stages if s["is_closed"] and not s["is_won"]), None)
        target = lost or next(s for s in stages if s["id"] == row["stage"])
        return await _transition(
            actor,
            row,
            target,
            t.HistoryKind.lost.value,
            {**_closing(row, LOST), "lost_reason": reason, "lost_note": note or ""},
            note=note,
        )


async def reopen_opportunity(
    actor: Actor, opportunity_id: int, expected_version: int | None = None
) -> dict[str, Any]:
    """Reopen a won or lost deal in the stage it was closed from."""
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, expected_version)
        if row["status"] == OPEN:
            raise _rule("OPPORTUNITY_OPEN", "The opportunity is open already", "id")
        h = t.StageChange
        closing = (
            await h.select(h.from_stage)
            .where(h.opportunity == opportunity_id, h.kind.is_in(["won", "lost"]))
            .order_by(h.id, ascending=False)
            .first()
        )
        _, stages = await _context(actor, row)
        back = next(
            (
                s
                for s in stages
                if closing and s["id"] == closing["from_stage"] and not s["is_closed"]
            ),
            None,
        )
        back = back or next(s for s in stages if not s["is_closed"])
        return await _transition(
            actor,
            row,
            back,
            t.HistoryKind.reopened.value,
            {
                "status": OPEN,
                "closed_at": None,
                "cycle_seconds": None,
                "lost_reason": "",
                "lost_note": "",
            },
        )


async def set_kanban_position(actor: Actor, opportunity_id: int, position: int) -> dict:
    """Put the opportunity at ``position`` (0-based) within its stage's column."""
    if position < 0:
        raise ValidationFailed(FieldError("position", "position must be ≥ 0", "INVALID"))
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        o = t.Opportunity
        column = (
            await o.select(o.id, o.kanban_position)
            .where(o.stage == row["stage"])
            .order_by(o.kanban_position, o.id)
        )
        ids = [r["id"] for r in column if r["id"] != opportunity_id]
        ids.insert(min(position, len(ids)), opportunity_id)
        old = {r["id"]: r["kanban_position"] for r in column}
        for index, oid in enumerate(ids):
            if old.get(oid) != index:
                await o.update({o.kanban_position: index}).where(o.id == oid)
        after = await get_opportunity(actor, opportunity_id)
        await record(
            actor,
            "reordered",
            "opportunity",
            opportunity_id,
            {"kanban_position": row["kanban_position"]},
            {"kanban_position": after["kanban_position"]},
            customer_id=row["customer"],
        )
    return after
