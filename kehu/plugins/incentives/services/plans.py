"""Commission plans: basis, flat rate or tiers by attainment, cap, role splits, effective
dates, and assignment to users or teams (a user's own assignment wins over the team's)."""

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import raise_if
from kehu.core.tables import User
from kehu.plugins.incentives.services.access import require_manages
from kehu.plugins.incentives.services.actuals import check_metric
from kehu.plugins.incentives.tables import Basis, Plan, PlanAssignment

ROLES = ("am", "ts", "sc", "bd")
DEFAULT_SPLITS = {"am": Decimal(100)}


@dataclass(frozen=True)
class Tier:
    start: Decimal  # attainment ratio from which the rate applies (0.8 = 80 %)
    rate: Decimal

    @property
    def label(self) -> str:
        return f"≥{(self.start * 100).normalize():f}%"


def _dec(value: Any, field: str, errors: list[FieldError]) -> Decimal | None:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.append(FieldError(field, f"{value!r} is not a number", "INVALID"))
        return None
    if not d.is_finite() or d < 0:
        errors.append(FieldError(field, f"{value!r} must be a non-negative number", "INVALID"))
        return None
    return d


def clean_tiers(raw: list[dict[str, Any]], errors: list[FieldError]) -> list[Tier]:
    """Tiers ordered by ``from``; the first starts at 0; rates are fractions (0.05 = 5 %)."""
    tiers = []
    for i, t in enumerate(raw or []):
        start = _dec(t.get("from", 0), f"tiers.{i}.from", errors)
        rate = _dec(t.get("rate"), f"tiers.{i}.rate", errors)
        if rate is not None and rate > 1:
            errors.append(FieldError(f"tiers.{i}.rate", "rate must be at most 1", "INVALID"))
        if start is not None and rate is not None:
            tiers.append(Tier(start, rate))
    if not tiers:
        errors.append(
            FieldError("tiers", "at least one tier (or a flat rate) is required", "REQUIRED")
        )
        return []
    starts = [t.start for t in tiers]
    if starts != sorted(set(starts)):
        errors.append(FieldError("tiers", "tier thresholds must be strictly increasing", "INVALID"))
    elif starts[0] != 0:
        errors.append(FieldError("tiers", "the first tier must start at 0", "INVALID"))
    return tiers


def clean_splits(raw: dict[str, Any] | None, errors: list[FieldError]) -> dict[str, Decimal]:
    """Percentages per opportunity team role; they must sum to exactly 100."""
    if not raw:
        return dict(DEFAULT_SPLITS)
    out: dict[str, Decimal] = {}
    for role, pct in raw.items():
        role = role.lower()
        if role not in ROLES:
            errors.append(
                FieldError("splits", f"unknown role {role!r} (am, ts, sc, bd)", "INVALID_CHOICE")
            )
            continue
        value = _dec(pct, f"splits.{role}", errors)
        if value is not None:
            out[role] = value
    if out and sum(out.values()) != 100:
        errors.append(
            FieldError(
                "splits",
                f"split percentages sum to {sum(out.values()).normalize():f}, not 100",
                "SPLITS_NOT_100",
            )
        )
    return out


def tiers_of(plan: dict[str, Any]) -> list[Tier]:
    raw = plan["tiers"]
    raw = json.loads(raw) if isinstance(raw, str) else raw
    return [Tier(Decimal(t["from"]), Decimal(t["rate"])) for t in raw]


def splits_of(plan: dict[str, Any]) -> dict[str, Decimal]:
    raw = plan["splits"]
    raw = json.loads(raw) if isinstance(raw, str) else raw
    return {k: Decimal(v) for k, v in raw.items()} or dict(DEFAULT_SPLITS)


def rate_for(tiers: list[Tier], attainment: Decimal | None) -> Tier:
    """The tier whose threshold the attainment reached (no target: the first tier)."""
    chosen = tiers[0]
    if attainment is not None:
        for tier in tiers:
            if attainment >= tier.start:
                chosen = tier
    return chosen


async def create_plan(actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    actor.require("incentive:manage")
    errors: list[FieldError] = []
    name = (data.get("name") or "").strip()
    if not name:
        errors.append(FieldError("name", "name is required", "REQUIRED"))
    basis = data.get("basis", "won")
    if basis not in {b.value for b in Basis}:
        errors.append(
            FieldError("basis", "basis must be won, invoiced or collected", "INVALID_CHOICE")
        )
    elif basis != "won":
        try:
            check_metric(f"{basis}_amount" if basis == "invoiced" else "collected_amount")
        except ValidationFailed:
            errors.append(
                FieldError(
                    "basis", f"basis {basis!r} needs the contracts plugin", "PLUGIN_DISABLED"
                )
            )
    raw_tiers = data.get("tiers") or (
        [{"from": 0, "rate": data["rate"]}] if data.get("rate") is not None else []
    )
    tiers = clean_tiers(raw_tiers, errors)
    splits = clean_splits(data.get("splits"), errors)
    cap = data.get("cap_minor")
    if cap is not None and cap < 0:
        errors.append(FieldError("cap", "cap must not be negative", "INVALID"))
    start, end = data.get("effective_from"), data.get("effective_to")
    if start is None:
        errors.append(FieldError("effectiveFrom", "effectiveFrom is required", "REQUIRED"))
    elif end is not None and end < start:
        errors.append(FieldError("effectiveTo", "effectiveTo is before effectiveFrom", "INVALID"))
    metric = data.get("attainment_metric") or (
        "won_revenue" if basis == "won" else f"{basis}_amount"
    )
    if name and await Plan.exists().where(Plan.name == name):
        errors.append(FieldError("name", f"a plan named {name!r} exists", "DUPLICATE"))
    raise_if(errors)
    async with unit_of_work():
        row = (
            await Plan.insert(
                Plan(
                    name=name,
                    basis=basis,
                    currency=data.get("currency", "CNY"),
                    tiers=json.dumps([{"from": str(t.start), "rate": str(t.rate)} for t in tiers]),
                    splits=json.dumps({k: str(v) for k, v in splits.items()}),
                    cap_minor=cap,
                    effective_from=start,
                    effective_to=end,
                    attainment_metric=metric,
                )
            ).returning(*Plan.all_columns())
        )[0]
        await record(actor, "created", "commission_plan", row["id"], after=row)
    return row


async def end_plan(actor: Actor, plan_id: int, effective_to: date) -> dict[str, Any]:
    """End a plan on ``effective_to`` (inclusive); later sources earn nothing under it. Lines
    already computed change on the next recomputation of their (open) period."""
    actor.require("incentive:manage")
    plan = await get_plan(actor, plan_id)
    if effective_to < plan["effective_from"]:
        raise ValidationFailed(
            FieldError("effectiveTo", "effectiveTo is before effectiveFrom", "INVALID")
        )
    async with unit_of_work():
        await Plan.update({Plan.effective_to: effective_to}).where(Plan.id == plan_id)
        after = {**plan, "effective_to": effective_to}
        await record(actor, "ended", "commission_plan", plan_id, before=plan, after=after)
    return after


async def get_plan(actor: Actor, plan_id: int) -> dict[str, Any]:
    actor.require("commission:read")
    row = await Plan.select().where(Plan.id == plan_id).first()
    if row is None:
        raise NotFound(f"Commission plan {plan_id} not found")
    return row


async def list_plans(actor: Actor) -> list[dict[str, Any]]:
    actor.require("commission:read")
    return await Plan.select().order_by(Plan.id)


async def assign_plan(
    actor: Actor,
    plan_id: int,
    *,
    user_id: int | None = None,
    team_id: int | None = None,
    effective_from: date | None = None,
    effective_to: date | None = None,
) -> dict[str, Any]:
    actor.require("incentive:manage")
    plan = await get_plan(actor, plan_id)
    if (user_id is None) == (team_id is None):
        raise ValidationFailed("give exactly one of userId and teamId", field="userId")
    if user_id is not None and not await User.exists().where(User.id == user_id):
        raise ValidationFailed(FieldError("userId", f"User {user_id} not found", "NOT_FOUND"))
    await require_manages(actor, user_id=user_id, team_id=team_id)
    start = effective_from or plan["effective_from"]
    async with unit_of_work():
        row = (
            await PlanAssignment.insert(
                PlanAssignment(
                    plan=plan_id,
                    user=user_id,
                    team=team_id,
                    effective_from=start,
                    effective_to=effective_to or plan["effective_to"],
                )
            ).returning(*PlanAssignment.all_columns())
        )[0]
        await record(actor, "assigned", "commission_plan", plan_id, after=row)
    return row


def _active(row: dict[str, Any], start: date, end: date) -> bool:
    return row["effective_from"] <= end and (
        row["effective_to"] is None or row["effective_to"] >= start
    )


async def plans_in(start: date, end: date) -> tuple[dict[int, dict], list[dict[str, Any]]]:
    """Plans and assignments effective at some day in ``[start, end]``."""
    plans = {p["id"]: p for p in await Plan.select() if _active(p, start, end)}
    assigns = [
        a
        for a in await PlanAssignment.select().order_by(PlanAssignment.id)
        if a["plan"] in plans and _active(a, start, end)
    ]
    return plans, assigns


def plan_for(
    user: int, team: int | None, day: date, plans: dict[int, dict], assigns: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The plan of ``user`` on ``day``: the latest own assignment, else the latest team one."""

    def ok(a: dict[str, Any]) -> bool:
        p = plans[a["plan"]]
        return _active(a, day, day) and _active(p, day, day)

    own = [a for a in assigns if a["user"] == user and ok(a)]
    if own:
        return plans[own[-1]["plan"]]
    mine = [a for a in assigns if team is not None and a["team"] == team and ok(a)]
    return plans[mine[-1]["plan"]] if mine else None
