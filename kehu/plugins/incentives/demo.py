"""Demo data (idempotent): company, team and personal targets for the current quarter, a
tiered collected/won plan for the demo sales users, a recomputed period, and an honour."""

from datetime import date
from decimal import Decimal
from typing import Any

from kehu.core.money import Money
from kehu.core.services.common import now
from kehu.plugins.incentives.services import events, ledger, periods, plans, targets
from kehu.plugins.incentives.tables import Plan

DEMO_REPS = ("zhangwei", "liuyang", "chenjing", "lihua", "wangfang")
PLAN = "Demo tiered plan 2026"


async def load_demo_data(actor: Any, users: dict[str, Any]) -> None:
    if await Plan.exists().where(Plan.name == PLAN):
        return
    today = now().date()
    kind = ledger.settlement_kind()
    period = periods.containing(today, kind)
    year = periods.parse(str(today.year))
    reps = [users[u] for u in DEMO_REPS if users.get(u) is not None]
    company = await targets.create_target(
        actor,
        {
            "metric": "won_revenue",
            "scope": "company",
            "period": year.key,
            "amount": Money(12_000_000_00, "CNY"),
            "note": "Annual company target",
        },
    )
    await targets.decompose(
        actor,
        company["id"],
        by="period",
        weights={f"{year.key}-Q{q}": w for q, w in zip(range(1, 5), (2, 3, 3, 4), strict=True)},
    )
    for i, uid in enumerate(reps):
        await targets.create_target(
            actor,
            {
                "metric": "won_revenue",
                "scope": "user",
                "user": uid,
                "period": period.key,
                "amount": Money((400_000 + 100_000 * i) * 100, "CNY"),
            },
        )
    plan = await plans.create_plan(
        actor,
        {
            "name": PLAN,
            "basis": "won",
            "currency": "CNY",
            "effective_from": date(today.year, 1, 1),
            "tiers": [
                {"from": "0", "rate": "0.05"},
                {"from": "0.8", "rate": "0.08"},
                {"from": "1", "rate": "0.12"},
            ],
            "splits": {"am": Decimal(50), "ts": Decimal(20), "sc": Decimal(20), "bd": Decimal(10)},
            "cap_minor": 200_000_00,
        },
    )
    for uid in reps:
        await plans.assign_plan(actor, plan["id"], user_id=uid)
    await ledger.recompute(actor, period.key)
    if reps:
        await events.propose(
            actor,
            {
                "kind": "honour",
                "subtype": "service_star",
                "user": reps[0],
                "period": period.key,
                "reason": "服务明星: best customer feedback of the quarter",
            },
        )
