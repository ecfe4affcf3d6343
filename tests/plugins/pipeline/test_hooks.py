"""Published hooks (after commit), merges, handovers, the stale-deals job and demo data."""

from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from kehu import Kehu, PluginInfo, hookimpl
from kehu.core.events import unit_of_work
from kehu.core.money import Money
from kehu.core.services import customers
from kehu.core.services.common import now
from kehu.core.tables import Activity
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t


class Listener:
    """A plugin implementing the pipeline's hooks (optionalhook, as incentives would)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    @hookimpl
    def kehu_plugin_info(self) -> PluginInfo:
        return PluginInfo("listener", "1.0")

    @hookimpl(optionalhook=True)
    def kehu_opportunity_stage_changed(
        self, opportunity_id, customer_id, from_stage, to_stage, actor_id
    ):
        self.calls.append(("stage", opportunity_id, from_stage, to_stage, actor_id))

    @hookimpl(optionalhook=True)
    async def kehu_opportunity_won(self, opportunity_id, customer_id, amount, owner_id):
        self.calls.append(("won", opportunity_id, amount, owner_id))

    @hookimpl(optionalhook=True)
    def kehu_opportunity_lost(self, opportunity_id, customer_id, reason, owner_id):
        self.calls.append(("lost", opportunity_id, reason, owner_id))


@asynccontextmanager
async def runtime_with(kehu: Kehu, listener: object):
    available = {p.info.name: p.module for p in kehu.plugins} | {"listener": listener}
    settings = kehu.settings.model_copy(update={"plugins": [*kehu.names, "listener"]})
    other = Kehu(settings, available=available)
    await other.start()
    try:
        yield other
    finally:
        await other.stop()
        kehu.activate()


async def test_hooks_run_after_commit_only(
    kehu, make_user, make_customer, make_pipeline, make_opportunity
):
    rep = await make_user("sales", team="North")
    pipeline, st = await make_pipeline("consultative")
    acme = await make_customer(owner=rep)
    listener = Listener()
    async with runtime_with(kehu, listener):
        opp = await make_opportunity(acme, pipeline, amount=1234, actor=rep.actor)
        with pytest.raises(RuntimeError):
            async with unit_of_work():
                await services.move_stage(rep.actor, opp["id"], st["Introduction & Solution"]["id"])
                raise RuntimeError("rolled back")
        assert listener.calls == []
        await services.move_stage(rep.actor, opp["id"], st["Introduction & Solution"]["id"])
        await services.win_opportunity(rep.actor, opp["id"])
        other = await make_opportunity(acme, pipeline, actor=rep.actor)
        await services.lose_opportunity(rep.actor, other["id"], "price")
    assert listener.calls == [
        ("stage", opp["id"], "Needs Analysis & Goal Setting", "Introduction & Solution", rep.id),
        ("stage", opp["id"], "Introduction & Solution", "Delivery & Follow-up", rep.id),
        ("won", opp["id"], Money(123_400, "CNY"), rep.id),
        ("stage", other["id"], "Needs Analysis & Goal Setting", "Closed Lost", rep.id),
        ("lost", other["id"], "price", rep.id),
    ]


async def test_merge_and_handover(
    kehu, system, make_user, make_customer, make_pipeline, make_opportunity
):
    await make_pipeline("linear")
    leaving = await make_user("sales", team="North")
    successor = await make_user("sales", team="South")
    survivor = await make_customer("ACME", owner=leaving)
    merged = await make_customer("ACME Ltd", owner=leaving)
    a = await make_opportunity(survivor, actor=leaving.actor)
    b = await make_opportunity(merged, actor=leaving.actor)
    won = await make_opportunity(merged, actor=leaving.actor, name="won")
    await services.lose_opportunity(system, won["id"], "price")
    lead = await services.create_lead(leaving.actor, {"name": "L", "company": "Zeta"})
    await services.convert_lead(
        leaving.actor, lead["id"], customer_id=merged["id"], create_opportunity_too=False
    )

    await customers.merge_customers(system, survivor["id"], merged["id"])
    rows = {r["id"]: r for r in await t.Opportunity.select()}
    assert {r["customer"] for r in rows.values()} == {survivor["id"]}
    assert (await services.get_lead(system, lead["id"]))["customer"] == survivor["id"]

    await customers.reassign_customers(system, successor.id, from_user_id=leaving.id)
    rows = {r["id"]: r for r in await t.Opportunity.select()}
    assert (rows[a["id"]]["owner"], rows[a["id"]]["team"]) == (successor.id, successor.team_id)
    assert rows[b["id"]]["owner"] == successor.id
    assert rows[won["id"]]["owner"] == leaving.id  # closed deals keep their history
    visible = await services.list_opportunities(successor.actor)
    assert {r["id"] for r in visible.rows} == {a["id"], b["id"], won["id"]}


async def test_stale_deals_job(
    kehu, system, make_user, make_customer, make_pipeline, make_opportunity
):
    pipeline, _ = await make_pipeline("linear", stale_after_days=10)
    rep = await make_user("sales")
    acme = await make_customer(owner=rep)
    stale = await make_opportunity(acme, pipeline, actor=rep.actor, name="stale")
    busy = await make_opportunity(acme, pipeline, actor=rep.actor, name="busy")
    fresh = await make_opportunity(acme, pipeline, actor=rep.actor, name="fresh")
    old = now() - timedelta(days=11)
    await t.Opportunity.update({t.Opportunity.stage_entered_at: old}).where(
        t.Opportunity.id.is_in([stale["id"], busy["id"]])
    )
    from kehu.core.services.activities import log_activity

    await log_activity(
        rep.actor,
        acme["id"],
        {"subject": "Call", "related_type": "opportunity", "related_id": busy["id"]},
    )
    job = kehu.jobs()["pipeline.stale_deals"]
    assert await job.func(kehu) == "1 stale deal reminder(s)"
    assert await job.func(kehu) == "0 stale deal reminder(s)"  # not duplicated
    reminders = await Activity.select().where(Activity.subject.like("Stale deal%"))
    assert [(r["related_id"], r["owner"], r["kind"], r["status"]) for r in reminders] == [
        (stale["id"], rep.id, "task", "planned")
    ]
    assert fresh["id"] not in [r["related_id"] for r in reminders]


async def test_demo_data_is_idempotent(kehu, system):
    from kehu.core.demo import load_demo

    users = await load_demo(kehu, system)
    assert {"zhangwei", "liuyang", "chenjing"} <= set(users)
    count = await t.Opportunity.count()
    # ten in the standard pipeline, a converted lead, 3 key accounts, 9 earlier purchases of
    # repeat customers and 4 deals closed last quarter (the forecast snapshot's period)
    assert count == 27
    assert await t.Lead.count() == 4
    assert await t.TeamMember.count() == 7
    approved = await t.Opportunity.count().where(t.Opportunity.approved_at.is_not_null())
    assert approved == 2
    statuses = {r["status"] for r in await t.Opportunity.select(t.Opportunity.status)}
    assert statuses == {"open", "won", "lost"}
    assert await t.StageChange.count() > count
    await kehu.acall("kehu_demo_data", actor=system, users=users)
    assert await t.Opportunity.count() == count
    rate = await services.win_rate(system)
    assert (rate.won, rate.lost) == (2 + 9 + 3, 2 + 1)
    assert await services.average_deal_cycle_days(system) > 0
