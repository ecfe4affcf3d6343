"""The incentives event catalogue: every emitted name is declared with real field meanings,
and the ``visible`` rules give each receiver exactly the incentive data the services show them
(a rep their own, a manager with ``commission:read_all`` their team's, finance and admins
everything; a manager without it what ``target_scope`` allows)."""

import ast
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema

from kehu import Event, EventType
from kehu.core.event_types import EVENT_NAME
from kehu.core.events import to_jsonable
from kehu.core.services.events import receivable
from kehu.plugins import incentives
from kehu.plugins.incentives.event_types import INCENTIVES_EVENTS
from kehu.plugins.incentives.services import events, plans, targets
from kehu.plugins.incentives.tables import EventStatus

from .conftest import cny

PLUGIN_DIR = Path(incentives.__file__).parent
COLUMN_KINDS = {
    "Varchar",
    "Integer",
    "BigInt",
    "Date",
    "Timestamptz",
    "JSON",
    "Text",
    "ForeignKey",
    "Serial",
    "Boolean",
}


def emitted_by_the_code() -> tuple[set[str], set[str]]:
    """``record(actor, "<action>", "<entity>", ...)`` calls of the plugin: the literal names,
    and the entities whose action is computed."""
    names, dynamic = set(), set()
    for path in PLUGIN_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "record"):
                continue
            action, entity = node.args[1], node.args[2]
            assert isinstance(entity, ast.Constant), ast.unparse(node)
            if isinstance(action, ast.Constant):
                names.add(f"{entity.value}.{action.value}")
            else:
                dynamic.add(entity.value)
    return names, dynamic


async def test_every_emitted_name_is_declared_well(kehu):
    declared = {t.name: t for t in INCENTIVES_EVENTS}
    assert len(declared) == len(INCENTIVES_EVENTS)
    names, dynamic = emitted_by_the_code()
    assert names <= set(declared)
    assert dynamic == {"incentive_event"}  # decide(): status.value, never "pending"
    decided = {f"incentive_event.{s.value}" for s in EventStatus if s != EventStatus.pending}
    assert decided <= set(declared)
    assert set(declared) == names | decided  # nothing declared that is never emitted
    schema = build_schema(kehu.graphql().schema.as_str())
    permissions = kehu.permissions()
    for name, t in declared.items():
        assert isinstance(t, EventType)
        assert EVENT_NAME.match(name), name  # <entity>.<action>, entity as record() names it
        assert t.description.strip().endswith("."), name
        assert kehu.event_types.get(name) == t  # the hook returns them
        assert t.scope in permissions, name
        assert t.visible is not None, name  # no customer in the data: a rule is needed
        if t.node is not None:
            assert t.node in schema.type_map, (name, t.node)
        for key, meaning in t.data_fields().items():  # a meaning, not a column class
            assert meaning and meaning not in COLUMN_KINDS, (name, key, meaning)


# -- visibility -----------------------------------------------------------------------------


def event(name: str, entity_id: int | None, data: dict[str, Any] | None = None) -> Event:
    entity = name.partition(".")[0]
    return Event(name, entity, entity_id, None, to_jsonable(data or {}))


async def received(actor: Any, evts: dict[str, Event]) -> set[str]:
    """The labels of the events ``actor`` may receive."""
    ids = {e.id for e in await receivable(actor, list(evts.values()))}
    return {k for k, e in evts.items() if e.id in ids}


@pytest.fixture
async def people(kehu, make_user):
    return {
        "rep": await make_user("sales", team="North"),
        "mate": await make_user("sales", team="North"),
        "south": await make_user("sales", team="South"),
        "manager": await make_user("manager", team="North"),
        "finance": await make_user("finance"),
        "viewer": await make_user("viewer", team="North"),
        "admin": await make_user("admin"),
    }


async def target(system: Any, **data: Any) -> dict[str, Any]:
    data = {"metric": "won_revenue", "period": "2026-Q3", "amount": cny("1000.00"), **data}
    return await targets.create_target(system, data)


@pytest.fixture
async def target_events(system, people):
    """Targets of every visibility, and their events keyed by a label."""
    p = people
    rows = {
        "rep": await target(system, user=p["rep"].id),
        "mate": await target(system, user=p["mate"].id),
        "south": await target(system, user=p["south"].id),
        "north_team": await target(system, scope="team", team=p["rep"].team_id),
        "south_team": await target(system, scope="team", team=p["south"].team_id),
        "company": await target(
            system, scope="company", metric="new_customers", amount=None, value=10
        ),
        "gone": await target(system, user=p["rep"].id, period="2026-Q4"),
        "gone_south": await target(system, user=p["south"].id, period="2026-Q4"),
    }
    members = await targets.decompose(system, rows["north_team"]["id"], by="members")
    await targets.delete_target(system, rows["gone"]["id"])
    await targets.delete_target(system, rows["gone_south"]["id"])
    evts = {k: event("target.created", r["id"], r) for k, r in rows.items()}
    evts["decomposed"] = event(
        "target.decomposed",
        rows["north_team"]["id"],
        {"by": "members", "children": [m["id"] for m in members]},
    )
    evts["deleted"] = event("target.deleted", rows["gone"]["id"])
    evts["deleted_south"] = event("target.deleted", rows["gone_south"]["id"])
    return rows, evts


async def test_target_events_follow_target_scope(kehu, system, people, target_events):
    rows, evts = target_events
    everything = set(evts)
    expected = {
        "rep": {"rep", "north_team", "company", "decomposed", "gone", "deleted"},
        "mate": {"mate", "north_team", "company", "decomposed"},
        "south": {"south", "south_team", "company", "gone_south", "deleted_south"},
        # commission:read_all with team visibility: the team's members', not the South's
        "manager": {"rep", "mate", "north_team", "company", "decomposed", "gone", "deleted"},
        "finance": everything,
        "admin": everything,
        "viewer": set(),  # no incentive:read
    }
    gone = {"gone", "gone_south"}
    live = {rows[k]["id"] for k in rows if k not in gone}
    for who, want in expected.items():
        actor = people[who].actor
        assert await received(actor, evts) == want, who
        if who != "viewer":  # the live targets the service lists
            shown = {r["id"] for r in await targets.list_targets(actor)}
            assert {rows[k]["id"] for k in want if k in rows and k not in gone} == shown & live


async def test_incentive_events_go_to_their_user(kehu, system, people):
    p = people
    proposal = {
        "kind": "bonus",
        "subtype": "spot",
        "period": "2026-Q3",
        "reason": "deal",
        "amount": cny("10.00"),
    }
    mine = await events.propose(p["manager"].actor, {**proposal, "user": p["rep"].id})
    theirs = await events.propose(system, {**proposal, "user": p["south"].id})
    decided = await events.decide(system, mine["id"], True, note="well done")
    evts = {
        "proposed": event("incentive_event.proposed", mine["id"], mine),
        "approved": event("incentive_event.approved", mine["id"], {**decided, "note": "ok"}),
        "theirs": event("incentive_event.proposed", theirs["id"], theirs),
    }
    everything = set(evts)
    expected = {
        "rep": {"proposed", "approved"},
        "mate": set(),
        "south": {"theirs"},
        "manager": {"proposed", "approved"},  # their team's, not the South's
        "finance": everything,
        "admin": everything,
        "viewer": set(),
    }
    for who, want in expected.items():
        assert await received(people[who].actor, evts) == want, who
    page, _ = await events.list_events(p["rep"].actor)
    assert {r["id"] for r in page.rows} == {mine["id"]}


async def test_plans_assignments_and_payouts(kehu, system, people):
    p = people
    plan = await plans.create_plan(
        system, {"name": "Flat", "basis": "won", "rate": "0.1", "effective_from": date(2026, 1, 1)}
    )
    to_rep = await plans.assign_plan(system, plan["id"], user_id=p["rep"].id)
    to_north = await plans.assign_plan(system, plan["id"], team_id=p["rep"].team_id)
    to_south = await plans.assign_plan(system, plan["id"], user_id=p["south"].id)
    evts = {
        "created": event("commission_plan.created", plan["id"], plan),
        "ended": event(
            "commission_plan.ended", plan["id"], {**plan, "effective_to": date(2026, 12, 31)}
        ),
        "to_rep": event("commission_plan.assigned", plan["id"], to_rep),
        "to_north": event("commission_plan.assigned", plan["id"], to_north),
        "to_south": event("commission_plan.assigned", plan["id"], to_south),
        "paid_out": event(
            "commission_period.paid_out",
            1,
            {
                "id": 1,
                "period": "2026-07",
                "total_minor": 1000,
                "currency": "CNY",
                "lines": 2,
                "locked_by": None,
                "locked_at": "2026-08-01T00:00:00+00:00",
            },
        ),
        "recomputed": event(
            "commission_period.recomputed",
            None,
            {"period": "2026-07", "created": 2, "updated": 0, "deleted": 0},
        ),
    }

    async def got(who: str) -> set[str]:
        return await received(people[who].actor, evts)

    everything = set(evts)
    assert await got("rep") == {"created", "ended", "to_rep", "to_north"}
    assert await got("mate") == {"created", "ended", "to_north"}
    assert await got("south") == {"created", "ended", "to_south"}
    # the North's assignments; company-wide ledger news is for finance and admins
    assert await got("manager") == {"created", "ended", "to_rep", "to_north"}
    assert await got("finance") == everything
    assert await got("admin") == everything
    assert await got("viewer") == set()


class TestTeamManagerWithoutReadAll:
    """With ``commission:read_all`` taken from managers, a manager receives what
    ``target_scope`` and ``list_events`` show them: their own, their team's team targets and
    the company-wide ones, not their reps' personal targets or incentive events."""

    @pytest.fixture
    def kehu_settings_overrides(self) -> dict:
        return {"permissions": {"commission:read_all": ["admin", "finance"]}}

    async def test_receives_what_the_services_show(self, kehu, system, people, target_events):
        rows, evts = target_events
        manager = people["manager"].actor
        assert not manager.can("commission:read_all")
        got = await received(manager, evts)
        assert got == {"north_team", "company", "decomposed"}
        shown = {r["id"] for r in await targets.list_targets(manager)}
        assert {rows[k]["id"] for k in got if k in rows} == shown & {r["id"] for r in rows.values()}
        bonus = await events.propose(
            manager,
            {
                "kind": "bonus",
                "subtype": "spot",
                "period": "2026-Q3",
                "reason": "deal",
                "user": people["rep"].id,
                "amount": cny("10.00"),
            },
        )
        proposed = event("incentive_event.proposed", bonus["id"], bonus)
        assert await receivable(manager, [proposed]) == []
        assert [e.id for e in await receivable(people["rep"].actor, [proposed])] == [proposed.id]
