"""The ticket workflow through the services: status moves (stored history, typed errors),
messages, the complaint closure rule, assignment strategies and merging."""

import pytest

from kehu.core.errors import Forbidden, ValidationFailed
from kehu.plugins.tickets.services import tickets
from kehu.plugins.tickets.tables import Ticket, TicketMessage, TicketStatusChange

from .conftest import MON, H, M


async def _codes(coro) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as err:
        await coro
    return [(e.field, e.code) for e in err.value.errors]


async def test_status_workflow_history_and_messages(kehu, make_user, make_customer):
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=agent)
    t = await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {
            "subject": "Printer broken",
            "channel": "phone",
            "type": "repair",
            "priority": "high",
            "body": "It jams.",
        },
        now=MON,
    )
    assert t["status"] == "new" and t["number"] == f"T{t['id']:06d}"
    assert t["team"] == agent.team_id and t["assignee"] == agent.id  # auto-assigned

    assert await _codes(tickets.change_status(agent.actor, t["id"], "closed", now=MON)) == [
        ("status", "ILLEGAL_TRANSITION")
    ]
    assert await _codes(tickets.change_status(agent.actor, t["id"], "bogus", now=MON)) == [
        ("status", "INVALID_CHOICE")
    ]

    t, _ = await tickets.add_message(
        agent.actor, t["id"], "Looking", internal=True, now=MON + 10 * M
    )
    assert t["status"] == "new" and t["first_responded_at"] is None  # notes don't count
    t, _ = await tickets.add_message(agent.actor, t["id"], "On it", now=MON + 20 * M)
    assert t["status"] == "open" and t["first_responded_at"] == MON + 20 * M
    t = await tickets.change_status(agent.actor, t["id"], "pending_customer", now=MON + H)
    t, _ = await tickets.add_message(
        agent.actor, t["id"], "Still jams", from_customer=True, now=MON + 2 * H
    )
    assert t["status"] == "open"
    t = await tickets.change_status(agent.actor, t["id"], "resolved", now=MON + 3 * H)
    assert t["resolved_at"] == MON + 3 * H
    t = await tickets.change_status(agent.actor, t["id"], "closed", now=MON + 4 * H)
    assert await _codes(tickets.add_message(agent.actor, t["id"], "x", now=MON + 5 * H)) == [
        ("ticketId", "CLOSED")
    ]
    assert await _codes(tickets.change_status(agent.actor, t["id"], "pending_customer")) == [
        ("status", "ILLEGAL_TRANSITION")
    ]
    t = await tickets.reopen_ticket(agent.actor, t["id"], now=MON + 6 * H)
    assert t["status"] == "open" and t["resolved_at"] is None and t["closed_at"] is None

    history = (
        await TicketStatusChange.select()
        .where(TicketStatusChange.ticket == t["id"])
        .order_by(TicketStatusChange.id)
    )
    assert [(h["from_status"], h["to_status"], h["at"]) for h in history] == [
        (None, "new", MON),
        ("new", "open", MON + 20 * M),
        ("open", "pending_customer", MON + H),
        ("pending_customer", "open", MON + 2 * H),
        ("open", "resolved", MON + 3 * H),
        ("resolved", "closed", MON + 4 * H),
        ("closed", "open", MON + 6 * H),
    ]
    assert {h["actor"] for h in history} == {agent.id}
    viewer = await make_user("viewer", team="North")
    assert [m["body"] for m in (await tickets.messages_of(viewer.actor, [t["id"]]))[t["id"]]] == [
        "It jams.",
        "On it",
        "Still jams",
    ]  # internal notes hidden from viewers


async def test_complaint_needs_root_cause_and_corrective_action(kehu, make_user, make_customer):
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=agent)
    assert await _codes(
        tickets.create_ticket(
            agent.actor,
            acme["id"],
            {
                "subject": "Bad",
                "channel": "email",
                "type": "complaint",
                "complaint_category": "rude_staff",
            },
        )
    ) == [("complaintCategory", "INVALID_CHOICE")]
    c = await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {
            "subject": "Price differs",
            "channel": "email",
            "type": "complaint",
            "complaint_category": "price_confusion",
        },
        now=MON,
    )
    await tickets.add_message(agent.actor, c["id"], "Sorry", now=MON + H)
    assert await _codes(tickets.change_status(agent.actor, c["id"], "resolved")) == [
        ("rootCause", "COMPLAINT_INCOMPLETE"),
        ("correctiveAction", "COMPLAINT_INCOMPLETE"),
    ]
    await tickets.update_complaint(agent.actor, c["id"], {"root_cause": "Old price list"})
    assert await _codes(tickets.change_status(agent.actor, c["id"], "resolved")) == [
        ("correctiveAction", "COMPLAINT_INCOMPLETE")
    ]
    await tickets.update_complaint(agent.actor, c["id"], {"corrective_action": "Sync lists"})
    c = await tickets.change_status(agent.actor, c["id"], "resolved", now=MON + 2 * H)
    assert c["status"] == "resolved"
    other = await tickets.create_ticket(
        agent.actor, acme["id"], {"subject": "Q", "channel": "chat"}
    )
    assert await _codes(
        tickets.update_complaint(agent.actor, other["id"], {"root_cause": "x"})
    ) == [("id", "NOT_A_COMPLAINT")]


async def test_assignment_round_robin_least_open_and_manual(kehu, make_user, make_customer):
    north = [await make_user("support", team="North") for _ in range(3)]
    south = [await make_user("support", team="South") for _ in range(2)]
    manager = await make_user("manager", team="North")
    admin = await make_user("admin")
    acme = await make_customer("ACME", owner=north[0])
    made = [
        await tickets.create_ticket(
            manager.actor, acme["id"], {"subject": f"N{i}", "channel": "phone"}
        )
        for i in range(4)
    ]
    assert [t["assignee"] for t in made] == [north[0].id, north[1].id, north[2].id, north[0].id]

    blue = await make_customer("Blue", owner=south[0])
    first = await tickets.create_ticket(
        admin.actor, blue["id"], {"subject": "S", "channel": "phone", "assignee": south[0].id}
    )
    assert first["team"] == south[0].team_id
    auto = await tickets.create_ticket(
        admin.actor, blue["id"], {"subject": "S2", "channel": "phone"}
    )
    assert auto["assignee"] == south[1].id  # least open

    # by hand needs ticket:assign; support may take a ticket itself
    assert (await tickets.assign_ticket(south[0].actor, auto["id"], south[0].id))[
        "assignee"
    ] == south[0].id
    with pytest.raises(Forbidden):
        await tickets.assign_ticket(south[0].actor, auto["id"], south[1].id)
    moved = await tickets.assign_ticket(admin.actor, auto["id"], north[1].id)
    assert (moved["assignee"], moved["team"]) == (north[1].id, north[1].team_id)
    assert (await tickets.assign_ticket(manager.actor, auto["id"], auto=True))["assignee"] in {
        u.id for u in north
    }


async def test_merge_duplicates(kehu, make_user, make_customer):
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=agent)
    other = await make_customer("Other", owner=agent)
    a = await tickets.create_ticket(
        agent.actor, acme["id"], {"subject": "Down", "channel": "phone", "body": "call 1"}, now=MON
    )
    b = await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {"subject": "Down again", "channel": "email", "body": "mail 1"},
        now=MON + H,
    )
    c = await tickets.create_ticket(agent.actor, other["id"], {"subject": "x", "channel": "chat"})
    assert await _codes(tickets.merge_tickets(agent.actor, a["id"], c["id"])) == [
        ("duplicateId", "OTHER_CUSTOMER")
    ]
    await tickets.merge_tickets(agent.actor, a["id"], b["id"], now=MON + 2 * H)
    dup = await Ticket.select().where(Ticket.id == b["id"]).first()
    assert (dup["status"], dup["merged_into"]) == ("closed", a["id"])
    bodies = (
        await TicketMessage.select(TicketMessage.body)
        .where(TicketMessage.ticket == a["id"])
        .order_by(TicketMessage.id)
    )
    assert [r["body"] for r in bodies] == ["call 1", "mail 1"]
    assert await _codes(tickets.change_status(agent.actor, b["id"], "open")) == [
        ("status", "ILLEGAL_TRANSITION")
    ]
