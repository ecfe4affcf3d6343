"""SLA clocks of real tickets: due times from the status history, pauses while pending the
customer, recomputation after a policy change, entitlement through the hook, and the
escalation job with a frozen clock (reminder once, breach once, supervisor notified)."""

import asyncio
from datetime import timedelta

import pytest
from click.testing import CliRunner

from kehu import hookimpl
from kehu.core.tables import Activity
from kehu.plugins.tickets.cli import tickets as tickets_cli
from kehu.plugins.tickets.services import escalation, slas, tickets
from kehu.plugins.tickets.services.common import calendar
from kehu.plugins.tickets.tables import Escalation, Ticket

from .conftest import MON, H, M, gid


async def _sla(ticket_id, now):
    row = await Ticket.select().where(Ticket.id == ticket_id).first()
    return (await slas.sla_of([row], now))[ticket_id]


async def test_due_times_pause_and_policy_change(kehu, make_user, make_customer):
    agent = await make_user("support", team="North")
    admin = await make_user("admin")
    acme = await make_customer("ACME", owner=agent)
    t = await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {"subject": "Slow", "channel": "email", "priority": "normal"},
        now=MON,
    )

    s = await _sla(t["id"], MON + 2 * H)
    assert s.policy == "default"
    assert s.first_response.due_at == MON + 8 * H  # Mon 18:00
    assert (s.first_response.elapsed, s.first_response.remaining) == (2 * H, 6 * H)
    assert not s.first_response.breached and not s.first_response.paused
    # 72 business hours from Monday 10:00 = 8 working days later, Wednesday 16:00 + 1 week
    assert s.resolution.due_at == calendar().add(MON, 72 * H)

    # Monday evening and the night do not count: at Tuesday 10:00 it is breached by 1h
    late = await _sla(t["id"], MON + 24 * H)
    assert late.first_response.breached and late.first_response.elapsed == 9 * H

    await tickets.add_message(agent.actor, t["id"], "Hello", now=MON + 30 * M)
    await tickets.change_status(agent.actor, t["id"], "pending_customer", now=MON + H)
    waiting = await _sla(t["id"], MON + 3 * H)
    assert waiting.first_response.met_at == MON + 30 * M and not waiting.first_response.breached
    assert waiting.resolution.paused and waiting.resolution.due_at is None
    assert waiting.resolution.elapsed == H
    await tickets.add_message(
        agent.actor, t["id"], "Here you go", from_customer=True, now=MON + 5 * H
    )
    resumed = await _sla(t["id"], MON + 6 * H)
    assert resumed.resolution.due_at == calendar().add(MON, 72 * H, [(MON + H, MON + 5 * H)])
    assert resumed.resolution.elapsed == 2 * H

    # a policy change recomputes: nothing about deadlines is stored on the ticket
    await slas.set_policy(admin.actor, "default", "normal", 60, 240)
    changed = await _sla(t["id"], MON + 6 * H)
    assert changed.resolution.due_at == MON + 8 * H  # 4h of work + the 4h pause
    assert changed.first_response.due_at == MON + H
    # a priority change re-targets too
    await tickets.update_ticket(agent.actor, t["id"], {"priority": "low"})
    low = await _sla(t["id"], MON + 6 * H)
    assert low.resolution.target == 120 * H


class Entitlement:
    """A stand-in for the contracts plugin: ACME has a gold contract."""

    def __init__(self, customer_id):
        self.customer_id = customer_id

    @hookimpl
    def kehu_ticket_sla_policy(self, customer_ids):
        return {self.customer_id: "gold"} if self.customer_id in customer_ids else {}


async def test_sla_entitlement_hook(kehu, make_user, make_customer):
    admin = await make_user("admin")
    acme = await make_customer("ACME")
    plain = await make_customer("Plain")
    await slas.set_policy(admin.actor, "gold", "urgent", 15, 120)
    plugin = Entitlement(acme["id"])
    kehu.pm.register(plugin, name="entitlement")
    try:
        gold = await tickets.create_ticket(
            admin.actor,
            acme["id"],
            {"subject": "x", "channel": "phone", "priority": "urgent"},
            now=MON,
        )
        other = await tickets.create_ticket(
            admin.actor,
            plain["id"],
            {"subject": "y", "channel": "phone", "priority": "urgent"},
            now=MON,
        )
        rows = await Ticket.select().where(Ticket.id.is_in([gold["id"], other["id"]]))
        found = await slas.sla_of(rows, MON)
        assert (found[gold["id"]].policy, found[gold["id"]].first_response.due_at) == (
            "gold",
            MON + 15 * M,
        )
        assert (found[other["id"]].policy, found[other["id"]].first_response.due_at) == (
            "default",
            MON + H,
        )
        # gold has no row for "high": the default targets apply
        await tickets.update_ticket(admin.actor, gold["id"], {"priority": "high"})
        assert (await _sla(gold["id"], MON)).first_response.target == 4 * H
    finally:
        kehu.pm.unregister(plugin)


async def test_escalation_job_with_frozen_clock(kehu, make_user, make_customer, gql):
    agent = await make_user("support", team="North")
    boss = await make_user("manager", team="North")
    await make_user("manager", team="South")  # another team's manager is not told
    acme = await make_customer("ACME", owner=agent)
    t = await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {"subject": "Down", "channel": "phone", "priority": "high"},
        now=MON,
    )  # FR due 14:00

    assert await escalation.sla_check(MON + 3 * H) == []  # 1h left > 30 min lead
    planned = await escalation.sla_check(MON + 3 * H + 40 * M, dry_run=True)
    assert [(s.target, s.step, s.notify) for s in planned] == [
        ("first_response", "reminder", [agent.id])
    ]
    assert await Escalation.count() == 0 and await Activity.count() == 0  # dry run

    for minutes in (40, 45):  # the second run finds the step done
        await escalation.sla_check(MON + 3 * H + minutes * M)
    assert await Escalation.count() == 1
    reminder = await Activity.select().where(Activity.related_type == "ticket").first()
    assert (reminder["owner"], reminder["related_id"], reminder["kind"], reminder["status"]) == (
        agent.id,
        t["id"],
        "task",
        "planned",
    )
    assert reminder["subject"].startswith("SLA reminder: first response")

    for minutes in (10, 20):  # breach at 14:00; escalated once to the North manager
        steps = await escalation.sla_check(MON + 4 * H + minutes * M)
        assert len(steps) == (1 if minutes == 10 else 0)
    breach = await Activity.select().where(
        Activity.related_type == "ticket", Activity.owner == boss.id
    )
    assert len(breach) == 1 and breach[0]["subject"].startswith("SLA breached: first response")

    # once answered, the first-response clock stops; pending_customer pauses resolution
    await tickets.add_message(agent.actor, t["id"], "Sorry!", now=MON + 5 * H)
    await tickets.change_status(agent.actor, t["id"], "pending_customer", now=MON + 5 * H)
    assert await escalation.sla_check(MON + 30 * 24 * H, dry_run=True) == []
    assert await Activity.count() == 2

    body = await gql(
        """query($id: ID!) { ticket(id: $id) { escalations { target step
        notifiedUserIds } } }""",
        {"id": gid("Ticket", t)},
        user=boss,
    )
    assert body["data"]["ticket"]["escalations"] == [
        {"target": "first_response", "step": "reminder", "notifiedUserIds": [agent.id]},
        {"target": "first_response", "step": "breach", "notifiedUserIds": [boss.id]},
    ]


async def test_reassign_on_breach_and_cli_dry_run(kehu, make_user, make_customer):
    kehu.plugin_settings("tickets").reassign_on_breach = True
    try:
        a = await make_user("support", team="North")
        b = await make_user("support", team="North")
        acme = await make_customer("ACME", owner=a)
        t = await tickets.create_ticket(
            a.actor,
            acme["id"],
            {"subject": "x", "channel": "phone", "priority": "urgent", "assignee": a.id},
            now=MON,
        )

        class State:  # the CLI's object: run the coroutine on the test's event loop
            def __init__(self, loop):
                self.loop = loop

            def run(self, fn):
                return asyncio.run_coroutine_threadsafe(fn(kehu), self.loop).result()

        state = State(asyncio.get_running_loop())
        when = (MON + 2 * H).isoformat()
        result = await asyncio.to_thread(
            CliRunner().invoke, tickets_cli, ["sla-check", "--dry-run", "--now", when], obj=state
        )
        assert result.exit_code == 0, result.output
        assert "would do: T" in result.output and "breach on first response" in result.output
        assert "reassign within the team" in result.output
        assert "notify nobody" in result.output  # breach goes to supervisors: none here
        assert await Escalation.count() == 0

        steps = await escalation.sla_check(MON + 2 * H)
        assert {s.step for s in steps} == {"breach"}
        assert (await Ticket.select().where(Ticket.id == t["id"]).first())["assignee"] == b.id
    finally:
        kehu.plugin_settings("tickets").reassign_on_breach = False


@pytest.mark.parametrize("status", ["resolved"])
async def test_resolved_ticket_stops_clocks(kehu, make_user, make_customer, status):
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=agent)
    t = await tickets.create_ticket(
        agent.actor, acme["id"], {"subject": "x", "channel": "phone", "priority": "urgent"}, now=MON
    )
    await tickets.add_message(agent.actor, t["id"], "done", now=MON + 10 * M)
    await tickets.change_status(agent.actor, t["id"], status, now=MON + 2 * H)
    s = await _sla(t["id"], MON + timedelta(days=20))
    assert s.resolution.met_at == MON + 2 * H and s.resolution.elapsed == 2 * H
    assert not s.breached
    # reopened: the resolution clock continues from where it stopped
    await tickets.reopen_ticket(agent.actor, t["id"], now=MON + 3 * H)
    s = await _sla(t["id"], MON + 4 * H)
    assert s.resolution.met_at is None and s.resolution.elapsed == 3 * H


async def test_resolved_without_reply_stops_first_response_clock(kehu, make_user, make_customer):
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=agent)
    t = await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {"subject": "dup call", "channel": "phone", "priority": "urgent"},
        now=MON,
    )
    await tickets.change_status(agent.actor, t["id"], "resolved", now=MON + 2 * H)
    s = await _sla(t["id"], MON + timedelta(days=10))
    assert s.first_response.met_at == MON + 2 * H
    assert s.first_response.elapsed == 2 * H and s.first_response.breached  # 1h target
    assert await escalation.sla_check(MON + timedelta(days=10), dry_run=True) == []


class TestPolicyCalendar:
    """A policy can run on its own calendar: gold customers get a 24×7 clock."""

    @pytest.fixture
    def kehu_settings_overrides(self) -> dict:
        every_day = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
        return {
            "plugin_settings": {
                "tickets": {
                    "policy_calendars": {"gold": {"timezone": "Asia/Shanghai", "weekly": every_day}}
                }
            }
        }

    async def test_gold_policy_counts_nights_and_weekends(self, kehu, make_user, make_customer):
        admin = await make_user("admin")
        acme, plain = await make_customer("ACME"), await make_customer("Plain")
        await slas.set_policy(admin.actor, "gold", "urgent", 60, 480)
        friday_evening = MON + 4 * 24 * H + 9 * H  # Friday 19:00, after office hours
        plugin = Entitlement(acme["id"])
        kehu.pm.register(plugin, name="entitlement")
        try:
            gold = await tickets.create_ticket(
                admin.actor,
                acme["id"],
                {"subject": "x", "channel": "phone", "priority": "urgent"},
                now=friday_evening,
            )
            other = await tickets.create_ticket(
                admin.actor,
                plain["id"],
                {"subject": "y", "channel": "phone", "priority": "urgent"},
                now=friday_evening,
            )
            rows = await Ticket.select().where(Ticket.id.is_in([gold["id"], other["id"]]))
            found = await slas.sla_of(rows, friday_evening)
        finally:
            kehu.pm.unregister(plugin)
        assert found[gold["id"]].first_response.due_at == friday_evening + H
        # the default calendar waits for Monday 09:00 + 1h
        assert found[other["id"]].first_response.due_at == MON + 7 * 24 * H
