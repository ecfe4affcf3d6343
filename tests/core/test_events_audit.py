"""Units of work: audit rows in the same transaction, events dispatched only after commit."""

import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

import kehu as kehu_api
from kehu.core.db import in_transaction
from kehu.core.events import Event, emit, record, to_jsonable, unit_of_work
from kehu.core.runtime import PluginInfo
from kehu.core.services import activities, contacts, customers, users
from kehu.core.tables import AuditLog, Customer


class Probe:
    """Records the events ``kehu_event`` delivers, and whether a transaction was open."""

    def __init__(self, name: str = "probe", fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.events: list[Event] = []
        self.in_transaction: list[bool] = []
        self.visible: list[bool] = []

    @kehu_api.hookimpl
    def kehu_plugin_info(self) -> PluginInfo:
        return PluginInfo(self.name, "0")

    @kehu_api.hookimpl
    def kehu_event_types(self) -> list[kehu_api.EventType]:
        fields = {"size": "", "why": "", "price": "", "at": ""}
        actions = ("created", "updated", "pinged", "repriced")
        return [kehu_api.EventType(f"widget.{a}", "a test event", fields) for a in actions]

    @kehu_api.hookimpl
    async def kehu_event(self, event: Event) -> None:
        if self.fail:
            raise RuntimeError(f"{self.name} handler failed")
        self.events.append(event)
        self.in_transaction.append(in_transaction())
        if event.name == "customer.created":
            self.visible.append(await Customer.exists().where(Customer.id == event.entity_id))

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.events]


def _register(kehu: Any, probe: Probe) -> Probe:
    kehu.pm.register(probe, name=probe.name)
    return probe


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core"]  # audit rows of other installed plugins (e.g. loyalty) stay out


@pytest.fixture
def probe(kehu):
    p = _register(kehu, Probe())
    yield p
    kehu.pm.unregister(name=p.name)


async def audit_rows() -> list[dict[str, Any]]:
    rows = await AuditLog.select().order_by(AuditLog.id)
    for row in rows:
        for key in ("before", "after"):
            if isinstance(row[key], str):
                row[key] = json.loads(row[key])
    return rows


# -- dispatch after commit ---------------------------------------------------------------------


async def test_event_is_dispatched_only_after_commit(kehu, system, probe):
    async with unit_of_work():
        await record(system, "created", "widget", 7, after={"size": 3})
        assert probe.events == []
        assert in_transaction()
    assert probe.names == ["widget.created"]
    event = probe.events[0]
    assert (event.entity, event.entity_id, event.actor_id) == ("widget", 7, None)
    assert event.data == {"size": 3}
    assert event.occurred_at.tzinfo is not None
    assert probe.in_transaction == [False]


async def test_service_events_see_committed_data(kehu, system, probe):
    row = await customers.create_customer(system, {"name": "Event Co"})
    assert probe.names == ["customer.created"]
    assert probe.events[0].entity_id == row["id"]
    assert probe.events[0].data["name"] == "Event Co"
    assert probe.visible == [True]
    assert probe.in_transaction == [False]


async def test_exception_rolls_back_everything_and_dispatches_nothing(kehu, system, probe):
    with pytest.raises(RuntimeError, match="boom"):
        async with unit_of_work():
            await customers.create_customer(system, {"name": "Rollback Ltd"}, tags=["x"])
            await record(system, "created", "widget", 1)
            assert await Customer.count() == 1  # visible inside the transaction
            raise RuntimeError("boom")
    assert probe.events == []
    assert await Customer.count() == 0
    assert await AuditLog.count() == 0


async def test_failed_service_call_writes_no_audit_and_no_event(kehu, system, probe):
    await customers.create_customer(system, {"name": "Only One", "email": "one@example.com"})
    probe.events.clear()
    before = await AuditLog.count()
    with pytest.raises(kehu_api.core.errors.ValidationFailed):
        await customers.create_customer(system, {"name": "ONLY ONE Ltd."})  # duplicate name
    assert probe.events == []
    assert await AuditLog.count() == before
    assert await Customer.count() == 1


async def test_nested_units_join_the_outer_one(kehu, system, probe):
    async with unit_of_work():
        async with unit_of_work():
            await record(system, "created", "widget", 1)
        assert probe.events == []  # leaving the inner unit did not commit or dispatch
        async with unit_of_work():
            await customers.create_customer(system, {"name": "Nested"})
        assert probe.events == []
        await record(system, "updated", "widget", 1)
    assert probe.names == ["widget.created", "customer.created", "widget.updated"]


async def test_nested_unit_is_rolled_back_with_the_outer_one(kehu, system, probe):
    with pytest.raises(ZeroDivisionError):
        async with unit_of_work():
            async with unit_of_work():
                await customers.create_customer(system, {"name": "Inner"})
            _ = 1 / 0
    assert probe.events == []
    assert await Customer.count() == 0
    assert await AuditLog.count() == 0


async def test_emit_and_record_need_a_unit_of_work(kehu, system):
    with pytest.raises(RuntimeError, match="outside unit_of_work"):
        emit(Event("x.y", "x", 1, None))
    with pytest.raises(RuntimeError, match="outside unit_of_work"):
        await record(system, "created", "widget", 1)
    assert await AuditLog.count() == 0


async def test_failing_handler_is_logged_not_fatal(kehu, system, caplog):
    bad = _register(kehu, Probe("bad_probe", fail=True))
    good = _register(kehu, Probe("good_probe"))
    try:
        with caplog.at_level(logging.ERROR, logger="kehu"):
            row = await customers.create_customer(system, {"name": "Still Saved"})
    finally:
        kehu.pm.unregister(name=bad.name)
        kehu.pm.unregister(name=good.name)
    assert await Customer.exists().where(Customer.id == row["id"])
    assert good.names == ["customer.created"]
    assert any("bad_probe" in r.getMessage() for r in caplog.records)


async def test_dynamically_registered_plugin_receives_events(kehu, system):
    p = Probe("late_probe")
    kehu.pm.register(p, name=p.name)
    try:
        await customers.create_customer(system, {"name": "Late Listener"})
    finally:
        kehu.pm.unregister(name=p.name)
    assert p.names == ["customer.created"]
    # named contributions keep the dependency order; late registrations come after them
    kehu.pm.register(p, name=p.name)
    try:
        named = [n for n, _ in kehu.call_each("kehu_plugin_info")]
        assert named == [*kehu.names, "late_probe"]
        # pluggy's own call order: the latest registration first, then core onwards
        assert [i.name for i in kehu.call("kehu_plugin_info")] == ["late_probe", *kehu.names]
    finally:
        kehu.pm.unregister(name=p.name)


# -- record() ------------------------------------------------------------------------------


async def test_record_writes_actor_action_entity_before_after(kehu, make_user, probe):
    user = await make_user("manager", team="North")
    before_count = await AuditLog.count()
    async with unit_of_work():
        await record(
            user.actor,
            "repriced",
            "widget",
            42,
            before={"price": Decimal("1.50"), "valid_from": date(2026, 1, 2)},
            after={"price": Decimal("2.25"), "at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)},
        )
    rows = await audit_rows()
    assert len(rows) == before_count + 1
    row = rows[-1]
    assert row["actor"] == user.id
    assert row["actor_name"] == user.username
    assert (row["action"], row["entity"], row["entity_id"]) == ("repriced", "widget", 42)
    assert row["before"] == {"price": "1.50", "valid_from": "2026-01-02"}
    assert row["after"] == {"price": "2.25", "at": "2026-01-02T03:04:00+00:00"}
    assert row["at"] is not None
    event = probe.events[-1]
    assert event.name == "widget.repriced"
    assert event.actor_id == user.id
    assert event.data == row["after"]


async def test_record_event_data_and_empty_snapshots(kehu, system, probe):
    async with unit_of_work():
        await record(system, "pinged", "widget", None, event_data={"why": "test"})
    row = (await audit_rows())[-1]
    assert row["actor"] is None and row["actor_name"] == "system"
    assert row["before"] is None and row["after"] is None
    assert row["entity_id"] is None
    assert probe.events[-1].data == {"why": "test"}


def test_to_jsonable():
    value = {
        1: [Decimal("1.10"), date(2026, 5, 1)],
        "nested": {"json": '{"a": 1}', "list": "[1, 2]", "text": "{not json"},
        "set": {3},
    }
    assert to_jsonable(value) == {
        "1": ["1.10", "2026-05-01"],
        "nested": {"json": {"a": 1}, "list": [1, 2], "text": "{not json"},
        "set": [3],
    }


# -- every core mutation is audited -----------------------------------------------------------


async def test_every_core_mutation_writes_an_audit_row(kehu, make_user, probe):
    admin = (await make_user("admin")).actor
    audited: list[tuple[str, str, int | None]] = []

    async def expect(action: str, entity: str, entity_id: int | None) -> dict[str, Any]:
        audited.append((action, entity, entity_id))
        rows = await audit_rows()
        last = rows[-1]
        assert (last["action"], last["entity"], last["entity_id"]) == (action, entity, entity_id)
        assert last["actor"] == admin.user_id
        return last

    start = await AuditLog.count()
    probe.events.clear()

    team = await users.create_team(admin, "Audit Team")
    await expect("created", "team", team["id"])
    user = await users.create_user(admin, {"username": "audited", "role": "sales"})
    await expect("created", "user", user["id"])
    await users.update_user(admin, user["id"], {"role": "support", "team": team["id"]})
    row = await expect("updated", "user", user["id"])
    assert row["before"]["role"] == "sales" and row["after"]["role"] == "support"
    key_row, _ = await users.create_api_key(admin, "audited", "ci")
    await expect("created", "api_key", key_row["id"])
    await users.revoke_api_key(admin, key_row["prefix"])
    await expect("revoked", "api_key", key_row["id"])

    c = await customers.create_customer(admin, {"name": "Audit Me", "tier": "gold"}, tags=["VIP"])
    row = await expect("created", "customer", c["id"])
    assert row["after"]["name"] == "Audit Me" and row["after"]["tags"] == ["VIP"]
    c = await customers.update_customer(admin, c["id"], c["version"], {"name": "Audit Me 2"})
    row = await expect("updated", "customer", c["id"])
    assert row["before"]["name"] == "Audit Me" and row["after"]["name"] == "Audit Me 2"
    assert row["before"]["version"] == 1 and row["after"]["version"] == 2
    await customers.set_tags(admin, c["id"], add=["new"])
    row = await expect("tagged", "customer", c["id"])
    assert row["before"] == {"tags": ["vip"]} and row["after"] == {"tags": ["new", "vip"]}

    contact = await contacts.create_contact(admin, c["id"], {"name": "Zhang San"})
    await expect("created", "contact", contact["id"])
    await contacts.update_contact(admin, contact["id"], contact["version"], {"title": "CTO"})
    await expect("updated", "contact", contact["id"])
    activity = await activities.log_activity(
        admin, c["id"], {"kind": "task", "status": "planned", "subject": "Call back"}
    )
    await expect("created", "activity", activity["id"])
    await activities.complete_activity(admin, activity["id"], outcome="done")
    await expect("completed", "activity", activity["id"])
    await contacts.delete_contact(admin, contact["id"])
    await expect("deleted", "contact", contact["id"])

    other = await customers.create_customer(admin, {"name": "Merge Source"})
    await expect("created", "customer", other["id"])
    await customers.merge_customers(admin, c["id"], other["id"])
    rows = await audit_rows()
    assert [(r["action"], r["entity_id"]) for r in rows[-2:]] == [
        ("merged", c["id"]),
        ("merged_into", other["id"]),
    ]
    audited += [("merged", "customer", c["id"]), ("merged_into", "customer", other["id"])]
    await customers.reassign_customers(admin, user["id"], customer_ids=[c["id"]])
    row = await expect("reassigned", "customer", c["id"])
    assert row["after"]["owner"] == user["id"]

    await customers.archive_customer(admin, c["id"])
    row = await expect("archived", "customer", c["id"])
    assert row["before"] == {"archived_at": None} and row["after"]["archived_at"]
    await customers.restore_customer(admin, c["id"])
    row = await expect("restored", "customer", c["id"])
    assert row["after"] == {"archived_at": None}

    rows = (await audit_rows())[start:]
    assert [(r["action"], r["entity"], r["entity_id"]) for r in rows] == audited
    # one event per audit row, same order, dispatched after each commit
    assert probe.names == [f"{entity}.{action}" for action, entity, _ in audited]
    assert not any(probe.in_transaction)
