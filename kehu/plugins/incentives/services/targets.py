"""SMART targets: create, decompose (period → sub-periods, team → members) with exact sums,
and live attainment = actual ÷ target, with visibility.

Visibility: ``commission:read_all`` (managers, admins, finance) sees every target; others see
their own targets, their team's and company-wide ones.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import raise_if
from kehu.core.tables import Team, User
from kehu.plugins.incentives.services import periods
from kehu.plugins.incentives.services.access import (
    require_manages,
    sees_everyone,
    sees_team,
    team_members,
)
from kehu.plugins.incentives.services.actuals import (
    MONEY_METRICS,
    NON_ADDITIVE,
    Value,
    actuals,
    check_metric,
    dimension_actual,
)
from kehu.plugins.incentives.tables import Target

SCOPES = ("user", "team", "company", "region", "product", "channel")


@dataclass(frozen=True)
class Attainment:
    target: dict[str, Any]
    actual: Value | None
    ratio: Decimal | None  # actual ÷ target (None: no actual for this scope, or target 0)


def target_value(row: dict[str, Any]) -> Decimal:
    if row["amount_minor"] is not None:
        return Decimal(row["amount_minor"])
    return Decimal(row["value"] or 0)


def target_scope(actor: Actor) -> Any:
    """Where-clause of the targets ``actor`` may see (``None`` = all): every target with
    ``commission:read_all``, else their own user targets, their team's targets and the
    company / region / product / channel ones."""
    if sees_everyone(actor):
        return None
    shared = Target.scope.not_in(["user", "team"])
    mine = (Target.scope == "user") & (Target.user == actor.user_id)
    if sees_team(actor):
        mine = (Target.scope == "user") & (
            Target.user.is_in(team_members(actor)) | (Target.user == actor.user_id)
        )
    if actor.team_id is None:
        return shared | mine
    return shared | mine | ((Target.scope == "team") & (Target.team == actor.team_id))


def _visible(query: Any, actor: Actor) -> Any:
    scope = target_scope(actor)
    return query if scope is None else query.where(scope)


async def _clean(data: dict[str, Any]) -> dict[str, Any]:
    errors: list[FieldError] = []
    metric = data.get("metric", "")
    try:
        check_metric(metric)
    except ValidationFailed as exc:
        errors += exc.errors
    scope = data.get("scope", "user")
    if scope not in SCOPES:
        errors.append(
            FieldError("scope", f"scope must be one of {', '.join(SCOPES)}", "INVALID_CHOICE")
        )
    user, team, dim = data.get("user"), data.get("team"), (data.get("dimension") or "").strip()
    if scope == "user" and (user is None or not await User.exists().where(User.id == user)):
        errors.append(FieldError("userId", "a user target needs an existing userId", "REQUIRED"))
    if scope == "team" and (team is None or not await Team.exists().where(Team.id == team)):
        errors.append(FieldError("teamId", "a team target needs an existing teamId", "REQUIRED"))
    if scope in ("region", "product", "channel") and not dim:
        errors.append(
            FieldError("dimension", f"a {scope} target needs a dimension value", "REQUIRED")
        )
    try:
        period = periods.parse(data.get("period", ""))
    except ValidationFailed as exc:
        errors += exc.errors
        period = None
    amount: Money | None = data.get("amount")
    value = data.get("value")
    if metric in MONEY_METRICS:
        if amount is None or amount.minor <= 0:
            errors.append(
                FieldError("amount", "a money target needs a positive amount", "REQUIRED")
            )
    elif value is None or Decimal(str(value)) <= 0:
        errors.append(
            FieldError("value", "a count or ratio target needs a positive value", "REQUIRED")
        )
    raise_if(errors)
    assert period is not None
    return {
        "metric": metric,
        "scope": scope,
        "user": user if scope == "user" else None,
        "team": team if scope == "team" else None,
        "dimension": dim,
        "period": period.key,
        "start": period.start,
        "end": period.end,
        "amount_minor": amount.minor if amount is not None and metric in MONEY_METRICS else None,
        "currency": amount.currency if amount is not None else "",
        "value": "" if metric in MONEY_METRICS else str(Decimal(str(value))),
        "note": (data.get("note") or "")[:255],
        "parent": data.get("parent"),
    }


async def create_target(actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    actor.require("incentive:manage")
    values = await _clean(data)
    await require_manages(actor, user_id=values["user"], team_id=values["team"])
    async with unit_of_work():
        row = (
            await Target.insert(Target(**values, created_by=actor.user_id)).returning(
                *Target.all_columns()
            )
        )[0]
        await record(actor, "created", "target", row["id"], after=row)
    return row


async def delete_target(actor: Actor, target_id: int) -> int:
    """Delete a target and its decomposition (children cascade)."""
    actor.require("incentive:manage")
    row = await get_target(actor, target_id)
    await require_manages(actor, user_id=row["user"], team_id=row["team"])
    async with unit_of_work():
        await Target.delete().where(Target.id == target_id)
        await record(actor, "deleted", "target", target_id, before=row)
    return target_id


async def get_target(actor: Actor, target_id: int) -> dict[str, Any]:
    row = await _visible(Target.select().where(Target.id == target_id), actor).first()
    if row is None:
        raise NotFound(f"Target {target_id} not found")
    return row


async def list_targets(
    actor: Actor, period: str | None = None, metric: str | None = None, user_id: int | None = None
) -> list[dict[str, Any]]:
    query = _visible(Target.select().order_by(Target.start).order_by(Target.id), actor)
    if period:
        query = query.where(Target.period == periods.parse(period).key)
    if metric:
        query = query.where(Target.metric == metric)
    if user_id is not None:
        query = query.where(Target.user == user_id)
    return await query


def split_whole(row: dict[str, Any], weights: list[Decimal]) -> list[dict[str, Any]]:
    """Amounts (or values) of the parts: ``Money.allocate`` for money (exact to the cent),
    count targets by largest remainder on whole units, ratios copied (a rate does not add)."""
    if row["amount_minor"] is not None:
        parts = Money(row["amount_minor"], row["currency"]).allocate(weights)
        return [{"amount_minor": p.minor, "value": ""} for p in parts]
    if row["metric"] in NON_ADDITIVE:
        return [{"amount_minor": None, "value": row["value"]} for _ in weights]
    whole = Decimal(row["value"])
    if whole == whole.to_integral_value():
        parts = Money(int(whole), "XXX").allocate(weights)
        return [{"amount_minor": None, "value": str(p.minor)} for p in parts]
    return [{"amount_minor": None, "value": str(whole * w / sum(weights))} for w in weights]


async def decompose(
    actor: Actor, target_id: int, *, by: str, weights: dict[Any, Decimal] | None = None
) -> list[dict[str, Any]]:
    """Split a target into children whose amounts sum exactly to it: ``by="period"`` (year →
    quarters, quarter → months; equal weights unless given per child key) or ``by="members"``
    (a team target → its members, weights per user id, equal by default)."""
    actor.require("incentive:manage")
    row = await get_target(actor, target_id)
    await require_manages(actor, user_id=row["user"], team_id=row["team"])
    base = {
        k: row[k]
        for k in (
            "metric",
            "scope",
            "user",
            "team",
            "dimension",
            "period",
            "start",
            "end",
            "currency",
            "note",
        )
    }
    if by == "period":
        kids = periods.parse(row["period"]).children()
        if not kids:
            raise ValidationFailed(FieldError("by", "a month cannot be split further", "INVALID"))
        specs = [{**base, "period": p.key, "start": p.start, "end": p.end} for p in kids]
        keys: list[Any] = [p.key for p in kids]
    elif by == "members":
        if row["scope"] != "team":
            raise ValidationFailed(
                FieldError("by", "only team targets split into members", "INVALID")
            )
        members = (
            await User.select(User.id)
            .where(User.team == row["team"], User.active.eq(True))
            .order_by(User.id)
        )
        if not members:
            raise ValidationFailed(FieldError("by", "the team has no active members", "EMPTY_TEAM"))
        keys = [m["id"] for m in members]
        specs = [{**base, "scope": "user", "user": k, "team": None} for k in keys]
    else:
        raise ValidationFailed(FieldError("by", "by must be period or members", "INVALID"))
    w = [Decimal(str((weights or {}).get(k, 1))) for k in keys]
    if any(x < 0 for x in w) or sum(w) == 0:
        raise ValidationFailed(
            FieldError("weights", "weights must be non-negative and not all zero", "INVALID")
        )
    parts = split_whole(row, w)
    if row["amount_minor"] is not None:
        assert sum(p["amount_minor"] for p in parts) == row["amount_minor"]
    async with unit_of_work():
        await Target.delete().where(Target.parent == target_id)
        out = []
        for spec, part in zip(specs, parts, strict=True):
            child = (
                await Target.insert(
                    Target(**spec, **part, parent=target_id, created_by=actor.user_id)
                ).returning(*Target.all_columns())
            )[0]
            out.append(child)
        await record(
            actor,
            "decomposed",
            "target",
            target_id,
            after={"by": by, "children": [c["id"] for c in out]},
        )
    return out


async def check_decomposition(actor: Actor, target_id: int) -> list[str]:
    """Problems with a target's children: money and counts must sum to the parent."""
    row = await get_target(actor, target_id)
    kids = await Target.select().where(Target.parent == target_id)
    if not kids or row["metric"] in NON_ADDITIVE:
        return []
    total = sum(target_value(k) for k in kids)
    if total != target_value(row):
        return [f"children sum to {total}, target is {target_value(row)}"]
    return []


async def attainments(actor: Actor, rows: list[dict[str, Any]]) -> list[Attainment]:
    """Live attainment of each target; actuals are grouped per (metric, period, scope), so a
    list costs one aggregate query per distinct combination."""
    cache: dict[tuple[str, str, str, str], dict[Any, Value]] = {}
    out = []
    for row in rows:
        period = periods.parse(row["period"])
        scope = row["scope"]
        if scope in ("region", "product", "channel"):
            actual = await dimension_actual(
                row["metric"], period, scope, row["dimension"], row["currency"] or "CNY"
            )
        else:
            key = (row["metric"], row["period"], scope, row["currency"])
            if key not in cache:
                cache[key] = await actuals(row["metric"], period, scope, row["currency"] or None)
            subject = {"user": row["user"], "team": row["team"]}.get(scope, 0)
            actual = cache[key].get(subject, Value(Decimal(0), row["currency"]))
        goal = target_value(row)
        ratio = None if actual is None or goal == 0 else actual.number / goal
        out.append(Attainment(row, actual, ratio))
    return out
