"""Statements per user and period, and leaderboards with visibility: everyone with
``incentive:read`` sees the ranking; commission amounts of others only with
``commission:read_all`` (managers, admins, finance)."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kehu.core.context import current
from kehu.core.errors import Forbidden, NotFound
from kehu.core.money import Money
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor
from kehu.core.tables import User
from kehu.plugins.incentives.services import periods
from kehu.plugins.incentives.services.access import (
    can_see_user,
    users_condition,
    visible_user_ids,
)
from kehu.plugins.incentives.services.actuals import Value, actuals
from kehu.plugins.incentives.services.ledger import (
    locked_periods,
    settlement_kind,
    settlement_period,
)
from kehu.plugins.incentives.services.targets import target_value
from kehu.plugins.incentives.tables import CommissionLine, IncentiveEvent, Target


@dataclass(frozen=True)
class Statement:
    user: dict[str, Any]
    period: str
    locked: bool
    lines: list[dict[str, Any]]
    events: list[dict[str, Any]]
    totals: dict[str, Money]  # by line kind, plus "incentives" and "total"
    currency: str


async def statement(actor: Actor, user_id: int, period_key: str) -> Statement:
    actor.require("incentive:read")
    if not await can_see_user(actor, user_id):
        raise Forbidden("Only your manager, admins and finance see your statements")
    period = settlement_period(period_key)
    user = await User.select().where(User.id == user_id).first()
    if user is None:
        raise NotFound(f"User {user_id} not found")
    lines = (
        await CommissionLine.select()
        .where(CommissionLine.user == user_id, CommissionLine.period == period.key)
        .order_by(CommissionLine.source_date)
        .order_by(CommissionLine.id)
    )
    events = (
        await IncentiveEvent.select()
        .where(
            IncentiveEvent.user == user_id,
            IncentiveEvent.period == period.key,
            IncentiveEvent.status == "approved",
        )
        .order_by(IncentiveEvent.id)
    )
    currency = (
        lines[0]["currency"]
        if lines
        else next((e["currency"] for e in events if e["currency"]), "CNY")
    )
    sums: dict[str, int] = defaultdict(int)
    for line in lines:
        sums[line["kind"]] += line["amount_minor"]
    events = [e for e in events if e["currency"] in ("", currency)]  # no FX
    sums["incentives"] = sum(signed_event_minor(e) for e in events)
    sums["total"] = sum(line["amount_minor"] for line in lines) + sums["incentives"]
    totals = {k: Money(v, currency) for k, v in sums.items()}
    return Statement(
        user, period.key, period.key in await locked_periods(), lines, events, totals, currency
    )


async def lines(
    actor: Actor,
    period_key: str,
    user_id: int | None = None,
    *,
    first: int = 20,
    after: str | None = None,
) -> tuple[Page, Any]:
    """Ledger lines of a settlement period, newest first (keyset page, ``first`` ≤ 100), and a
    counter: your own, or anyone's (one user or all) with ``commission:read_all``."""
    actor.require("incentive:read")
    period = settlement_period(period_key)
    if user_id is not None and not await can_see_user(actor, user_id):
        raise Forbidden("Only your manager, admins and finance see your commissions")
    query, count = CommissionLine.select(), CommissionLine.count()
    conditions = [CommissionLine.period == period.key]
    if user_id is not None:
        conditions.append(CommissionLine.user == user_id)
    elif (visible := users_condition(actor, CommissionLine.user)) is not None:
        conditions.append(visible)
    for condition in conditions:
        query, count = query.where(condition), count.where(condition)
    page = await keyset_page(
        query,
        sort=CommissionLine.id,
        pk=CommissionLine.id,
        descending=True,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )

    async def counter() -> int:
        return await count

    return page, counter


def signed_event_minor(event: dict[str, Any]) -> int:
    """Money effect of an approved incentive event: penalties (pay cuts) are negative."""
    amount = event["amount_minor"] or 0
    return -amount if event["kind"] == "penalty" else amount


@dataclass(frozen=True)
class Standing:
    rank: int
    user: dict[str, Any]
    actual: Value
    attainment: Decimal | None
    commission: Money | None  # None when the actor may not see it


async def leaderboard(
    actor: Actor, period_key: str, metric: str, first: int = 20
) -> list[Standing]:
    """Users ranked by the metric's actual in the period (ties by name)."""
    actor.require("incentive:read")
    period = periods.parse(period_key)
    acts = await actuals(metric, period, "user")
    acts.pop(None, None)
    users = {u["id"]: u for u in await User.select().where(User.id.is_in(list(acts) or [0]))}
    goals = {
        r["user"]: target_value(r)
        for r in await Target.select().where(
            Target.period == period.key, Target.metric == metric, Target.scope == "user"
        )
    }
    money: dict[int, int] = defaultdict(int)
    currency: dict[int, str] = {}
    query = CommissionLine.select(
        CommissionLine.user, CommissionLine.amount_minor, CommissionLine.currency
    )
    if period.kind == settlement_kind():  # what the statements of the period show
        query = query.where(CommissionLine.period == period.key)
    else:  # other granularities: lines by the date of their source
        query = query.where(
            CommissionLine.source_date >= period.start, CommissionLine.source_date <= period.end
        )
    for line in await query:
        money[line["user"]] += line["amount_minor"]
        currency[line["user"]] = line["currency"]
    ordered = sorted(
        (u for u in acts if u in users), key=lambda u: (-acts[u].number, users[u]["username"])
    )
    out = []
    shown = ordered[: max(1, min(first, 100))]
    paid = await visible_user_ids(actor, shown)
    for rank, uid in enumerate(shown, start=1):
        goal = goals.get(uid)
        out.append(
            Standing(
                rank,
                users[uid],
                acts[uid],
                acts[uid].number / goal if goal else None,
                Money(money[uid], currency.get(uid, acts[uid].currency or "CNY"))
                if uid in paid
                else None,
            )
        )
    return out
