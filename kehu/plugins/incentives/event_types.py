"""The events the incentives plugin emits (its part of the catalogue in ``docs/events.md``).

Incentive data is user-scoped, so every type has a ``visible`` rule that follows the services:
``commission:read_all`` (managers, admins, finance) receives everything; others receive the
targets ``targets.target_scope`` shows them (their own, their team's, company-wide ones), the
incentive events about themselves (``events.list_events``), plan assignments to themselves or
their team, and the plans (``plans.list_plans``). Payout runs and recomputations concern
everyone's ledger: ``commission:read_all`` only (``ledger.payout_runs``).
"""

from typing import Any

from kehu import EventType
from kehu.core.services.common import load_json
from kehu.core.tables import AuditLog
from kehu.plugins.incentives.services import access
from kehu.plugins.incentives.services.targets import target_scope
from kehu.plugins.incentives.tables import IncentiveEvent, PayoutRun, Plan, PlanAssignment, Target

READ_ALL = "commission:read_all"


# -- visibility rules (one or a few queries for a whole list of events) --------------------


def _all(events: list[Any]) -> set[str]:
    return {e.id for e in events}


def _ids(events: list[Any]) -> list[int]:
    return sorted({e.entity_id for e in events if e.entity_id is not None})


async def _deleted_rows(entity: str, ids: set[int]) -> dict[int, dict[str, Any]]:
    """The last state of rows deleted since (the ``before`` of their deletion's audit row)."""
    if not ids:
        return {}
    rows = await AuditLog.select(AuditLog.entity_id, AuditLog.before).where(
        AuditLog.entity == entity,
        AuditLog.action == "deleted",
        AuditLog.entity_id.is_in(sorted(ids)),
    )
    return {r["entity_id"]: load_json(r["before"]) for r in rows if r["before"]}


async def _company_wide(actor: Any, events: list[Any]) -> set[str]:
    """Company-wide ledger news (recomputations, payouts): for those who see everyone's
    incentives (``access.sees_everyone``: admins, finance), not a team's manager."""
    return _all(events) if access.sees_everyone(actor) else set()


def _sees_target(actor: Any, row: dict[str, Any], members: set[int]) -> bool:
    """``targets.target_scope`` for one snapshot of a target (for targets deleted since);
    ``members``: the user ids whose targets the actor sees besides their own."""
    scope = row.get("scope")
    if scope is None:
        return False
    if scope == "user":
        return row.get("user") == actor.user_id or row.get("user") in members
    if scope == "team":
        return actor.team_id is not None and row.get("team") == actor.team_id
    return True  # company, region, product, channel


async def targets_visible(actor: Any, events: list[Any]) -> set[str]:
    """Live targets through ``targets.target_scope``; a target deleted since by its last state
    (the event's own row, else the deletion's audit row). Targets never change scope, user or
    team, so that state decides as the live row would."""
    scope = target_scope(actor)
    if scope is None:
        return _all(events)
    ids = _ids(events)
    if not ids:
        return set()
    shown = {r["id"] for r in await Target.select(Target.id).where(Target.id.is_in(ids), scope)}
    rest = [i for i in ids if i not in shown]
    live = set(shown)
    if rest:
        live |= {r["id"] for r in await Target.select(Target.id).where(Target.id.is_in(rest))}
    gone = set(ids) - live
    last = await _deleted_rows(
        "target", {e.entity_id for e in events if e.entity_id in gone and "scope" not in e.data}
    )
    members: set[int] = set()
    if gone and access.sees_team(actor):
        members = {r["id"] for r in await access.team_members(actor)}
    allowed = set()
    for e in events:
        if e.entity_id in shown:
            allowed.add(e.id)
        elif e.entity_id in gone:
            row = e.data if "scope" in e.data else last.get(e.entity_id)
            if row is not None and _sees_target(actor, row, members):
                allowed.add(e.id)
    return allowed


async def plans_visible(actor: Any, events: list[Any]) -> set[str]:
    """Plans are shown to everyone with ``commission:read``; an assignment (who is paid under
    which plan) to whom sees the assigned user's incentives (``access``) and the assigned
    team."""
    if access.sees_everyone(actor):
        return _all(events)
    users = [e.data["user"] for e in events if e.data.get("user") is not None]
    seen = await access.visible_user_ids(actor, users)
    allowed = set()
    for e in events:
        if e.name != "commission_plan.assigned":
            allowed.add(e.id)
        elif e.data.get("user") is not None:
            if e.data["user"] in seen:
                allowed.add(e.id)
        elif actor.team_id is not None and e.data.get("team") == actor.team_id:
            allowed.add(e.id)
    return allowed


async def incentive_events_visible(actor: Any, events: list[Any]) -> set[str]:
    """``events.list_events``: the incentive events of the users ``access`` lets you see."""
    condition = access.users_condition(actor, IncentiveEvent.user)
    if condition is None:
        return _all(events)
    ids = _ids(events)
    if not ids or actor.user_id is None:
        return set()
    mine = {
        r["id"]
        for r in await IncentiveEvent.select(IncentiveEvent.id).where(
            IncentiveEvent.id.is_in(ids), condition
        )
    }
    return {e.id for e in events if e.entity_id in mine}


# -- the declarations ---------------------------------------------------------------------

TARGET = {
    "id": "target id",
    "metric": "what is measured (won_revenue, new_customers, ...; see incentiveMetrics)",
    "scope": "user, team, company, region, product or channel",
    "user": "user id of the person the target is for (scope user), else null",
    "team": "team id (scope team), else null",
    "dimension": "the region, product or channel value (those scopes), else empty",
    "period": "period key: 2026, 2026-Q3 or 2026-07",
    "start": "first day of the period (ISO date)",
    "end": "last day of the period, inclusive (ISO date)",
    "amount_minor": "money target in minor units (fen); null for count and ratio targets",
    "currency": "currency of amount_minor (ISO 4217); empty for count and ratio targets",
    "value": "count or ratio target as a decimal string; empty for money targets",
    "parent": "id of the target this one was split from, or null",
    "note": "free-text note",
    "created_by": "user id of who created it",
    "created_at": "when it was created",
}

PLAN = {
    "id": "commission plan id",
    "name": "the plan's unique name",
    "basis": "what it pays on: won, invoiced or collected amounts",
    "currency": "the plan's currency (ISO 4217); sources in other currencies earn nothing",
    "tiers": "rates by attainment: [{from: attainment ratio, rate: fraction}], 0.05 = 5 %",
    "splits": "percent of each source per deal-team role {am, ts, sc, bd}, summing to 100",
    "cap_minor": "cap per user and settlement period in minor units (fen), or null",
    "effective_from": "first day the plan applies (ISO date)",
    "effective_to": "last day the plan applies, inclusive (ISO date), or null: open-ended",
    "attainment_metric": "the metric whose attainment picks the tier",
    "created_at": "when the plan was created",
}

ASSIGNMENT = {
    "id": "id of the assignment (the event's entity_id is the plan's)",
    "plan": "commission plan id",
    "user": "user id paid under the plan, or null for a team assignment",
    "team": "team id whose members are paid under it (unless assigned a plan of their own), "
    "or null",
    "effective_from": "first day the assignment applies (ISO date)",
    "effective_to": "last day it applies, inclusive (ISO date), or null: open-ended",
    "created_at": "when it was assigned",
}

PAYOUT = {
    "id": "payout run id (the event's entity_id)",
    "period": "the settlement period now locked, e.g. 2026-07",
    "total_minor": "sum of the period's ledger lines in minor units (fen); it adds up "
    "different currencies when currency is empty",
    "currency": "their currency; empty when the lines are in several currencies",
    "lines": "number of ledger lines in the period",
    "locked_by": "user id of who ran the payout, null for the system",
    "locked_at": "when the period was locked",
}

INCENTIVE = {
    "id": "incentive event id",
    "kind": "bonus, allowance, honour or penalty",
    "subtype": "e.g. spot, travel, service_star, pay_cut (see proposeIncentiveEvent)",
    "user": "user id of the person rewarded or penalised",
    "period": "period key the event counts in (2026, 2026-Q3, 2026-07)",
    "amount_minor": "amount in minor units (fen), null without money; a penalty's amount is "
    "deducted",
    "currency": "currency of amount_minor (ISO 4217); empty without money",
    "reason": "why it was proposed",
    "status": "pending, approved or rejected",
    "requested_by": "user id of who proposed it",
    "decided_by": "user id of the manager who approved or rejected it, null while pending",
    "decided_at": "when it was approved or rejected, null while pending",
    "idempotency_key": "the proposer's idempotency key, or null",
    "created_at": "when it was proposed",
}
DECIDED = {**INCENTIVE, "note": "the deciding manager's note (stored only in the audit log)"}

PERIOD = "a settlement period (a month unless the settlement_period setting says otherwise)"

INCENTIVES_EVENTS = [
    EventType(
        "target.created",
        "A SMART target was set for a user, team, company, region, product or channel.",
        TARGET,
        table=Target,
        scope="incentive:read",
        visible=targets_visible,
    ),
    EventType(
        "target.decomposed",
        "A target was split into children whose amounts sum exactly to it (the previous "
        "children are replaced; the new ones get no target.created event).",
        {
            "by": "period (year → quarters → months) or members (a team → its members)",
            "children": "ids of the child targets, in order",
        },
        scope="incentive:read",
        visible=targets_visible,
    ),
    EventType(
        "target.deleted",
        "A target was deleted, and its decomposition with it (no event per child).",
        scope="incentive:read",
        visible=targets_visible,
    ),
    EventType(
        "commission_plan.created",
        "A commission plan was created: basis, rate tiers by attainment, cap, role splits.",
        PLAN,
        table=Plan,
        scope="commission:read",
        visible=plans_visible,
    ),
    EventType(
        "commission_plan.ended",
        "A commission plan was given an end date; later sources earn nothing under it.",
        PLAN,
        table=Plan,
        scope="commission:read",
        visible=plans_visible,
    ),
    EventType(
        "commission_plan.assigned",
        "A commission plan was assigned to a user or a team (a user's own assignment wins).",
        ASSIGNMENT,
        table=PlanAssignment,
        scope="commission:read",
        visible=plans_visible,
    ),
    EventType(
        "commission_period.recomputed",
        f"The commission ledger of {PERIOD} was brought in line with its sources (only when "
        "lines changed; entity_id is null).",
        {
            "period": "the settlement period key, e.g. 2026-07",
            "created": "number of ledger lines created",
            "updated": "number of ledger lines changed",
            "deleted": "number of ledger lines deleted",
        },
        scope=READ_ALL,
        visible=_company_wide,
    ),
    EventType(
        "commission_period.paid_out",
        f"A payout run locked {PERIOD}: its ledger lines never change again (later "
        "corrections go to the next open period).",
        PAYOUT,
        table=PayoutRun,
        scope=READ_ALL,
        visible=_company_wide,
    ),
    EventType(
        "incentive_event.proposed",
        "A bonus, allowance, honour or penalty was proposed (pending a manager's approval).",
        INCENTIVE,
        table=IncentiveEvent,
        scope="incentive:read",
        visible=incentive_events_visible,
    ),
    EventType(
        "incentive_event.approved",
        "A manager approved an incentive event: it now counts on the user's statement.",
        DECIDED,
        table=IncentiveEvent,
        scope="incentive:read",
        visible=incentive_events_visible,
    ),
    EventType(
        "incentive_event.rejected",
        "A manager rejected an incentive event.",
        DECIDED,
        table=IncentiveEvent,
        scope="incentive:read",
        visible=incentive_events_visible,
    ),
]
