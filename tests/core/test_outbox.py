"""The outbox and its delivery: events stored with the change, delivered at least once per
subscriber, retried with backoff, dead-lettered, replayed, in commit order per entity, and
shared between processes through leases."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest

import kehu as kehu_api
from kehu.core.delivery import Dispatcher
from kehu.core.events import Event, emit, record, unit_of_work
from kehu.core.runtime import PluginInfo
from kehu.core.services import customers
from kehu.core.services import events as event_service
from kehu.core.services.common import now
from kehu.core.tables import EventDelivery, EventRecord, EventSubscriber

WIDGET = [
    kehu_api.EventType(f"widget.{a}", "a test event", {"n": "a number", "step": "a step"})
    for a in ("created", "updated", "pinged")
]


class Listener:
    """A plugin whose handler records events and fails while ``failing`` says so."""

    def __init__(self, name: str = "listener") -> None:
        self.name = name
        self.seen: list[Event] = []
        self.failing: set[tuple[str, int | None]] | bool = False

    @kehu_api.hookimpl
    def kehu_plugin_info(self) -> PluginInfo:
        return PluginInfo(self.name, "0")

    @kehu_api.hookimpl
    def kehu_event_types(self) -> list[kehu_api.EventType]:
        return WIDGET

    @kehu_api.hookimpl
    async def kehu_event(self, event: Event) -> None:
        if self.failing is True or (
            isinstance(self.failing, set) and (event.entity, event.entity_id) in self.failing
        ):
            raise RuntimeError(f"{self.name} cannot take {event.name} {event.entity_id}")
        self.seen.append(event)

    def steps(self, entity_id: int | None = None) -> list[int]:
        return [
            e.data["step"]
            for e in self.seen
            if e.name.startswith("widget.") and (entity_id is None or e.entity_id == entity_id)
        ]


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core"]


@pytest.fixture
def listener(kehu):
    plugin = Listener()
    kehu.pm.register(plugin, name=plugin.name)
    yield plugin
    kehu.pm.unregister(name=plugin.name)


@pytest.fixture
def fast_retries(kehu, monkeypatch):
    """Retries due at once, three attempts before a dead letter."""
    monkeypatch.setattr(kehu.settings, "event_retry_base_seconds", 0.001)
    monkeypatch.setattr(kehu.settings, "event_retry_max_seconds", 0.001)
    monkeypatch.setattr(kehu.settings, "event_max_attempts", 3)
    kehu.events._plugin_key = None  # subscribers read the settings when made


async def widget(entity_id: int, step: int, action: str = "updated") -> None:
    async with unit_of_work():
        emit(Event(f"widget.{action}", "widget", entity_id, None, {"n": entity_id, "step": step}))


async def outbox() -> list[dict[str, Any]]:
    return await EventRecord.select().order_by(EventRecord.id)


async def test_the_event_is_stored_with_the_change(kehu, system, listener):
    row = await customers.create_customer(system, {"name": "Outbox Ltd"})
    stored = await outbox()
    assert [(r["name"], r["entity"], r["entity_id"]) for r in stored] == [
        ("customer.created", "customer", row["id"])
    ]
    event = listener.seen[0]
    assert event.id == stored[0]["event_id"] and event.seq == stored[0]["id"]
    assert stored[0]["customer"] == row["id"] and stored[0]["version"] == 1
    assert stored[0]["actor"] is None and stored[0]["occurred_at"] is not None
    assert len(event.id) == 36  # a UUID: stable across every delivery attempt


async def test_a_rollback_stores_no_event(kehu, system, listener):
    with pytest.raises(ZeroDivisionError):
        async with unit_of_work():
            await customers.create_customer(system, {"name": "Never Ltd"})
            _ = 1 / 0
    assert await outbox() == []
    assert listener.seen == []


async def test_positions_follow_commit_order(kehu, system, listener):
    async def writer(i: int) -> None:
        for step in range(5):
            await widget(i, step)

    await asyncio.gather(*(writer(i) for i in range(4)))
    rows = await outbox()
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    for i in range(4):
        assert [_step(r) for r in rows if r["entity_id"] == i] == [0, 1, 2, 3, 4]
        assert listener.steps(i) == [0, 1, 2, 3, 4]


def _step(row: dict[str, Any]) -> int:
    from kehu.core.services.common import load_json

    return load_json(row["data"])["step"]


async def test_a_failed_delivery_is_retried_until_it_succeeds(kehu, listener, fast_retries):
    listener.failing = True
    await widget(1, 0)
    assert listener.seen == []
    parked = await EventDelivery.select()
    assert [(d["subscriber"], d["status"], d["attempts"]) for d in parked] == [
        ("plugin:listener", "pending", 1)
    ]
    assert "cannot take" in parked[0]["last_error"]
    listener.failing = False
    await asyncio.sleep(0.01)
    await kehu.events.drain()
    assert listener.steps() == [0]
    row = (await EventDelivery.select())[0]
    assert (row["status"], row["attempts"]) == ("delivered", 2)
    assert row["delivered_at"] is not None


async def test_after_the_last_attempt_the_delivery_is_dead_and_replayable(
    kehu, listener, fast_retries, system
):
    listener.failing = True
    await widget(1, 0)
    for _ in range(3):
        await asyncio.sleep(0.01)
        await kehu.events.drain()
    row = (await EventDelivery.select())[0]
    assert (row["status"], row["attempts"]) == ("dead", 3)
    page, _ = await event_service.list_deliveries(system, failed_only=True)
    assert [r["status"] for r in page.rows] == ["dead"]

    listener.failing = False
    assert await event_service.replay(system, dead=True) == 1
    await kehu.events.drain()
    assert listener.steps() == [0]
    assert (await EventDelivery.select())[0]["status"] == "delivered"


async def test_one_entity_waits_behind_its_failed_event_others_go_on(kehu, listener, fast_retries):
    listener.failing = {("widget", 1)}
    await widget(1, 0)
    await widget(2, 0)
    await widget(1, 1)
    await widget(2, 1)
    assert listener.steps(2) == [0, 1]
    assert listener.steps(1) == []
    parked = await EventDelivery.select().order_by(EventDelivery.event)
    assert [(d["entity_key"], d["attempts"]) for d in parked] == [("widget:1", 1), ("widget:1", 0)]
    listener.failing = False
    await asyncio.sleep(0.01)
    await kehu.events.drain()
    assert listener.steps(1) == [0, 1]  # in commit order


async def test_each_subscriber_has_its_own_delivery_state(kehu, listener, fast_retries):
    other = Listener("other_listener")
    kehu.pm.register(other, name=other.name)
    try:
        other.failing = True
        await widget(5, 0)
        assert listener.steps() == [0]
        assert other.steps() == []
        other.failing = False
        await asyncio.sleep(0.01)
        await kehu.events.drain()
        assert other.steps() == [0]
        assert listener.steps() == [0]  # not delivered twice to the one that had it
    finally:
        kehu.pm.unregister(name=other.name)


async def test_events_committed_while_nobody_delivers_arrive_later(kehu, listener, monkeypatch):
    """A process killed right after its first commit: the next process delivers (the
    subscriber's row was written with that first event)."""

    async def crashed(events: list[Event]) -> None:
        return None

    monkeypatch.setattr(kehu.events, "committed", crashed)
    await widget(1, 0)
    await widget(1, 1)
    assert listener.seen == []
    monkeypatch.undo()
    restarted = Dispatcher(kehu)
    await restarted.drain()
    assert listener.steps() == [0, 1]


async def test_a_dead_processes_lease_is_taken_over(kehu, listener, monkeypatch):
    async def crashed(events: list[Event]) -> None:
        return None

    await widget(1, 0)  # makes the subscriber row
    monkeypatch.setattr(kehu.events, "committed", crashed)
    await widget(1, 1)
    monkeypatch.undo()
    lease = now() + timedelta(seconds=30)
    await EventSubscriber.update(
        {EventSubscriber.locked_by: "elsewhere:1:abc", EventSubscriber.locked_until: lease}
    ).where(EventSubscriber.name == "plugin:listener")
    other = Dispatcher(kehu)
    assert await other.deliver(other.plugin_subscribers()) == 0  # held by another process
    await EventSubscriber.update(
        {EventSubscriber.locked_until: now() - timedelta(seconds=1)}
    ).where(EventSubscriber.name == "plugin:listener")
    assert await other.deliver(other.plugin_subscribers()) == 1
    assert listener.steps() == [0, 1]


async def test_two_processes_deliver_each_event_once(kehu, listener, monkeypatch):
    async def later(events: list[Event]) -> None:
        return None

    monkeypatch.setattr(kehu.events, "committed", later)
    for step in range(30):
        await widget(step % 3, step)
    monkeypatch.undo()
    first, second = Dispatcher(kehu), Dispatcher(kehu)
    await asyncio.gather(first.drain(), second.drain(), first.drain())
    assert sorted(listener.steps()) == list(range(30))


async def test_replay_of_one_event_to_one_subscriber(kehu, listener, system):
    await widget(1, 0)
    seq = (await outbox())[0]["id"]
    count = await event_service.replay(system, event_refs=[str(seq)], subscriber="plugin:listener")
    assert count == 1
    await kehu.events.drain()
    widgets = [e for e in listener.seen if e.name.startswith("widget.")]
    assert [e.seq for e in widgets] == [seq, seq]
    assert widgets[0].id == widgets[1].id  # handlers deduplicate on it


async def test_replay_needs_event_admin_and_something_to_replay(kehu, make_user, system, listener):
    manager = await make_user("manager")
    with pytest.raises(kehu_api.core.errors.Forbidden):
        await event_service.replay(manager.actor, dead=True)
    with pytest.raises(kehu_api.core.errors.ValidationFailed):
        await event_service.replay(system)
    with pytest.raises(kehu_api.core.errors.ValidationFailed, match="Unknown subscriber"):
        await event_service.replay(system, dead=True, subscriber="plugin:nope")


async def test_handler_events_are_delivered_in_the_same_pass(kehu, system, listener):
    """A handler's own unit of work emits events: they are delivered before the outer call
    returns, in order, and without recursion."""

    class Chain(Listener):
        @kehu_api.hookimpl
        async def kehu_event(self, event: Event) -> None:
            self.seen.append(event)
            if event.name == "widget.created" and event.data["step"] < 3:
                await widget(event.entity_id, event.data["step"] + 1, "created")

    chain = Chain("chain")
    kehu.pm.register(chain, name=chain.name)
    try:
        await widget(9, 0, "created")
        assert chain.steps() == [0, 1, 2, 3]
    finally:
        kehu.pm.unregister(name=chain.name)


async def test_prune_keeps_unread_pending_and_the_newest(kehu, listener, fast_retries):
    for step in range(3):
        await widget(1, step)
    listener.failing = {("widget", 2)}
    await widget(2, 0)
    await EventRecord.update({EventRecord.occurred_at: now() - timedelta(days=40)}, force=True)
    gone = await event_service.prune(timedelta(days=30))
    assert gone == 3  # the three read ones; the pending one stays
    remaining = await outbox()
    assert [r["entity_id"] for r in remaining] == [2]


async def test_status_shows_lag_pending_and_dead(kehu, listener, fast_retries, system):
    listener.failing = True
    await widget(1, 0)
    rows = {r["name"]: r for r in await event_service.subscriber_status(system)}
    assert rows["plugin:listener"]["pending"] == 1
    assert rows["plugin:listener"]["lag"] == 0
    assert "cannot take" in rows["plugin:listener"]["last_error"]


async def test_undeclared_events_fail_in_strict_mode(kehu, system, listener):
    with pytest.raises(kehu_api.core.errors.PluginError, match="not declared"):
        async with unit_of_work():
            await record(system, "exploded", "gadget", 1)
    assert await outbox() == []
