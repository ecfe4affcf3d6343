"""SLA outcomes stored on the ticket when they become known (first reply, resolution, the
escalation job for breaches while open, priority changes, reopening, old rows) and the
``tickets.sla_compliance`` metric over them: hand-computed values, grouping by team, priority
and period, visibility and GraphQL; ``ticket_metrics`` counts the same outcomes."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from kehu.core.services import customers
from kehu.plugins.reporting.services.registry import MetricQuery, registry, run
from kehu.plugins.tickets.services import escalation, metrics, tickets
from kehu.plugins.tickets.tables import Ticket

from .conftest import MON, SH, H, M

DEC = datetime(2026, 12, 1, 10, tzinfo=SH)  # Tuesday 10:00, within business hours
SPAN = {"start": datetime(2026, 11, 1, tzinfo=SH), "end": datetime(2027, 1, 1, tzinfo=SH)}
D = Decimal


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["tickets", "reporting"]


async def outcome(ticket_id: int) -> tuple[bool | None, bool | None]:
    row = (
        await Ticket.select(Ticket.first_response_breached, Ticket.resolution_breached)
        .where(Ticket.id == ticket_id)
        .first()
    )
    return row["first_response_breached"], row["resolution_breached"]


async def _ticket(admin: Any, customer: dict, priority: str, now: datetime) -> dict[str, Any]:
    return await tickets.create_ticket(
        admin.actor,
        customer["id"],
        {"subject": "x", "channel": "email", "priority": priority},
        now=now,
    )


async def test_outcomes_are_stored_when_known(kehu, make_user, make_customer):
    """Targets (business hours, Mon–Fri 09–18): urgent 1h / 8h, high 4h / 24h, normal 8h /
    72h."""
    admin = await make_user("admin")
    acme = await make_customer("ACME")
    t = await _ticket(admin, acme, "normal", MON)
    assert await outcome(t["id"]) == (None, None)  # both clocks run
    await tickets.add_message(admin.actor, t["id"], "hi", now=MON + 30 * M)
    assert await outcome(t["id"]) == (False, None)  # replied within 8h
    await tickets.change_status(admin.actor, t["id"], "resolved", now=MON + 2 * H)
    assert await outcome(t["id"]) == (False, False)  # met every target
    await tickets.reopen_ticket(admin.actor, t["id"], now=MON + 3 * H)
    assert await outcome(t["id"]) == (False, None)  # resolution runs again

    late = await _ticket(admin, acme, "urgent", MON)
    await tickets.add_message(admin.actor, late["id"], "sorry", now=MON + 2 * H)
    assert await outcome(late["id"]) == (True, None)  # 2h for a 1h target
    # a priority change re-targets: normal allows 8h for the first reply
    await tickets.update_ticket(admin.actor, late["id"], {"priority": "normal"}, now=MON + 3 * H)
    assert await outcome(late["id"]) == (False, None)

    waiting = await _ticket(admin, acme, "high", MON)  # first reply due 14:00
    await escalation.sla_check(MON + 3 * H)
    assert await outcome(waiting["id"]) == (None, None)
    await escalation.sla_check(MON + 5 * H)  # the job finds the breach of an open ticket
    assert await outcome(waiting["id"]) == (True, None)

    duplicate = await _ticket(admin, acme, "high", MON + H)
    await tickets.merge_tickets(admin.actor, waiting["id"], duplicate["id"], now=MON + 2 * H)
    assert await outcome(duplicate["id"]) == (False, False)  # closed within its targets


async def test_the_job_fills_in_rows_without_an_outcome(kehu, make_user, make_customer):
    """Rows from before the outcome columns (null on a resolved ticket) are evaluated by the
    next ``sla_check``."""
    admin = await make_user("admin")
    acme = await make_customer("ACME")
    t = await _ticket(admin, acme, "urgent", MON)
    await tickets.add_message(admin.actor, t["id"], "late", now=MON + 3 * H)
    await tickets.change_status(admin.actor, t["id"], "resolved", now=MON + 4 * H)
    await Ticket.update(
        {Ticket.first_response_breached: None, Ticket.resolution_breached: None}
    ).where(Ticket.id == t["id"])
    await escalation.sla_check(MON + 5 * H, dry_run=True)
    assert await outcome(t["id"]) == (None, None)  # a dry run writes nothing
    await escalation.sla_check(MON + 5 * H)
    assert await outcome(t["id"]) == (True, False)  # reply after 3h of 1h; resolved in 4h of 8h


@pytest.fixture
async def desk(kehu, make_user, system) -> dict[str, Any]:
    """North (ACME): A normal met, B urgent replied after 2h (breached), C normal still
    within its targets (unknown), D normal in December met. South (Blue): E urgent without a
    reply, breached while open (found by the job), F normal met."""
    north = await make_user("support", team="North")
    south = await make_user("support", team="South")
    admin = await make_user("admin")
    acme, blue = [
        await customers.create_customer(
            system, {"name": name, "owner": owner.id, "team": owner.team_id}, allow_duplicate=True
        )
        for name, owner in (("ACME", north), ("Blue", south))
    ]
    plan = [  # customer, priority, created, reply after, resolved after
        (acme, "normal", MON, 30 * M, 2 * H),
        (acme, "urgent", MON, 2 * H, None),
        (acme, "normal", MON, None, None),
        (blue, "urgent", MON, None, None),
        (blue, "normal", MON, H, 4 * H),
    ]
    for customer, priority, created, reply, resolve in plan:
        t = await _ticket(admin, customer, priority, created)
        if reply is not None:
            await tickets.add_message(admin.actor, t["id"], "on it", now=created + reply)
        if resolve is not None:
            await tickets.change_status(admin.actor, t["id"], "resolved", now=created + resolve)
    await escalation.sla_check(MON + 3 * H)  # E: 3h without a reply for a 1h target
    d = await _ticket(admin, acme, "normal", DEC)
    await tickets.add_message(admin.actor, d["id"], "on it", now=DEC + H)
    await tickets.change_status(admin.actor, d["id"], "resolved", now=DEC + 3 * H)
    east = await make_user("support", team="East")
    return {"north": north, "south": south, "admin": admin, "east": east}


async def compliance(kehu: Any, user: Any, dims: tuple[str, ...] = (), **kw: Any) -> dict:
    query = MetricQuery(user.actor, dims, **{**SPAN, **kw})
    found = await run(registry(kehu)["tickets.sla_compliance"], query)
    return {tuple(r.dimensions.values()): (r.value, r.measures) for r in found}


async def test_sla_compliance(kehu, desk):
    admin = desk["admin"]
    # met A, D, F; breached B, E; C unknown → 3 / 5 = 60 %
    assert await compliance(kehu, admin) == {(): (D("60.00"), {"met": 3, "breached": 2})}
    # North: A, D of A, B, D = 66.67; South: F of E, F = 50
    assert await compliance(kehu, admin, ("team",)) == {
        ("North",): (D("66.67"), {"met": 2, "breached": 1}),
        ("South",): (D("50.00"), {"met": 1, "breached": 1}),
    }
    # North November: A of A, B = 50; December: D = 100
    assert await compliance(kehu, admin, ("team", "period"), filters={"team": "North"}) == {
        ("North", "2026-11"): (D("50.00"), {"met": 1, "breached": 1}),
        ("North", "2026-12"): (D("100.00"), {"met": 1, "breached": 0}),
    }
    assert await compliance(kehu, admin, ("priority",)) == {
        ("normal",): (D("100.00"), {"met": 3, "breached": 0}),
        ("urgent",): (D("0.00"), {"met": 0, "breached": 2}),
    }
    # the service metric counts the same stored outcomes
    found = await metrics.ticket_metrics(admin.actor, SPAN["start"], SPAN["end"])
    assert (found.sla_compliance, found.breached) == (60.0, 2)


async def test_sla_compliance_visibility(kehu, desk):
    assert await compliance(kehu, desk["south"], ("team",)) == {
        ("South",): (D("50.00"), {"met": 1, "breached": 1})
    }
    # nothing visible: value 0 and both counts 0 (undefined)
    assert await compliance(kehu, desk["east"]) == {(): (D("0.00"), {"met": 0, "breached": 0})}
    found = await metrics.ticket_metrics(desk["east"].actor, SPAN["start"], SPAN["end"])
    assert (found.sla_compliance, found.breached) == (None, 0)


async def test_sla_compliance_over_graphql(kehu, desk, gql):
    query = """query($start: DateTime, $end: DateTime) {
      metric(name: "tickets.sla_compliance", dimensions: ["team"], from: $start, to: $end) {
        rows { dimensions { value } value measures { name value } } } }"""
    variables = {k: v.isoformat() for k, v in SPAN.items()}

    async def rows(user: Any) -> list:
        body = await gql(query, variables, user=user)
        return [
            (
                r["dimensions"][0]["value"],
                r["value"],
                {m["name"]: m["value"] for m in r["measures"]},
            )
            for r in body["data"]["metric"]["rows"]
        ]

    assert await rows(desk["admin"]) == [
        ("North", "66.67", {"met": "2", "breached": "1"}),
        ("South", "50.00", {"met": "1", "breached": "1"}),
    ]
    assert await rows(desk["north"]) == [("North", "66.67", {"met": "2", "breached": "1"})]


async def test_compliance_over_a_week(kehu, desk):
    """from/to select tickets by creation: the December ticket alone."""
    found = await compliance(
        kehu, desk["admin"], start=DEC - timedelta(days=1), end=DEC + timedelta(days=6)
    )
    assert found == {(): (D("100.00"), {"met": 1, "breached": 0})}
