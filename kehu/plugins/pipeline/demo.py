"""Demo data: two pipelines with opportunities spread over their stages, with backdated
stage history, owned by the demo sales reps. Idempotent: does nothing when the demo pipeline
exists already."""

from datetime import UTC, datetime, time, timedelta
from typing import Any

from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.core.tables import Customer, User
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t

DEMO_PIPELINE = "Standard sales 标准销售流程"
APPROVAL_PIPELINE = "Key accounts 大客户审批流程"

# (stage index reached, outcome, amount in CNY, owner)
DEALS = [
    (0, None, 80_000, "zhangwei"),
    (1, None, 120_000, "liuyang"),
    (2, None, 260_000, "chenjing"),
    (3, None, 450_000, "zhangwei"),
    (4, None, 300_000, "liuyang"),
    (4, "won", 180_000, "chenjing"),
    (2, "lost", 90_000, "zhangwei"),
    (4, "won", 520_000, "liuyang"),
    (1, None, 60_000, "chenjing"),
    (4, "lost", 210_000, "chenjing"),
]


async def _actor_for(username: str) -> Actor:
    from kehu.core.services import users

    row = await User.select().where(User.username == username).first()
    return users.actor_for(row)


LEADS = [  # name, company, source, factors, owner, action
    (
        "王五",
        "恒达物流科技",
        "trade_show",
        {"visits": 80, "inquiries": 100, "size": 60},
        "zhangwei",
        "convert",
    ),
    (
        "Anna Berg",
        "Nordic Timber AB",
        "website",
        {"visits": 40, "downloads": 70},
        "chenjing",
        "qualify",
    ),
    ("赵六", "", "ground_promotion", {"visits": 10}, "liuyang", "disqualify"),
    ("孙七", "蓝海教育咨询", "referral", {"inquiries": 60, "industry": 80}, "liuyang", None),
]


async def load_demo_data(actor: Actor, user_ids: dict[str, Any]) -> int:
    if await t.Pipeline.exists().where(t.Pipeline.name == DEMO_PIPELINE):
        return 0
    linear = await services.create_pipeline(
        actor, DEMO_PIPELINE, template="linear", is_default=True
    )
    approval = await services.create_pipeline(
        actor, APPROVAL_PIPELINE, template="linear_with_approval"
    )
    await _leads(user_ids)
    await _key_accounts(approval, user_ids)
    stages = [
        s
        for s in (await services.stages_by_pipeline([linear["id"]]))[linear["id"]]
        if not s["is_closed"]
    ]
    reps = [u for u in ("zhangwei", "liuyang", "chenjing") if u in user_ids]
    if not reps:
        return 0
    created = 0
    for i, (reach, outcome, amount, owner) in enumerate(DEALS):
        owner = owner if owner in user_ids else reps[0]
        rep = await _actor_for(owner)
        customer = (
            await Customer.select(Customer.id, Customer.name)
            .where(Customer.owner == user_ids[owner], Customer.archived_at.is_null())
            .order_by(Customer.id)
            .offset(i // 3)
            .first()
        )
        if customer is None:
            continue
        opp = await services.create_opportunity(
            rep,
            {
                "name": f"{customer['name']} 项目 #{i + 1}",
                "customer": customer["id"],
                "pipeline": linear["id"],
                "amount": Money(amount * 100, "CNY"),
                "expected_close_date": (now() + timedelta(days=15 * (i + 1))).date(),
                "source": "demo",
            },
        )
        await services.add_need(
            rep, opp["id"], "提升销售流程效率 Streamline the sales process", 4, 3, 5
        )
        for stage in stages[1 : reach + 1]:
            opp = await services.move_stage(rep, opp["id"], stage["id"])
        if outcome == "won" and reach == len(stages) - 1:
            opp = await services.win_opportunity(rep, opp["id"])
        elif outcome is not None:
            opp = await services.lose_opportunity(
                rep, opp["id"], "competitor" if i % 2 else "price"
            )
        await _backdate(opp["id"], days=10 * (len(DEALS) - i) + 5)
        created += 1
    created += await _last_quarter(linear, stages, user_ids)
    return created + await _purchases(linear, stages, user_ids)


# Won deals of the last two years for the revenue and customer-value metrics: owner, customer
# (offset among the owner's), days the history is shifted back (it closes ~20 days later), amount,
# currency, source ("" = the customer's), line items (product, quantity, unit price). Against the
# default window (the last 12 months vs the 12 before): growth, 2 of 4 earlier buyers retained,
# one repeat buyer, a USD deal.
PURCHASES = [
    (
        "zhangwei",
        4,
        430,
        200_000,
        "CNY",
        "referral",
        (("CRM 企业版 Enterprise licence", 10, 15_000), ("实施服务 Implementation", 1, 50_000)),
    ),
    ("zhangwei", 5, 470, 120_000, "CNY", "trade_show", (("数据分析模块 Analytics", 4, 30_000),)),
    ("liuyang", 4, 520, 90_000, "CNY", "", (("CRM 标准版 Standard licence", 30, 3_000),)),
    ("chenjing", 4, 580, 60_000, "CNY", "website", ()),
    ("zhangwei", 4, 200, 80_000, "CNY", "referral", (("年度维护 Annual support", 1, 80_000),)),
    ("zhangwei", 4, 45, 50_000, "CNY", "referral", (("培训 Training", 5, 10_000),)),
    (
        "liuyang",
        4,
        110,
        95_000,
        "CNY",
        "website",
        (("CRM 标准版 Standard licence", 30, 3_000), ("培训 Training", 1, 5_000)),
    ),
    ("chenjing", 5, 150, 70_000, "CNY", "", ()),
    ("liuyang", 3, 75, 12_000, "USD", "website", (("CRM Cloud seats", 20, 600),)),
]


async def _purchases(
    pipeline: dict[str, Any], stages: list[dict[str, Any]], user_ids: dict[str, Any]
) -> int:
    """Walk each of ``PURCHASES`` through the open stages, win it and backdate it."""
    created = 0
    for owner, offset, ago, amount, currency, source, lines in PURCHASES:
        if owner not in user_ids:
            continue
        rep = await _actor_for(owner)
        customer = (
            await Customer.select(Customer.id, Customer.name)
            .where(Customer.owner == user_ids[owner], Customer.archived_at.is_null())
            .order_by(Customer.id)
            .offset(offset)
            .first()
        )
        if customer is None:
            continue
        await _closed_deal(
            rep,
            stages,
            {
                "name": f"{customer['name']} 订单 Order",
                "customer": customer["id"],
                "pipeline": pipeline["id"],
                "amount": Money(amount * 100, currency),
                "expected_close_date": (now() - timedelta(days=ago + 20)).date(),
                "source": source,
            },
            lines=lines,
            won=True,
            days=70,
            ago=ago,
        )
        created += 1
    return created


async def _closed_deal(
    rep: Actor,
    stages: list[dict[str, Any]],
    data: dict[str, Any],
    *,
    lines: tuple = (),
    won: bool,
    days: int,
    ago: int,
) -> None:
    """Create a deal, walk it through the open stages, win or lose it, and backdate its
    history over ``days`` ending ``ago`` days before now."""
    opp = await services.create_opportunity(rep, data)
    await services.add_need(rep, opp["id"], "扩大使用范围 Extend the roll-out", 3, 2, 3)
    for product, quantity, price in lines:
        await services.add_line_item(
            rep, opp["id"], product, quantity, Money(price * 100, data["amount"].currency)
        )
    for stage in stages[1:]:
        await services.move_stage(rep, opp["id"], stage["id"])
    if won:
        await services.win_opportunity(rep, opp["id"])
    else:
        await services.lose_opportunity(rep, opp["id"], "price")
    await _backdate(opp["id"], days=days, ago=ago)


# Deals of the previous quarter for forecast vs actual: owner, amount (CNY), the forecast
# category and probability they had a week before the quarter began, won (else lost). The
# quarter's forecast snapshot, taken then, holds those forecasts.
LAST_QUARTER = [
    ("zhangwei", 300_000, "commit", 80, True),
    ("liuyang", 240_000, "best_case", 50, False),
    ("chenjing", 180_000, "commit", 70, True),
    ("zhangwei", 120_000, "pipeline", 20, True),
]


async def _last_quarter(
    pipeline: dict[str, Any], stages: list[dict[str, Any]], user_ids: dict[str, Any]
) -> int:
    """Close ``LAST_QUARTER`` in the previous quarter and store its forecast snapshot."""
    start, end = services.quarter(services.quarter(now().date())[0] - timedelta(days=1))
    lines: dict[tuple[Any, Any, str], tuple[int, int, int]] = {}
    for i, (owner, amount, category, probability, won) in enumerate(LAST_QUARTER):
        if owner not in user_ids:
            continue
        rep = await _actor_for(owner)
        customer = (
            await Customer.select(Customer.id, Customer.name)
            .where(Customer.owner == user_ids[owner], Customer.archived_at.is_null())
            .order_by(Customer.id)
            .first()
        )
        if customer is None:
            continue
        closes = start + timedelta(days=10 + 20 * i)
        await _closed_deal(
            rep,
            stages,
            {
                "name": f"{customer['name']} 季度项目 Quarter deal",
                "customer": customer["id"],
                "pipeline": pipeline["id"],
                "amount": Money(amount * 100, "CNY"),
                "expected_close_date": closes,
                "source": "demo",
            },
            won=won,
            days=35,
            ago=(now().date() - closes).days - 10,
        )  # closes ~10 days later
        key = (user_ids[owner], rep.team_id, category)
        deals, total, basis = lines.get(key, (0, 0, 0))
        lines[key] = (deals + 1, total + amount * 100, basis + amount * 100 * probability)
    snap = (
        await t.ForecastSnapshot.insert(
            t.ForecastSnapshot(
                taken_at=datetime.combine(start - timedelta(days=7), time(9), UTC),
                period_start=start,
                period_end=end,
            )
        ).returning(t.ForecastSnapshot.id)
    )[0]
    if lines:
        await t.ForecastSnapshotLine.insert(
            *[
                t.ForecastSnapshotLine(
                    snapshot=snap["id"],
                    owner=owner,
                    team=team,
                    forecast_category=category,
                    currency="CNY",
                    deals=deals,
                    total_minor=total,
                    weighted_basis=basis,
                )
                for (owner, team, category), (deals, total, basis) in lines.items()
            ]
        )
    return sum(deals for deals, _, _ in lines.values())


async def _backdate(opportunity_id: int, days: int, ago: int = 0) -> None:
    """Spread the history over the past so time-in-stage and cycle time mean something (over
    ``days`` ending ``ago`` days before now)."""
    h = t.StageChange
    rows = await h.select().where(h.opportunity == opportunity_id).order_by(h.id)
    start = now() - timedelta(days=days + ago)
    step = timedelta(days=max(1, days // (len(rows) + 1)))
    for n, row in enumerate(rows):
        at = start + step * n
        values: dict[Any, Any] = {h.at: at}
        if row["left_at"] is not None:
            values[h.left_at] = at + step
            values[h.seconds] = int(step.total_seconds())
        await h.update(values).where(h.id == row["id"])
    o = t.Opportunity
    opp = await o.select().where(o.id == opportunity_id).first()
    values = {o.created_at: start, o.stage_entered_at: start + step * (len(rows) - 1)}
    if opp["closed_at"] is not None:
        values[o.closed_at] = start + step * (len(rows) - 1)
        values[o.cycle_seconds] = int((step * (len(rows) - 1)).total_seconds())
    await o.update(values).where(o.id == opportunity_id)


async def _leads(user_ids: dict[str, Any]) -> None:
    for name, company, source, factors, owner, action in LEADS:
        if owner not in user_ids:
            continue
        rep = await _actor_for(owner)
        lead = await services.create_lead(
            rep,
            {"name": name, "company": company, "source": source, "factors": factors},
            allow_duplicate=True,
        )
        if action == "convert":
            await services.convert_lead(
                rep,
                lead["id"],
                opportunity={
                    "amount": Money(150_000_00, "CNY"),
                    "expected_close_date": (now() + timedelta(days=60)).date(),
                },
            )
        elif action == "qualify":
            await services.qualify_lead(rep, lead["id"])
        elif action == "disqualify":
            await services.disqualify_lead(rep, lead["id"], "No budget this year 今年无预算")


KEY_ACCOUNTS = [  # rep, approving manager, amount (CNY), opportunity team
    ("zhangwei", "lihua", 2_400_000, (("zhangwei", "am"), ("liuyang", "ts"), ("lihua", "bd"))),
    ("chenjing", "wangfang", 1_800_000, (("chenjing", "am"), ("wangfang", "bd"))),
    ("liuyang", None, 320_000, (("liuyang", "am"), ("zhangwei", "sc"))),  # below threshold
]


async def _key_accounts(pipeline: dict[str, Any], user_ids: dict[str, Any]) -> None:
    """Deals in the approval pipeline: big ones approved by the rep's manager, a small one
    that skips Decision Approval, each with an opportunity team (AM/TS/SC/BD)."""
    stages = {
        s["name"]: s for s in (await services.stages_by_pipeline([pipeline["id"]]))[pipeline["id"]]
    }
    path = ["Needs Analysis & Positioning", "Demo & Promotion", "Negotiation & Quotation"]
    for i, (username, approver, amount, team) in enumerate(KEY_ACCOUNTS):
        people = {username, *(u for u, _ in team)} | ({approver} if approver else set())
        if not people <= set(user_ids):
            continue
        rep = await _actor_for(username)
        customer = (
            await Customer.select(Customer.id, Customer.name)
            .where(Customer.owner == user_ids[username], Customer.archived_at.is_null())
            .order_by(Customer.id, ascending=False)
            .first()
        )
        if customer is None:
            continue
        opp = await services.create_opportunity(
            rep,
            {
                "name": f"{customer['name']} 大客户项目",
                "customer": customer["id"],
                "pipeline": pipeline["id"],
                "amount": Money(amount * 100, "CNY"),
                "expected_close_date": (now() + timedelta(days=45 + 30 * i)).date(),
                "source": "demo",
            },
        )
        for member, role in team:
            await services.add_team_member(rep, opp["id"], user_ids[member], role)
        for name in path:
            opp = await services.move_stage(rep, opp["id"], stages[name]["id"])
        if approver:
            opp = await services.move_stage(rep, opp["id"], stages["Decision Approval"]["id"])
            await services.approve_opportunity(await _actor_for(approver), opp["id"])
        await services.move_stage(rep, opp["id"], stages["Contract Signing & Execution"]["id"])
        await _backdate(opp["id"], days=40 - 10 * i)
