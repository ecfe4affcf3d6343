"""Demo data: two pipelines with opportunities spread over their stages, with backdated
stage history, owned by the demo sales reps. Idempotent: does nothing when the demo pipeline
exists already."""

from datetime import timedelta
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
    ("王五", "恒达物流科技", "trade_show", {"visits": 80, "inquiries": 100, "size": 60}, "zhangwei",
     "convert"),
    ("Anna Berg", "Nordic Timber AB", "website", {"visits": 40, "downloads": 70}, "chenjing",
     "qualify"),
    ("赵六", "", "ground_promotion", {"visits": 10}, "liuyang", "disqualify"),
    ("孙七", "蓝海教育咨询", "referral", {"inquiries": 60, "industry": 80}, "liuyang", None),
]


async def load_demo_data(actor: Actor, user_ids: dict[str, Any]) -> int:
    if await t.Pipeline.exists().where(t.Pipeline.name == DEMO_PIPELINE):
        return 0
    linear = await services.create_pipeline(actor, DEMO_PIPELINE, template="linear",
                                            is_default=True)
    approval = await services.create_pipeline(actor, APPROVAL_PIPELINE,
                                              template="linear_with_approval")
    await _leads(user_ids)
    await _key_accounts(approval, user_ids)
    stages = [s for s in (await services.stages_by_pipeline([linear["id"]]))[linear["id"]]
              if not s["is_closed"]]
    reps = [u for u in ("zhangwei", "liuyang", "chenjing") if u in user_ids]
    if not reps:
        return 0
    created = 0
    for i, (reach, outcome, amount, owner) in enumerate(DEALS):
        owner = owner if owner in user_ids else reps[0]
        rep = await _actor_for(owner)
        customer = await Customer.select(Customer.id, Customer.name).where(
            Customer.owner == user_ids[owner], Customer.archived_at.is_null()).order_by(
            Customer.id).offset(i // 3).first()
        if customer is None:
            continue
        opp = await services.create_opportunity(rep, {
            "name": f"{customer['name']} 项目 #{i + 1}", "customer": customer["id"],
            "pipeline": linear["id"], "amount": Money(amount * 100, "CNY"),
            "expected_close_date": (now() + timedelta(days=15 * (i + 1))).date(),
            "source": "demo"})
        await services.add_need(rep, opp["id"], "提升销售流程效率 Streamline the sales process",
                                4, 3, 5)
        for stage in stages[1: reach + 1]:
            opp = await services.move_stage(rep, opp["id"], stage["id"])
        if outcome == "won" and reach == len(stages) - 1:
            opp = await services.win_opportunity(rep, opp["id"])
        elif outcome is not None:
            opp = await services.lose_opportunity(rep, opp["id"], "competitor"
                                                  if i % 2 else "price")
        await _backdate(opp["id"], days=10 * (len(DEALS) - i) + 5)
        created += 1
    return created


async def _backdate(opportunity_id: int, days: int) -> None:
    """Spread the history over the past so time-in-stage and cycle time mean something."""
    h = t.StageChange
    rows = await h.select().where(h.opportunity == opportunity_id).order_by(h.id)
    start = now() - timedelta(days=days)
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
        lead = await services.create_lead(rep, {"name": name, "company": company,
                                                "source": source, "factors": factors},
                                          allow_duplicate=True)
        if action == "convert":
            await services.convert_lead(rep, lead["id"], opportunity={
                "amount": Money(150_000_00, "CNY"),
                "expected_close_date": (now() + timedelta(days=60)).date()})
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
    stages = {s["name"]: s for s in
              (await services.stages_by_pipeline([pipeline["id"]]))[pipeline["id"]]}
    path = ["Needs Analysis & Positioning", "Demo & Promotion", "Negotiation & Quotation"]
    for i, (username, approver, amount, team) in enumerate(KEY_ACCOUNTS):
        people = {username, *(u for u, _ in team)} | ({approver} if approver else set())
        if not people <= set(user_ids):
            continue
        rep = await _actor_for(username)
        customer = await Customer.select(Customer.id, Customer.name).where(
            Customer.owner == user_ids[username], Customer.archived_at.is_null()).order_by(
            Customer.id, ascending=False).first()
        if customer is None:
            continue
        opp = await services.create_opportunity(rep, {
            "name": f"{customer['name']} 大客户项目", "customer": customer["id"],
            "pipeline": pipeline["id"], "amount": Money(amount * 100, "CNY"),
            "expected_close_date": (now() + timedelta(days=45 + 30 * i)).date(),
            "source": "demo"})
        for member, role in team:
            await services.add_team_member(rep, opp["id"], user_ids[member], role)
        for name in path:
            opp = await services.move_stage(rep, opp["id"], stages[name]["id"])
        if approver:
            opp = await services.move_stage(rep, opp["id"], stages["Decision Approval"]["id"])
            await services.approve_opportunity(await _actor_for(approver), opp["id"])
        await services.move_stage(rep, opp["id"], stages["Contract Signing & Execution"]["id"])
        await _backdate(opp["id"], days=40 - 10 * i)
