"""Churn early warning (客户流失预警).

Plugins contribute ``Signal``s through the ``kehu_churn_signals`` hook; a customer's risk is
the sum of ``weight × score`` capped at 100. The tickets plugin contributes open complaints,
SLA breaches (last 90 days), low CSAT and NPS detractors, and falling activity (core
activities of the last 90 days against the 90 before). The ``tickets.churn_check`` job raises
one alert (a planned task for the account manager) when a customer's risk reaches
``churn_threshold`` and, if ``churn_set_declining``, moves the lifecycle stage to
``declining``; an alert is cleared when the risk falls below the threshold again.
"""

import json
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from piccolo.query.functions.aggregate import Count

from kehu.core.context import current
from kehu.core.errors import NotFound
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor, system_actor
from kehu.core.services import activities
from kehu.core.services.customers import get_customer, update_customer
from kehu.core.tables import Activity, Customer, User
from kehu.plugins.tickets.hookspecs import Signal
from kehu.plugins.tickets.services.common import PLUGIN, at, config
from kehu.plugins.tickets.services.slas import sla_of
from kehu.plugins.tickets.tables import OPEN_STATUSES, ChurnAlert, Survey, Ticket, TicketType

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu

WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class ChurnRisk:
    customer_id: int
    score: int
    signals: list[Signal]


async def ticket_signals(customer_ids: list[int], now: datetime) -> list[Signal]:
    """The tickets plugin's signals (its ``kehu_churn_signals`` implementation)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    out: list[Signal] = []
    since = now - WINDOW
    complaints = (
        await Ticket.select(Ticket.customer, Count(alias="n"))
        .where(
            Ticket.customer.is_in(ids),
            Ticket.type == TicketType.complaint.value,
            Ticket.status.is_in(list(OPEN_STATUSES)),
        )
        .group_by(Ticket.customer)
    )
    for r in complaints:
        out.append(
            Signal(r["customer"], PLUGIN, f"{r['n']} open complaint(s)", 30, min(1.0, r["n"] / 2))
        )
    recent = await Ticket.select().where(Ticket.customer.is_in(ids), Ticket.created_at >= since)
    breaches: Counter[int] = (
        Counter(
            t["customer"]
            for t, sla in zip(recent, (await sla_of(recent, now)).values(), strict=True)
            if sla.breached
        )
        if recent
        else Counter()
    )
    for customer_id, n in sorted(breaches.items()):
        out.append(
            Signal(customer_id, PLUGIN, f"{n} SLA breach(es) in 90 days", 25, min(1.0, n / 3))
        )
    answers = await Survey.select(Survey.customer, Survey.kind, Survey.score).where(
        Survey.customer.is_in(ids), Survey.answered_at >= since
    )
    csat: dict[int, list[int]] = {}
    nps: dict[int, list[int]] = {}
    for r in answers:
        (csat if r["kind"] == "csat" else nps).setdefault(r["customer"], []).append(r["score"])
    for customer_id, scores in sorted(csat.items()):
        low = sum(1 for s in scores if s <= 2)
        if low:
            out.append(
                Signal(
                    customer_id, PLUGIN, f"{low} low CSAT answer(s) (≤ 2)", 20, low / len(scores)
                )
            )
    for customer_id, scores in sorted(nps.items()):
        detractors = sum(1 for s in scores if s <= 6)
        if detractors:
            out.append(
                Signal(
                    customer_id,
                    PLUGIN,
                    f"{detractors} NPS detractor(s) (≤ 6)",
                    15,
                    detractors / len(scores),
                )
            )
    out += await activity_signals(ids, now)
    return out


async def activity_signals(customer_ids: list[int], now: datetime) -> list[Signal]:
    """Falling activity: done activities of the last 90 days against the previous 90 (a drop
    of 30% or more, with at least 3 activities before)."""
    ids = sorted(set(customer_ids))
    now = now.astimezone(UTC)  # compare like with like (SQLite stores UTC text)
    marks = ", ".join("{}" for _ in ids)
    rows = (
        await Activity.raw(
            "SELECT customer, SUM(CASE WHEN occurred_at >= {} THEN 1 ELSE 0 END) AS last, "
            "COUNT(*) AS total FROM core_activity WHERE status = 'done' "
            "AND related_type IS NULL AND occurred_at >= {} AND occurred_at < {} "
            f"AND customer IN ({marks}) GROUP BY customer",
            now - WINDOW,
            now - 2 * WINDOW,
            now,
            *ids,
        )
        if ids
        else []
    )
    last: Counter[int] = Counter({r["customer"]: int(r["last"]) for r in rows})
    before: Counter[int] = Counter({r["customer"]: int(r["total"]) - int(r["last"]) for r in rows})
    out = []
    for customer_id in sorted(before):
        prev, cur = before[customer_id], last[customer_id]
        if prev < 3:
            continue
        drop = (prev - cur) / prev
        if drop >= 0.3:
            out.append(
                Signal(
                    customer_id,
                    "core",
                    f"Activity fell from {prev} to {cur} (last 90 days vs previous 90)",
                    25,
                    drop,
                )
            )
    return out


async def risks(customer_ids: list[int], now: datetime | None = None) -> dict[int, ChurnRisk]:
    """Churn risk of each customer from every plugin's signals (the caller checked
    visibility)."""
    when = at(now)
    ids = sorted(set(customer_ids))
    signals: dict[int, list[Signal]] = {i: [] for i in ids}
    if ids:
        for answer in await current().acall("kehu_churn_signals", customer_ids=ids, now=when):
            for s in answer or []:
                if s.customer_id in signals:
                    signals[s.customer_id].append(s)
    out = {}
    for i in ids:
        found = sorted(signals[i], key=lambda s: (-s.points, s.source, s.reason))
        out[i] = ChurnRisk(i, min(100, round(sum(s.points for s in found))), found)
    return out


async def churn_risk(actor: Actor, customer_id: int, now: datetime | None = None) -> ChurnRisk:
    actor.require("ticket:read")
    await get_customer(actor, customer_id)
    return (await risks([customer_id], now))[customer_id]


@dataclass
class AlertOutcome:
    raised: list[int]
    cleared: list[int]
    declined: list[int]


async def _account_manager(customer: dict[str, Any]) -> int | None:
    if customer["owner"] is not None:
        return customer["owner"]
    if customer["team"] is not None:
        boss = (
            await User.select(User.id)
            .where(User.team == customer["team"], User.role == "manager", User.active.eq(True))
            .order_by(User.id)
            .first()
        )
        return boss["id"] if boss else None
    return None


async def churn_check(now: datetime | None = None, batch: int = 200) -> AlertOutcome:
    """Raise alerts for customers at or above the threshold (at most one open alert each),
    clear alerts below it, and move alerted customers to ``declining`` when configured."""
    when = at(now)
    settings = config()
    actor = system_actor()
    result = AlertOutcome([], [], [])
    last = 0
    while True:
        rows = (
            await Customer.select()
            .where(Customer.archived_at.is_null(), Customer.id > last)
            .order_by(Customer.id)
            .limit(batch)
        )
        if not rows:
            break
        last = rows[-1]["id"]
        scored = await risks([r["id"] for r in rows], when)
        open_alerts = {
            a["customer"]: a
            for a in await ChurnAlert.select().where(
                ChurnAlert.customer.is_in([r["id"] for r in rows]), ChurnAlert.open.eq(True)
            )
        }
        for customer in rows:
            risk = scored[customer["id"]]
            alert = open_alerts.get(customer["id"])
            if risk.score >= settings.churn_threshold and alert is None:
                declining = settings.churn_set_declining and customer["lifecycle_stage"] in (
                    "new",
                    "active",
                    "loyal",
                )
                async with unit_of_work():  # alert, task and stage change together
                    await _raise(actor, customer, risk, when)
                    if declining:
                        await update_customer(
                            actor, customer["id"], None, {"lifecycle_stage": "declining"}
                        )
                result.raised.append(customer["id"])
                if declining:
                    result.declined.append(customer["id"])
            elif risk.score < settings.churn_threshold and alert is not None:
                async with unit_of_work():
                    await ChurnAlert.update(
                        {ChurnAlert.open: False, ChurnAlert.cleared_at: when}
                    ).where(ChurnAlert.id == alert["id"])
                    await record(
                        actor,
                        "churn_alert_cleared",
                        "customer",
                        customer["id"],
                        after={"alert_id": alert["id"], "score": risk.score},
                    )
                result.cleared.append(customer["id"])
    return result


async def _raise(actor: Actor, customer: dict[str, Any], risk: ChurnRisk, when: datetime) -> None:
    async with unit_of_work():
        owner = await _account_manager(customer)
        alert_id = (
            await ChurnAlert.insert(
                ChurnAlert(
                    customer=customer["id"],
                    score=risk.score,
                    signals=json.dumps([asdict(s) for s in risk.signals]),
                    raised_at=when,
                )
            ).returning(ChurnAlert.id)
        )[0]["id"]
        activity_id = None
        if owner is not None:
            reasons = "; ".join(f"{s.reason} (+{s.points:.0f})" for s in risk.signals)
            activity_id = (
                await activities.log_activity(
                    actor,
                    customer["id"],
                    {
                        "kind": "task",
                        "status": "planned",
                        "owner": owner,
                        "due_at": when + timedelta(days=2),
                        "subject": f"Churn risk {risk.score}: intervene with {customer['name']}"[
                            :255
                        ],
                        "body": f"Churn early warning. Signals: {reasons}",
                        "related_type": "churn_alert",
                        "related_id": alert_id,
                    },
                )
            )["id"]
            await ChurnAlert.update({ChurnAlert.activity_id: activity_id}).where(
                ChurnAlert.id == alert_id
            )
        await record(
            actor,
            "churn_alert_raised",
            "customer",
            customer["id"],
            after={
                "alert_id": alert_id,
                "score": risk.score,
                "activity": activity_id,
                "owner": owner,
            },
        )


async def open_alerts(customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The open alert of each customer that has one (the caller checked visibility)."""
    if not customer_ids:
        return {}
    rows = await ChurnAlert.select().where(
        ChurnAlert.customer.is_in(sorted(set(customer_ids))), ChurnAlert.open.eq(True)
    )
    return {r["customer"]: r for r in rows}


async def open_alert(actor: Actor, customer_id: int) -> dict[str, Any] | None:
    actor.require("ticket:read")
    await get_customer(actor, customer_id)
    return (
        await ChurnAlert.select()
        .where(ChurnAlert.customer == customer_id, ChurnAlert.open.eq(True))
        .first()
    )


async def record_outcome(actor: Actor, customer_id: int, outcome: str) -> dict[str, Any]:
    """Record the intervention's outcome on the open alert and close it."""
    actor.require("ticket:write")
    async with unit_of_work():
        alert = await open_alert(actor, customer_id)
        if alert is None:
            raise NotFound(f"Customer {customer_id} has no open churn alert")
        row = (
            await ChurnAlert.update(
                {
                    ChurnAlert.outcome: outcome.strip()[:2000],
                    ChurnAlert.open: False,
                    ChurnAlert.cleared_at: at(None),
                }
            )
            .where(ChurnAlert.id == alert["id"])
            .returning(*ChurnAlert.all_columns())
        )[0]
        await record(
            actor,
            "churn_outcome",
            "customer",
            customer_id,
            after={"alert_id": alert["id"], "outcome": row["outcome"]},
        )
    return row


async def churn_check_job(kehu: "Kehu") -> str | None:
    """The ``tickets.churn_check`` job: raise and clear churn alerts."""
    result = await churn_check()
    return f"{len(result.raised)} churn alert(s) raised, {len(result.cleared)} cleared"
