"""Customer merges and handovers carry tickets along; demo data is idempotent; the jobs and
permissions are registered."""

from kehu.core.demo import ensure_demo_users, load_core_demo
from kehu.core.services import customers
from kehu.plugins.tickets import demo
from kehu.plugins.tickets.services import escalation, tickets
from kehu.plugins.tickets.tables import ChurnAlert, Escalation, Survey, Ticket


async def test_customer_merge_and_handover_move_tickets(kehu, make_user, make_customer, system):
    rep = await make_user("sales", team="North")
    heir = await make_user("sales", team="North")
    a = await make_customer("ACME", owner=rep)
    b = await make_customer("ACME dup", owner=rep)
    t = await tickets.create_ticket(
        rep.actor, b["id"], {"subject": "x", "channel": "phone", "assignee": rep.id}
    )
    await customers.merge_customers(system, a["id"], b["id"])
    assert (await Ticket.select().where(Ticket.id == t["id"]).first())["customer"] == a["id"]
    await customers.reassign_customers(system, heir.id, from_user_id=rep.id)
    assert (await Ticket.select().where(Ticket.id == t["id"]).first())["assignee"] == heir.id


async def test_demo_data_is_idempotent(kehu, system):
    users = await ensure_demo_users(system)
    await load_core_demo(system, users)
    made = await demo.load_demo_data(system, users)
    assert made == len(demo.DEMO)
    assert await demo.load_demo_data(system, users) == 0
    statuses = {r["status"] for r in await Ticket.select(Ticket.status)}
    assert statuses == {"new", "open", "pending_customer", "resolved", "closed"}
    assert await Survey.count().where(Survey.answered_at.is_not_null()) >= 6
    assert await Escalation.count() > 0  # some demo tickets are past due: escalated
    assert await escalation.sla_check(dry_run=True) == []  # ... once
    assert await ChurnAlert.count() == 1


def test_permissions_and_jobs(kehu):
    perms = kehu.permissions()
    assert perms["ticket:write"] >= {"support", "sales", "manager"}
    assert "support" not in perms["ticket:assign"] and "manager" in perms["ticket:assign"]
    assert {"tickets.sla_check", "tickets.churn_check"} <= set(kehu.jobs())


async def test_won_deal_sends_nps_survey(kehu, make_customer):
    """The optional ``kehu_opportunity_won`` implementation (pipeline may be disabled)."""
    from kehu.plugins.tickets import plugin

    acme = await make_customer()
    await plugin.kehu_opportunity_won(opportunity_id=7, customer_id=acme["id"])
    rows = await Survey.select().where(Survey.customer == acme["id"])
    assert [(r["kind"], r["related_type"], r["related_id"]) for r in rows] == [
        ("nps", "opportunity", 7)
    ]
