"""The tickets plugin's event catalogue: every emitted name is declared (with a description and
a GraphQL type of the composed schema), and receivers get only the events of what they may see:
ticket events follow the ticket's visibility (assignee, team, customer), internal notes need
``ticket:write``, survey tokens go to admins only, SLA policies to every reader."""

import re
from pathlib import Path

from kehu import Event, hookimpl
from kehu.core.event_types import EVENT_NAME
from kehu.core.services.events import receivable
from kehu.core.services.users import team_by_name
from kehu.plugins.tickets import event_types as tickets_events
from kehu.plugins.tickets.event_types import TICKETS_EVENTS
from kehu.plugins.tickets.hookspecs import Signal
from kehu.plugins.tickets.services import churn, tickets
from kehu.plugins.tickets.tables import ChurnAlert

from .conftest import MON

RECORD = re.compile(r'record\(\s*[\w().]+,\s*(f?"[^"]+"|\w+),\s*"([a-z_]+)"')
# actions computed in the code: the escalation step, the status move (services.tickets)
DYNAMIC = {
    'f"sla_{step.step}"': ("sla_reminder", "sla_breach"),
    "action": ("reopened", "status_changed"),
}


def emitted_names() -> set[str]:
    """``<entity>.<action>`` of every ``record(...)`` call in the plugin's code."""
    names = set()
    root = Path(tickets_events.__file__).parent
    for path in root.rglob("*.py"):
        for action, entity in RECORD.findall(path.read_text()):
            for a in DYNAMIC[action] if action in DYNAMIC else (action.strip('"'),):
                names.add(f"{entity}.{a}")
    return names


async def test_every_emitted_event_is_declared(kehu):
    declared = {t.name: t for t in TICKETS_EVENTS}
    assert len(declared) == len(TICKETS_EVENTS)
    assert emitted_names() == set(declared)
    schema = kehu.graphql().schema
    for name, t in declared.items():
        assert EVENT_NAME.match(name) and t.entity == name.partition(".")[0], name
        assert t.description.strip(), name
        assert kehu.event_types.get(name) is t, name  # registered through kehu_event_types
        assert t.scope is not None, name
        if t.node is not None:
            assert schema.get_type_by_name(t.node) is not None, (name, t.node)
        assert all(meaning.strip() for meaning in t.data_fields().values()), name


async def test_survey_token_is_for_admins_only():
    created = next(t for t in TICKETS_EVENTS if t.name == "ticket_survey.created")
    assert {"token", "path"} <= set(created.fields)
    assert created.scope == "event:admin"


class Risky:
    """A churn signal that puts one customer over the threshold while registered."""

    def __init__(self, customer_id):
        self.customer_id = customer_id

    @hookimpl
    def kehu_churn_signals(self, customer_ids, now):
        if self.customer_id not in customer_ids:
            return []
        return [Signal(self.customer_id, "test", "Unpaid for a year", 100, 1.0)]


async def test_churn_alert_cleared_is_declared(kehu, make_user, make_customer):
    """``customer.churn_alert_cleared`` (strict events: an undeclared name or key raises)."""
    rep = await make_user("sales", team="North")
    acme = await make_customer("ACME", owner=rep)
    plugin = Risky(acme["id"])
    kehu.pm.register(plugin, name="risky")
    try:
        assert (await churn.churn_check(MON)).raised == [acme["id"]]
    finally:
        kehu.pm.unregister(plugin)
    assert (await churn.churn_check(MON)).cleared == [acme["id"]]
    assert not await ChurnAlert.exists().where(ChurnAlert.open.eq(True))


def ev(name, entity_id, customer, **data):
    return Event(name, name.partition(".")[0], entity_id, None, {"customer": customer, **data})


async def ids(actor, events):
    return {e.id for e in await receivable(actor, events)}


async def test_ticket_events_follow_ticket_visibility(kehu, make_user, make_customer, system):
    north_agent = await make_user("support", team="North")
    north_agent2 = await make_user("support", team="North")
    north_manager = await make_user("manager", team="North")
    viewer = await make_user("viewer", team="North")
    east_rep = await make_user("sales", team="East")
    south_rep = await make_user("sales", team="South")
    finance = await make_user("finance")
    admin = await make_user("admin")
    south = (await team_by_name("South"))["id"]
    east_co = await make_customer("East Co", owner=east_rep)
    south_co = await make_customer("South Co", owner=south_rep)

    async def ticket(customer, assignee, team=None):
        data = {"subject": "Help", "channel": "phone", "assignee": assignee.id, "team": team}
        return (await tickets.create_ticket(system, customer["id"], data, now=MON))["id"]

    t_north = await ticket(east_co, north_agent2)  # team North, customer of East
    t_own = await ticket(east_co, north_agent, team=south)  # the agent's, team South
    t_east = await ticket(east_co, east_rep)
    t_south = await ticket(east_co, south_rep)  # the South rep's, customer of East
    t_south_co = await ticket(south_co, east_rep)  # team East, customer of the South rep
    customer_of = {
        t_north: east_co,
        t_own: east_co,
        t_east: east_co,
        t_south: east_co,
        t_south_co: south_co,
    }
    changed = {
        t: ev("ticket.status_changed", t, c["id"], status="open") for t, c in customer_of.items()
    }
    note = ev(
        "ticket.message_added",
        t_north,
        east_co["id"],
        message_id=1,
        internal=True,
        from_customer=False,
    )
    reply = ev(
        "ticket.message_added",
        t_north,
        east_co["id"],
        message_id=2,
        internal=False,
        from_customer=False,
    )
    events = [*changed.values(), note, reply]

    def of(*ticket_ids, notes=True):
        out = {changed[t].id for t in ticket_ids}
        if t_north in ticket_ids:
            out |= {note.id, reply.id} if notes else {reply.id}
        return out

    assert await ids(north_agent.actor, events) == of(t_north, t_own)  # team + own
    assert await ids(north_manager.actor, events) == of(t_north)  # the team's
    assert await ids(south_rep.actor, events) == of(t_south, t_south_co)  # own + customers
    assert await ids(east_rep.actor, events) == of(*customer_of)  # every ticket of East Co
    assert await ids(viewer.actor, events) == of(t_north, notes=False)  # no internal notes
    assert await ids(finance.actor, events) == of(*customer_of, notes=False)
    assert await ids(admin.actor, events) == of(*customer_of)
    # the customer events of tickets keep core's rule: the customer must be visible
    outcome = ev("customer.churn_outcome", east_co["id"], east_co["id"], alert_id=1, outcome="x")
    assert await ids(north_agent.actor, [outcome]) == set()
    assert await ids(east_rep.actor, [outcome]) == {outcome.id}


async def test_survey_and_sla_policy_events(kehu, make_user, make_customer, system):
    north_agent = await make_user("support", team="North")
    north_manager = await make_user("manager", team="North")
    east_rep = await make_user("sales", team="East")
    south_rep = await make_user("sales", team="South")
    viewer = await make_user("viewer")
    admin = await make_user("admin")
    east_co = await make_customer("East Co", owner=east_rep)
    south_co = await make_customer("South Co", owner=south_rep)
    t_north = (
        await tickets.create_ticket(
            system,
            east_co["id"],
            {"subject": "Help", "channel": "phone", "assignee": north_agent.id},
            now=MON,
        )
    )["id"]

    on_ticket = ev(
        "ticket_survey.answered",
        1,
        east_co["id"],
        kind="csat",
        score=2,
        dimensions={},
        ticket=t_north,
    )
    on_deal = ev(
        "ticket_survey.answered", 2, south_co["id"], kind="nps", score=9, dimensions={}, ticket=None
    )
    answers = [on_ticket, on_deal]
    assert await ids(north_agent.actor, answers) == {on_ticket.id}  # via the ticket
    assert await ids(north_manager.actor, answers) == {on_ticket.id}  # the team's ticket
    assert await ids(east_rep.actor, answers) == {on_ticket.id}  # via the customer
    assert await ids(south_rep.actor, answers) == {on_deal.id}
    assert await ids(admin.actor, answers) == {on_ticket.id, on_deal.id}

    invitations = [
        ev(
            "ticket_survey.created",
            1,
            east_co["id"],
            kind="csat",
            ticket=t_north,
            related_type=None,
            related_id=None,
            token="secret",
            path="/surveys/secret",
        ),
        ev(
            "ticket_survey.created",
            2,
            south_co["id"],
            kind="nps",
            ticket=None,
            related_type="opportunity",
            related_id=7,
            token="s2",
            path="/surveys/s2",
        ),
    ]
    for user in (north_agent, north_manager, east_rep, south_rep, viewer):
        assert await ids(user.actor, invitations) == set(), user.role
    assert await ids(admin.actor, invitations) == {e.id for e in invitations}

    policy = Event(
        "ticket_sla_policy.sla_policy_set",
        "ticket_sla_policy",
        1,
        None,
        {
            "name": "gold",
            "priority": "high",
            "first_response_minutes": 30,
            "resolution_minutes": 240,
        },
    )
    for user in (north_agent, north_manager, east_rep, viewer, admin):
        assert await ids(user.actor, [policy]) == {policy.id}, user.role
