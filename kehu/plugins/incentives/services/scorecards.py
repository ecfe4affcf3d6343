"""Scorecards (KPI考核): per rep or support agent and period, a weighted score over the metrics
whose plugins are enabled. Each metric scores ``min(actual ÷ target, cap) × 100`` against the
user's target for it; without a target, ratio metrics score their value (conversion 0.4 → 40)
and CSAT its share of 5; response/resolution hours score ``min(target ÷ actual, cap) × 100``
and need a target; metrics with no data are dropped and the weights renormalised."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kehu.core.context import current
from kehu.core.errors import Forbidden
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.plugins.incentives.services import periods
from kehu.plugins.incentives.services.access import can_see_user
from kehu.plugins.incentives.services.actuals import (
    ALL_METRICS,
    LOWER_IS_BETTER,
    MONEY_METRICS,
    actuals,
    available_metrics,
)
from kehu.plugins.incentives.services.targets import target_value
from kehu.plugins.incentives.tables import Target

SCORE_CAP = Decimal("1.5")


@dataclass(frozen=True)
class ScoreItem:
    metric: str
    actual: Decimal
    target: Decimal | None
    score: Decimal
    weight: Decimal  # normalised


@dataclass(frozen=True)
class Scorecard:
    user_id: int
    period: str
    items: list[ScoreItem]
    total: Decimal


def _score(metric: str, actual: Decimal, goal: Decimal | None) -> Decimal | None:
    if metric in LOWER_IS_BETTER:  # hours: at or under target scores 100 and more
        if not goal:
            return None
        return SCORE_CAP * 100 if actual <= 0 else min(goal / actual, SCORE_CAP) * 100
    if goal:
        return min(actual / goal, SCORE_CAP) * 100
    if metric in ("conversion_rate", "collection_rate"):
        return min(actual, Decimal(1)) * 100
    if metric == "csat":
        return actual / 5 * 100
    return None


async def scorecard(
    actor: Actor, user_id: int, period_key: str, weights: dict[str, Decimal] | None = None
) -> Scorecard:
    actor.require("incentive:read")
    if not await can_see_user(actor, user_id):
        raise Forbidden("Only your manager, admins and finance see your scorecard")
    period = periods.parse(period_key)
    configured = weights or current().plugin_settings("incentives").scorecard_weights
    usable = [m for m in configured if m in ALL_METRICS and m in available_metrics()]
    goals = {
        r["metric"]: target_value(r)
        for r in await Target.select().where(
            Target.period == period.key, Target.scope == "user", Target.user == user_id
        )
    }
    raw: list[tuple[str, Decimal, Decimal | None, Decimal]] = []
    for metric in usable:
        act = (await actuals(metric, period, "user")).get(user_id)
        if act is None and metric not in goals:
            continue
        value = act.number if act else Decimal(0)
        score = _score(metric, value, goals.get(metric))
        if score is not None:
            goal = goals.get(metric)
            if metric in MONEY_METRICS:  # shown in major units
                cur = act.currency if act and act.currency else "CNY"
                value = Money(int(value), cur).amount
                goal = None if goal is None else Money(int(goal), cur).amount
            raw.append((metric, value, goal, score))
    total_weight = sum(Decimal(configured[m]) for m, *_ in raw)
    items = [
        ScoreItem(
            m,
            a,
            g,
            s.quantize(Decimal("0.01")),
            Decimal(configured[m]) / total_weight if total_weight else Decimal(0),
        )
        for m, a, g, s in raw
    ]
    total = sum((i.score * i.weight for i in items), Decimal(0)).quantize(Decimal("0.01"))
    return Scorecard(user_id, period.key, items, total)


def describe(card: Scorecard) -> dict[str, Any]:
    return {"total": str(card.total), "items": {i.metric: str(i.score) for i in card.items}}
