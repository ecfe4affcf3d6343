"""The commission ledger: recomputation of a settlement period from the source data, role
splits, tiers by attainment, caps, payout runs that lock a period, and corrections of locked
periods as adjustment/clawback lines in the next open period.

Recomputing period P reconciles every line whose source falls in P: for each
``(source_key, user, role)`` the desired amount ``D`` is computed; lines in locked periods are
kept; the first open period ≥ P holds ``D − locked`` (nothing when zero). Running it twice
changes nothing (idempotent), and every line explains itself.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from kehu.core.context import current
from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import FieldError, Forbidden, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.core.tables import User
from kehu.plugins.incentives.services import periods, plans, sources
from kehu.plugins.incentives.services.access import sees_everyone
from kehu.plugins.incentives.services.actuals import actuals
from kehu.plugins.incentives.services.targets import target_value
from kehu.plugins.incentives.tables import CommissionLine, PayoutRun, Target

CLAWBACK_PREFIXES = ("refund:", "credit:")


@dataclass
class Spec:
    """A desired ledger amount for one ``(source_key, user, role)``."""

    source_key: str
    user: int
    role: str
    amount: Money
    base: Money
    day: date
    ref: str
    plan: int | None = None
    share: Decimal = Decimal(0)
    rate: Decimal = Decimal(0)
    tier: str = ""
    explanation: str = ""


def settlement_kind() -> str:
    return current().plugin_settings("incentives").settlement_period


def settlement_period(key: str) -> periods.Period:
    period = periods.parse(key)
    if period.kind != settlement_kind():
        raise ValidationFailed(
            FieldError(
                "period",
                f"commission periods are {settlement_kind()}s (e.g. "
                f"{periods.containing(period.start, settlement_kind()).key})",
                "INVALID",
            )
        )
    return period


def pct(value: Decimal) -> str:
    q = value.quantize(Decimal("0.01")).normalize()
    return f"{q:f}%"


def role_weights(
    participants: tuple[tuple[int, str], ...], splits: dict[str, Decimal]
) -> list[Decimal]:
    """Weights of each participant: the role's percentage shared equally by the role's
    members; roles missing from the team give their share to the present ones pro rata; when
    no present role has a share, all participants share equally."""
    counts: dict[str, int] = defaultdict(int)
    for _, role in participants:
        counts[role] += 1
    scale = math.prod(set(counts.values()))
    weights = [splits.get(role, Decimal(0)) * scale / counts[role] for _, role in participants]
    if sum(weights) == 0:
        return [Decimal(1)] * len(participants)
    return weights


def split_source(
    base: Money, participants: tuple[tuple[int, str], ...], splits: dict[str, Decimal]
) -> list[tuple[int, str, Decimal, Money]]:
    """``[(user, role, share %, base part)]`` whose parts sum exactly to ``base``."""
    if not participants:
        return []
    weights = role_weights(participants, splits)
    total = sum(weights)
    parts = base.allocate(weights)
    return [
        (u, r, w * 100 / total, p)
        for (u, r), w, p in zip(participants, weights, parts, strict=True)
    ]


def commissions(parts: list[tuple[Money, Decimal]]) -> list[Money]:
    """Commission of each base part at its rate; parts with the same rate are rounded once as
    a group and allocated back, so the group total is exactly ``round(sum × rate)``."""
    out: list[Money | None] = [None] * len(parts)
    groups: dict[Decimal, list[int]] = defaultdict(list)
    for i, (_, rate) in enumerate(parts):
        groups[rate].append(i)
    for rate, idx in groups.items():
        bases = [parts[i][0] for i in idx]
        total = Money(sum(b.minor for b in bases), bases[0].currency).multiply(rate)
        weights = [abs(b.minor) for b in bases]
        shares = total.allocate(weights) if any(weights) else [Money(0, total.currency)] * len(idx)
        for i, m in zip(idx, shares, strict=True):
            out[i] = m
    return [m for m in out if m is not None]


async def _attainments(
    period: periods.Period, pairs: set[tuple[int, str]]
) -> dict[tuple[int, str], Decimal | None]:
    """Attainment of ``(user, metric)`` in the period against the user's target for it."""
    out: dict[tuple[int, str], Decimal | None] = dict.fromkeys(pairs)
    metrics = {m for _, m in pairs}
    for metric in metrics:
        rows = await Target.select().where(
            Target.period == period.key, Target.metric == metric, Target.scope == "user"
        )
        goals = {r["user"]: target_value(r) for r in rows}
        if not goals:
            continue
        currencies = {r["user"]: r["currency"] or None for r in rows}
        acts_by: dict[str | None, dict] = {}
        for cur in set(currencies.values()):
            acts_by[cur] = await actuals(metric, period, "user", cur)
        for user, m in pairs:
            acts = acts_by.get(currencies.get(user), {})
            if m == metric and goals.get(user):
                out[(user, m)] = acts[user].number / goals[user] if user in acts else Decimal(0)
    return out


async def desired_lines(period: periods.Period) -> list[Spec]:
    """What the ledger should hold for sources dated in ``period``."""
    all_plans, assigns = await plans.plans_in(period.start, period.end)
    if not all_plans:
        return []
    teams = {u["id"]: u["team"] for u in await User.select(User.id, User.team)}
    raw: list[tuple[sources.Source, int, str, Decimal, Money, dict]] = []
    for basis in sorted({p["basis"] for p in all_plans.values()}):
        for src in await sources.for_basis(basis, period):
            own = {
                u: plans.plan_for(u, teams.get(u), src.day, all_plans, assigns)
                for u, _ in src.participants
            }
            lead = next((p for p in own.values() if p is not None), None)
            if lead is None:
                continue
            base = Money(src.base_minor, src.currency)
            for user, role, share, part in split_source(
                base, src.participants, plans.splits_of(lead)
            ):
                plan = own[user]
                if (
                    plan is not None
                    and plan["basis"] == basis
                    and part.minor
                    and plan["currency"] == src.currency
                ):  # no FX: a plan per currency
                    raw.append((src, user, role, share, part, plan))
    att = await _attainments(period, {(u, p["attainment_metric"]) for _, u, _, _, _, p in raw})
    tiers = {}
    for _, user, _, _, _, plan in raw:
        tiers[(user, plan["id"])] = plans.rate_for(
            plans.tiers_of(plan), att.get((user, plan["attainment_metric"]))
        )
    specs: list[Spec] = []
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, (src, *_rest) in enumerate(raw):
        by_source[src.key].append(i)
    for idx in by_source.values():
        amounts = commissions([(raw[i][4], tiers[(raw[i][1], raw[i][5]["id"])].rate) for i in idx])
        for i, amount in zip(idx, amounts, strict=True):
            src, user, role, share, part, plan = raw[i]
            tier = tiers[(user, plan["id"])]
            specs.append(
                Spec(
                    src.key,
                    user,
                    role,
                    amount,
                    part,
                    src.day,
                    src.ref,
                    plan["id"],
                    share,
                    tier.rate,
                    tier.label,
                    f"{pct(tier.rate * 100)} ({plan['name']}, tier {tier.label}) × {pct(share)} "
                    f"({role.upper()}) of {src.ref}: {part}",
                )
            )
    return specs + _caps(specs, all_plans, period)


def _caps(specs: list[Spec], all_plans: dict[int, dict], period: periods.Period) -> list[Spec]:
    totals: dict[tuple[int, int], int] = defaultdict(int)
    for s in specs:
        totals[(s.user, s.plan)] += s.amount.minor
    out = []
    for (user, plan_id), total in sorted(totals.items()):
        plan = all_plans[plan_id]
        cap = plan["cap_minor"]
        if cap is not None and total > cap:
            cur = plan["currency"]
            out.append(
                Spec(
                    f"cap:{plan_id}:{period.key}",
                    user,
                    "",
                    Money(cap - total, cur),
                    Money(total, cur),
                    period.end,
                    f"cap of plan {plan['name']}",
                    plan_id,
                    explanation=f"cap {Money(cap, cur)} of plan "
                    f"{plan['name']!r} on {Money(total, cur)} earned in {period.key}",
                )
            )
    return out


async def locked_periods() -> set[str]:
    return {r["period"] for r in await PayoutRun.select(PayoutRun.period)}


def open_period_from(period: periods.Period, locked: set[str]) -> periods.Period:
    while period.key in locked:
        period = period.next()
    return period


def _kind(key: tuple[str, int, str], natural: bool, amount: int) -> str:
    if key[0].startswith("cap:"):
        return "cap"
    if key[0].startswith(CLAWBACK_PREFIXES) or (not natural and amount < 0):
        return "clawback"
    return "commission" if natural else "adjustment"


@dataclass(frozen=True)
class RecomputeResult:
    period: str
    created: int
    updated: int
    deleted: int
    unchanged: int


async def recompute(actor: Actor, period_key: str) -> RecomputeResult:
    """Bring the ledger in line with the sources dated in the period (idempotent)."""
    actor.require("incentive:manage")
    period = settlement_period(period_key)
    async with unit_of_work():
        await _serialise(period)
        result = await _reconcile(period)
        if result.created or result.updated or result.deleted:
            await record(
                actor,
                "recomputed",
                "commission_period",
                None,
                after={
                    "period": period.key,
                    "created": result.created,
                    "updated": result.updated,
                    "deleted": result.deleted,
                },
            )
    return result


async def _serialise(period: periods.Period) -> None:
    """One recomputation at a time (PostgreSQL: a transaction-scoped advisory lock; SQLite's
    ``BEGIN IMMEDIATE`` already serialises writers), so concurrent hooks never race on
    ``line_key``."""
    if not is_sqlite(current_engine()):
        await CommissionLine.raw(
            "SELECT pg_advisory_xact_lock(hashtext({}))", "kehu.incentives.ledger"
        )


async def _reconcile(period: periods.Period) -> RecomputeResult:
    specs = {(s.source_key, s.user, s.role): s for s in await desired_lines(period)}
    locked = await locked_periods()
    existing = await CommissionLine.select().where(CommissionLine.source_period == period.key)
    keys = sorted({k[0] for k in specs})
    for i in range(0, len(keys), 500):  # the same sources booked under another date
        existing += await CommissionLine.select().where(
            CommissionLine.source_key.is_in(keys[i : i + 500]),
            CommissionLine.source_period != period.key,
        )
    by_key: dict[tuple[str, int, str], list[dict]] = defaultdict(list)
    for line in existing:
        by_key[(line["source_key"], line["user"], line["role"])].append(line)
    target = open_period_from(period, locked)
    created = updated = deleted = unchanged = 0
    for key in sorted(set(specs) | set(by_key), key=lambda k: (k[0], k[1], k[2])):
        spec = specs.get(key)
        lines = by_key.get(key, [])
        locked_sum = sum(x["amount_minor"] for x in lines if x["period"] in locked)
        stale = [x["id"] for x in lines if x["period"] not in locked and x["period"] != target.key]
        if stale:
            await CommissionLine.delete().where(CommissionLine.id.is_in(stale))
            deleted += len(stale)
        current_line = next((x for x in lines if x["period"] == target.key), None)
        want = (spec.amount.minor if spec else 0) - locked_sum
        if want == 0:
            if current_line is not None:
                await CommissionLine.delete().where(CommissionLine.id == current_line["id"])
                deleted += 1
            continue
        natural = target.key == period.key and not any(x["period"] in locked for x in lines)
        values = _values(spec, key, period, target, want, natural, lines)
        if current_line is None:
            await CommissionLine.insert(CommissionLine(**values))
            created += 1
        elif any(current_line[k] != v for k, v in values.items()):
            await CommissionLine.update({**values, "updated_at": now()}).where(
                CommissionLine.id == current_line["id"]
            )
            updated += 1
        else:
            unchanged += 1
    return RecomputeResult(period.key, created, updated, deleted, unchanged)


def _values(
    spec: Spec | None,
    key: tuple[str, int, str],
    period: periods.Period,
    target: periods.Period,
    want: int,
    natural: bool,
    lines: list[dict],
) -> dict[str, Any]:
    source_key, user, role = key
    prior = lines[0] if lines else {}
    currency = spec.amount.currency if spec else prior["currency"]
    explanation = (
        spec.explanation
        if spec
        else f"{prior.get('source_ref', source_key)} no longer earns commission"
    )
    if not natural:
        explanation = (
            f"correction of locked period {period.key}: {Money(want, currency)}; now {explanation}"
        )
    return {
        "line_key": f"{target.key}|{source_key}|{user}|{role}",
        "period": target.key,
        "source_period": period.key,
        "user": user,
        "role": role,
        "kind": _kind(key, natural, want),
        "source_key": source_key,
        "source_ref": (spec.ref if spec else prior.get("source_ref", ""))[:255],
        "source_date": spec.day if spec else prior.get("source_date", period.start),
        "plan": spec.plan if spec else prior.get("plan"),
        "base_minor": spec.base.minor if spec else 0,
        "share": str(spec.share.quantize(Decimal("0.01"))) if spec else "",
        "rate": str(spec.rate) if spec else "",
        "tier": spec.tier if spec else "",
        "amount_minor": want,
        "currency": currency,
        "explanation": explanation,
    }


async def run_payout(actor: Actor, period_key: str) -> dict[str, Any]:
    """Recompute, then lock the period: its lines never change again."""
    actor.require("commission:payout")
    period = settlement_period(period_key)
    if await PayoutRun.exists().where(PayoutRun.period == period.key):
        raise ValidationFailed(FieldError("period", f"{period.key} is already paid out", "LOCKED"))
    async with unit_of_work():
        await _serialise(period)
        await _reconcile(period)
        lines = await CommissionLine.select().where(CommissionLine.period == period.key)
        currencies = {x["currency"] for x in lines}
        row = (
            await PayoutRun.insert(
                PayoutRun(
                    period=period.key,
                    total_minor=sum(x["amount_minor"] for x in lines),
                    currency=currencies.pop() if len(currencies) == 1 else "",
                    lines=len(lines),
                    locked_by=actor.user_id,
                )
            ).returning(*PayoutRun.all_columns())
        )[0]
        await record(actor, "paid_out", "commission_period", row["id"], after=row)
    return row


async def payout_runs(actor: Actor) -> list[dict[str, Any]]:
    """Every payout run (company-wide totals): for admins and finance (``sees_everyone``)."""
    actor.require("commission:read_all")
    if not sees_everyone(actor):
        raise Forbidden("Payout runs are shown to admins and finance")
    return await PayoutRun.select().order_by(PayoutRun.period)
