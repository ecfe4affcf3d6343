"""The reporting event catalogue: every emitted name is declared with real field meanings, and
dashboard events reach exactly those who see the dashboard (its owner, its team when it is
shared, those who see all records), deleted dashboards by their state when deleted."""

import ast
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema

from kehu import Event
from kehu.core.event_types import EVENT_NAME
from kehu.core.events import to_jsonable
from kehu.core.services.events import receivable
from kehu.plugins import reporting
from kehu.plugins.reporting import services
from kehu.plugins.reporting.event_types import REPORTING_EVENTS

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


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["reporting"]


def emitted_by_the_code() -> set[str]:
    """``record(actor, "<action>", "<entity>", ...)`` calls of the plugin."""
    names = set()
    for path in Path(reporting.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "record":
                action, entity = node.args[1], node.args[2]
                assert isinstance(action, ast.Constant) and isinstance(entity, ast.Constant)
                names.add(f"{entity.value}.{action.value}")
    return names


async def test_every_emitted_name_is_declared_well(kehu):
    declared = {t.name: t for t in REPORTING_EVENTS}
    assert (
        set(declared)
        == emitted_by_the_code()
        == {"dashboard.created", "dashboard.updated", "dashboard.deleted"}
    )
    schema = build_schema(kehu.graphql().schema.as_str())
    for name, t in declared.items():
        assert EVENT_NAME.match(name) and t.entity == "dashboard"
        assert t.description.strip().endswith("."), name
        assert kehu.event_types.get(name) == t
        assert t.scope == "report:read" and t.scope in kehu.permissions()
        assert t.visible is not None  # dashboards have no customer: a rule is needed
        if t.node is not None:
            assert t.node in schema.type_map, (name, t.node)
        for key, meaning in t.data_fields().items():
            assert meaning and meaning not in COLUMN_KINDS, (name, key, meaning)


def event(name: str, entity_id: int, data: dict[str, Any] | None = None) -> Event:
    return Event(name, "dashboard", entity_id, None, to_jsonable(data or {}))


async def received(actor: Any, evts: dict[str, Event]) -> set[str]:
    ids = {e.id for e in await receivable(actor, list(evts.values()))}
    return {k for k, e in evts.items() if e.id in ids}


async def test_dashboard_events_follow_dashboard_visibility(kehu, make_user):
    people = {
        "owner": await make_user("sales", team="North"),
        "mate": await make_user("sales", team="North"),
        "south": await make_user("sales", team="South"),
        "manager": await make_user("manager", team="North"),
        "viewer": await make_user("viewer", team="North"),
        "finance": await make_user("finance"),  # visibility "all"
        "admin": await make_user("admin"),
    }
    owner = people["owner"].actor

    async def save(actor: Any, name: str, shared: bool, dashboard_id: int | None = None) -> dict:
        data = {"name": name, "shared": shared, "panels": []}
        return await services.save_dashboard(actor, data, dashboard_id)

    private = await save(owner, "Private", False)
    shared = await save(owner, "Shared", True)
    unshared = await save(owner, "Unshared", True)
    await save(owner, "Unshared", False, unshared["id"])  # private now
    gone = await save(owner, "Gone", True)
    gone_private = await save(owner, "Gone private", False)
    south = await save(people["south"].actor, "South", True)
    # deleted last: SQLite hands the highest id out again once that row is deleted
    await services.delete_dashboard(owner, gone_private["id"])
    await services.delete_dashboard(owner, gone["id"])
    evts = {
        "private": event("dashboard.created", private["id"], private),
        "shared": event("dashboard.created", shared["id"], shared),
        "shared_update": event("dashboard.updated", shared["id"], {"panels": []}),
        "unshared": event("dashboard.created", unshared["id"], unshared),  # was shared then
        "unshared_update": event("dashboard.updated", unshared["id"], {"panels": []}),
        "gone": event("dashboard.created", gone["id"], gone),
        "gone_deleted": event("dashboard.deleted", gone["id"]),
        "gone_private": event("dashboard.created", gone_private["id"], gone_private),
        "gone_private_deleted": event("dashboard.deleted", gone_private["id"]),
        "south": event("dashboard.created", south["id"], south),
    }
    everything = set(evts)
    team = {"shared", "shared_update", "gone", "gone_deleted"}
    expected = {
        "owner": everything - {"south"},
        "mate": team,
        "manager": team,  # team visibility: the team's shared dashboards, not private ones
        "viewer": team,
        "south": {"south"},
        "finance": everything,
        "admin": everything,
    }
    live = {private["id"], shared["id"], unshared["id"], south["id"]}
    for who, want in expected.items():
        actor = people[who].actor
        assert await received(actor, evts) == want, who
        shown = {d["id"] for d in await services.list_dashboards(actor)}
        assert {evts[k].entity_id for k in want} & live == shown, who
