"""Durable delivery of the outbox to its subscribers.

Every subscriber (each plugin with ``kehu_event`` or a published event hook, each webhook
endpoint) reads the outbox in commit order from its own position. A delivery that fails is
parked in ``core_event_delivery`` and retried with exponential backoff and jitter until it
succeeds or is dead-lettered; later events of the same entity wait behind it, so one entity's
events reach a subscriber in commit order while other entities go on. Delivery is
at-least-once: handlers deduplicate on ``event.id``.

Work is shared through leases on the subscriber rows (``claim_rows``: ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), renewed while delivering, so any number of ``kehu serve`` and
``kehu worker`` processes can run and a dead one's work is taken over within
``event_lease_seconds``. The committing process delivers to plugins right after commit
(``inline``); webhooks and retries run in the background loop of ``kehu serve`` and
``kehu worker``.
"""

import asyncio
import contextlib
import contextvars
import inspect
import logging
import os
import random
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from kehu.core.db import (
    bulk_insert,
    claim_rows,
    current_engine,
    in_transaction,
    is_sqlite,
    placeholders,
    write_transaction,
)
from kehu.core.event_types import EventHook, matches
from kehu.core.events import Event, to_jsonable
from kehu.core.services.common import load_json, now
from kehu.core.tables import DeliveryStatus, EventDelivery, EventRecord, EventSubscriber

log = logging.getLogger("kehu.events")

OUTBOX_LOCK = 7_163_001  # pg_advisory_xact_lock key: outbox ids are taken in commit order
CHANNEL = "kehu_events"  # PostgreSQL NOTIFY channel: "a new event was committed"

_delivering: contextvars.ContextVar[bool] = contextvars.ContextVar("kehu_delivering", default=False)


_live_holders: set[str] = set()  # the holder ids of this process


def holder_id() -> str:
    """``host:pid:nonce``: who holds a lease (the nonce tells a restarted pid apart)."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    _live_holders.add(holder)
    return holder


def _holder_is_dead(holder: str) -> bool:
    """Whether ``holder`` was a process of this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or holder in _live_holders:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # an earlier incarnation with this pid (a restarted container)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def event_of(row: dict[str, Any]) -> Event:
    """An ``Event`` from a ``core_event`` row."""
    return Event(
        name=row["name"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        actor_id=row["actor"],
        data=load_json(row["data"]),
        occurred_at=row["occurred_at"],
        id=row["event_id"],
        seq=row["id"],
        version=row["version"],
    )


class Subscriber:
    """A consumer of committed events. ``deliver`` raises to fail an attempt.

    ``inline`` subscribers are delivered right after commit by the committing process;
    ``pause_on_failure`` stops delivering to the subscriber for a backoff after a failure
    (an endpoint that is down is not hammered with every new event)."""

    inline = False
    pause_on_failure = False

    def __init__(
        self, name: str, *, max_attempts: int, retry_base: float, retry_max: float
    ) -> None:
        self.name = name
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_max = retry_max

    def wants(self, event: Event) -> bool:
        return True

    async def select(self, events: list[Event]) -> list[Event]:
        """The events of a batch this subscriber receives (filters, visibility)."""
        return [e for e in events if self.wants(e)]

    async def deliver(self, event: Event, attempt: int) -> None:
        raise NotImplementedError

    def retry_delay(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``: exponential, with jitter."""
        ceiling = min(self.retry_max, self.retry_base * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def pause_delay(self, failures: int) -> float:
        """Seconds to pause after ``failures`` failed attempts in a row."""
        return self.retry_delay(failures)

    async def gave_up(self, event: Event, error: str) -> None:
        """Called when a delivery is dead-lettered."""


async def _await_all(results: list[Any]) -> None:
    for result in results:
        if inspect.isawaitable(result):
            await result


class PluginSubscriber(Subscriber):
    """A plugin's ``kehu_event`` and its implementations of published event hooks, called
    through pluggy for this plugin only."""

    inline = True

    def __init__(
        self,
        kehu: Any,
        plugin: str,
        all_events: bool,
        hooks: list[EventHook],
        names: tuple[str, ...] | None = None,
    ):
        s = kehu.settings
        super().__init__(
            f"plugin:{plugin}",
            max_attempts=s.event_max_attempts,
            retry_base=s.event_retry_base_seconds,
            retry_max=s.event_retry_max_seconds,
        )
        self.kehu = kehu
        self.plugin = plugin
        self.all_events = all_events
        self.names = names  # the events its kehu_event handles (``on_events``); None: all
        self.hooks: dict[str, list[EventHook]] = {}
        for hook in hooks:
            self.hooks.setdefault(hook.event, []).append(hook)

    def wants(self, event: Event) -> bool:
        return self._handles(event) or event.name in self.hooks

    def _handles(self, event: Event) -> bool:
        return self.all_events and (self.names is None or matches(event.name, self.names))

    async def deliver(self, event: Event, attempt: int) -> None:
        pm = self.kehu.pm
        others = [p for n, p in pm.list_name_plugin() if n != self.plugin]
        if self._handles(event):
            await _await_all(pm.subset_hook_caller("kehu_event", others)(event=event))
        for hook in self.hooks.get(event.name, []):
            args = hook.args(event)
            if args is not None:
                await _await_all(pm.subset_hook_caller(hook.hook, others)(**args))


@dataclass
class _Claim:
    sub: Subscriber
    position: int
    active: bool = True  # False once paused or the lease is lost
    failures: int = 0
    parked: bool = False  # it has pending deliveries (new events of their entities wait)
    released: bool = False
    saved_at: float = field(default_factory=time.monotonic)
    failed: bool = False
    delivered: bool = False
    error: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)


ELIGIBLE = (
    "SELECT d.id, d.event, d.attempts, d.entity_key FROM core_event_delivery d "
    "WHERE d.subscriber = {} AND d.status = 'pending' AND d.next_attempt_at <= {} "
    "AND NOT EXISTS (SELECT 1 FROM core_event_delivery p WHERE p.subscriber = d.subscriber "
    "AND p.entity_key = d.entity_key AND p.status = 'pending' AND p.event < d.event) "
    "ORDER BY d.event LIMIT {}"
)


class Dispatcher:
    """The outbox and its delivery for one runtime (``kehu.events``)."""

    def __init__(self, kehu: Any) -> None:
        self.kehu = kehu
        self.holder = holder_id()
        self.clock: Callable[[], datetime] = now
        self._plugin_key: tuple[str, ...] | None = None
        self._synced_key: tuple[str, ...] | None = None
        self._plugin_subs: list[PluginSubscriber] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._runner: asyncio.Task[Any] | None = None
        self._listener: Any = None
        self._commits = 0
        self.listeners: list[Callable[[], None]] = []  # woken on new events (subscriptions)

    # -- writing --------------------------------------------------------------------------
    async def store(self, events: list[Event]) -> list[Event]:
        """Write ``events`` to the outbox in the current transaction. On PostgreSQL an
        advisory lock held until commit makes ids follow commit order, so a reader that has
        seen id N never later sees a smaller one."""
        sqlite = is_sqlite(current_engine())
        if not sqlite:
            await EventRecord.raw("SELECT pg_advisory_xact_lock({})", OUTBOX_LOCK)
        await self._ensure_subscribers()
        jsonable = [replace(e, data=to_jsonable(e.data)) for e in events]
        rows = await bulk_insert(
            EventRecord,
            [
                {
                    "event_id": e.id,
                    "name": e.name,
                    "entity": e.entity,
                    "entity_id": e.entity_id,
                    "actor": e.actor_id,
                    "customer": e.customer_id,
                    "data": e.data,
                    "version": e.version,
                    "occurred_at": e.occurred_at,
                }
                for e in jsonable
            ],
            returning=("id", "event_id"),
        )
        seqs: dict[str, int] = {r["event_id"]: r["id"] for r in rows}
        if not sqlite:
            await EventRecord.raw("SELECT pg_notify({}, {})", CHANNEL, str(max(seqs.values())))
        return sorted((replace(e, seq=seqs[e.id]) for e in jsonable), key=lambda e: seqs[e.id])

    async def _ensure_subscribers(self) -> None:
        """Give every plugin subscriber its row before this process's first event (in the
        same transaction), so that no event committed here is missed by a subscriber that
        did not exist yet, even if the process dies right after the commit."""
        subs = self.plugin_subscribers()
        if self._synced_key == self._plugin_key:
            return
        names = [s.name for s in subs]
        existing = {
            r["name"]
            for r in await EventSubscriber.select(EventSubscriber.name).where(
                EventSubscriber.name.is_in(names or [""])
            )
        }
        missing = [n for n in names if n not in existing]
        if missing:
            head = await self.max_seq()
            await EventSubscriber.insert(
                *[EventSubscriber(name=n, position=head) for n in missing]
            ).on_conflict(action="DO NOTHING")
        self._synced_key = self._plugin_key

    def forget(self) -> None:
        """Forget what this process knows of the database (it was emptied or restored)."""
        self._synced_key = None

    async def committed(self, events: list[Event]) -> None:
        """After a commit: deliver to the plugins now (unless a delivery is already running
        in this task, which goes on to the newest event), wake the background loop."""
        self._commits += 1
        self._notify()
        if _delivering.get() or in_transaction():
            return
        subs = [s for s in self.plugin_subscribers() if any(s.wants(e) for e in events)]
        if subs:
            await self.deliver(subs, start=events[0].position - 1)

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()
        for listener in self.listeners:
            listener()

    # -- subscribers ------------------------------------------------------------------------
    def plugin_subscribers(self) -> list[PluginSubscriber]:
        """Plugins implementing ``kehu_event`` or a published event hook, in plugin order."""
        pm = self.kehu.pm
        key = tuple(name for name, _ in pm.list_name_plugin())
        if key != self._plugin_key:
            hooks = self.kehu.event_types.hooks
            names = self.kehu.names + sorted(set(key) - set(self.kehu.names))
            subs = []
            for name in names:
                if pm.get_plugin(name) is None:
                    continue
                handler = _implementation(pm, name, "kehu_event")
                mine = [h for _, h in hooks if _implementation(pm, name, h.hook)]
                if handler or mine:
                    patterns = getattr(handler, "kehu_event_names", None)
                    subs.append(PluginSubscriber(self.kehu, name, bool(handler), mine, patterns))
            self._plugin_subs, self._plugin_key = subs, key
        return self._plugin_subs

    async def external_subscribers(self) -> list[Subscriber]:
        """Subscribers contributed by plugins (``kehu_event_subscribers``: webhooks...)."""
        out: list[Subscriber] = []
        for subs in await self.kehu.acall("kehu_event_subscribers"):
            out += subs
        return out

    async def subscribers(self) -> list[Subscriber]:
        return [*self.plugin_subscribers(), *await self.external_subscribers()]

    # -- delivering -------------------------------------------------------------------------
    def _lock(self, name: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (another CLI command, a test session)
            self._loop, self._locks, self._tasks = loop, {}, {}
        return self._locks.setdefault(name, asyncio.Lock())

    @contextlib.asynccontextmanager
    async def _locked(self, subs: Sequence[Subscriber]) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for name in sorted(s.name for s in subs):
                await stack.enter_async_context(self._lock(name))
            yield

    async def deliver(
        self, subs: Sequence[Subscriber], *, start: int | None = None, retries: bool = False
    ) -> int:
        """Deliver what is new (and, with ``retries``, what is due again) to ``subs``, for
        those whose lease this process gets. Returns the number of successful deliveries."""
        async with self._locked(subs):
            token = _delivering.set(True)
            try:
                claims = await self._claim(subs, start)
                if not claims:
                    return 0
                try:
                    done = 0
                    if retries:
                        for claim in claims:
                            done += await self._retry_due(claim)
                    return done + await self._deliver_new(claims)
                finally:
                    await self._release([c for c in claims if not c.released])
            finally:
                _delivering.reset(token)

    async def _claim(self, subs: Sequence[Subscriber], start: int | None) -> list[_Claim]:
        at = self.clock()
        names = [s.name for s in subs]
        rows = await self._take(names, at)
        got = {r["name"]: r for r in rows}
        missing = [n for n in names if n not in got]
        if missing:
            existing = {
                r["name"]
                for r in await EventSubscriber.select(EventSubscriber.name).where(
                    EventSubscriber.name.is_in(missing)
                )
            }
            new = [n for n in missing if n not in existing]
            if new:
                position = start if start is not None else await self.max_seq()
                await EventSubscriber.insert(
                    *[EventSubscriber(name=n, position=position) for n in new]
                ).on_conflict(action="DO NOTHING")
                got.update({r["name"]: r for r in await self._take(new, at)})
        return [
            _Claim(
                s,
                got[s.name]["position"],
                failures=got[s.name]["failures"],
                parked=bool(got[s.name]["pending"]),
            )
            for s in subs
            if s.name in got
        ]

    async def _take(self, names: list[str], at: datetime) -> list[dict[str, Any]]:
        lease = timedelta(seconds=self.kehu.settings.event_lease_seconds)
        where = (
            f"name IN ({placeholders(names)}) "
            "AND (locked_by = '' OR locked_until IS NULL OR locked_until < {} OR locked_by = {}) "
            "AND (paused_until IS NULL OR paused_until <= {})"
        )
        return await claim_rows(
            EventSubscriber,
            where,
            [*names, at, self.holder, at],
            {"locked_by": self.holder, "locked_until": at + lease},
            returning="name, position, failures, (SELECT COUNT(*) FROM core_event_delivery d "
            "WHERE d.subscriber = core_event_subscriber.name AND d.status = 'pending') "
            "AS pending",
        )

    async def _release(self, claims: list[_Claim]) -> None:
        """Free the leases; ``locked_until`` keeps the time of the last delivery pass."""
        if not claims:
            return
        names = [c.sub.name for c in claims]
        await EventSubscriber.update(
            {EventSubscriber.locked_by: "", EventSubscriber.locked_until: self.clock()}
        ).where(EventSubscriber.name.is_in(names), EventSubscriber.locked_by == self.holder)

    async def max_seq(self) -> int:
        rows = await EventRecord.raw("SELECT MAX(id) AS m FROM core_event")
        return rows[0]["m"] or 0

    async def _read(self, after: int, limit: int) -> list[Event]:
        rows = (
            await EventRecord.select()
            .where(EventRecord.id > after)
            .order_by(EventRecord.id)
            .limit(limit)
        )
        return [event_of(r) for r in rows]

    async def events_by_seq(self, seqs: list[int]) -> dict[int, Event]:
        if not seqs:
            return {}
        rows = await EventRecord.select().where(EventRecord.id.is_in(sorted(set(seqs))))
        return {r["id"]: event_of(r) for r in rows}

    async def _parked(self, claims: list[_Claim]) -> dict[str, set[str]]:
        """Entity keys with a pending delivery, per subscriber: their new events wait."""
        out: dict[str, set[str]] = {c.sub.name: set() for c in claims}
        if not any(c.parked for c in claims):
            return out
        rows = await EventDelivery.raw(
            "SELECT DISTINCT subscriber, entity_key FROM core_event_delivery "
            f"WHERE status = 'pending' AND subscriber IN ({placeholders(list(out))})",
            *out,
        )
        for r in rows:
            out[r["subscriber"]].add(r["entity_key"])
        return out

    async def _attempt(self, sub: Subscriber, event: Event, attempt: int) -> str | None:
        """Deliver once; the error text on failure."""
        try:
            await sub.deliver(event, attempt)
        except Exception as exc:
            log.error(
                "Delivery of %s %s (seq %s) to %s failed (attempt %d)",
                event.name,
                event.id,
                event.seq,
                sub.name,
                attempt,
                exc_info=True,
            )
            return f"{type(exc).__name__}: {exc}"[:2000]
        return None

    def _parked_row(self, claim: _Claim, event: Event, attempts: int, error: str) -> None:
        at = self.clock()
        delay = claim.sub.retry_delay(attempts) if attempts else 0.0
        claim.rows.append(
            {
                "subscriber": claim.sub.name,
                "event": event.seq,
                "entity_key": event.entity_key[:100],
                "status": DeliveryStatus.pending.value,
                "attempts": attempts,
                "next_attempt_at": at + timedelta(seconds=delay),
                "last_error": error,
                "created_at": at,
                "updated_at": at,
            }
        )

    def _failed(self, claim: _Claim, error: str) -> None:
        claim.failed, claim.error = True, error
        if claim.sub.pause_on_failure:
            claim.active = False

    async def _deliver_new(self, claims: list[_Claim]) -> int:
        batch_size = self.kehu.settings.event_batch_size
        done = 0
        for _ in range(1000):  # bounded: a cascade of handler events ends
            active = [c for c in claims if c.active]
            if not active:
                break
            commits = self._commits
            batch = await self._read(min(c.position for c in active), batch_size)
            if not batch:
                break
            parked = await self._parked(active)
            for claim in active:
                done += await self._deliver_batch(claim, batch, parked[claim.sub.name])
            last = len(batch) < batch_size and self._commits == commits
            await self._save(active, release=last)
            if last:
                break
        return done

    async def _deliver_batch(self, claim: _Claim, batch: list[Event], parked: set[str]) -> int:
        events = [e for e in batch if e.position > claim.position]
        if not events:
            return 0
        chosen = {e.seq for e in await claim.sub.select(events)}
        done = 0
        for event in events:
            if event.seq in chosen:
                if event.entity_key in parked:
                    self._parked_row(claim, event, 0, "")
                else:
                    error = await self._attempt(claim.sub, event, 1)
                    if error is None:
                        done += 1
                        claim.delivered = True
                    else:
                        parked.add(event.entity_key)
                        claim.parked = True
                        self._parked_row(claim, event, 1, error)
                        self._failed(claim, error)
            claim.position = event.position
            if not claim.active:
                break
            await self._keep_lease(claim)
        return done

    async def _keep_lease(self, claim: _Claim) -> None:
        """Save progress and renew the lease when a third of it has passed (slow handlers,
        slow endpoints): no other process takes over a subscriber that is still served."""
        if time.monotonic() - claim.saved_at > self.kehu.settings.event_lease_seconds / 3:
            await self._save([claim])

    async def _save(self, claims: list[_Claim], *, release: bool = False) -> None:
        """Store parked deliveries and positions; renew (or free) the leases, in one
        transaction."""
        at = self.clock()
        lease = timedelta(seconds=self.kehu.settings.event_lease_seconds)
        async with write_transaction():
            rows = [r for c in claims for r in c.rows]
            if rows:
                await EventDelivery.insert(*[EventDelivery(**r) for r in rows]).on_conflict(
                    action="DO NOTHING"
                )
            for claim in claims:
                values: dict[Any, Any] = {
                    EventSubscriber.position: claim.position,
                    EventSubscriber.locked_until: at if release else at + lease,
                }
                if release:
                    values[EventSubscriber.locked_by] = ""
                values.update(await self._health(claim, at))
                kept = (
                    await EventSubscriber.update(values)
                    .where(
                        EventSubscriber.name == claim.sub.name,
                        EventSubscriber.locked_by == self.holder,
                    )
                    .returning(EventSubscriber.id)
                )
                if not kept:
                    log.warning("Lease of %s was taken over; stopping", claim.sub.name)
                    claim.active = False
                claim.rows = []
                claim.released = release
                claim.saved_at = time.monotonic()

    async def _health(self, claim: _Claim, at: datetime) -> dict[Any, Any]:
        """Circuit breaker and last results of a claim's deliveries since the last save. An
        endpoint that answers again after failures gets its parked deliveries at once."""
        values: dict[Any, Any] = {}
        if claim.failed:
            claim.failures += 1
            values[EventSubscriber.failures] = claim.failures
            values[EventSubscriber.last_error] = claim.error
            if claim.sub.pause_on_failure:
                pause = claim.sub.pause_delay(claim.failures)
                values[EventSubscriber.paused_until] = at + timedelta(seconds=pause)
        elif claim.delivered and claim.failures:
            claim.failures = 0
            values[EventSubscriber.failures] = 0
            values[EventSubscriber.paused_until] = None
            if claim.sub.pause_on_failure:
                await EventDelivery.update({EventDelivery.next_attempt_at: at}).where(
                    EventDelivery.subscriber == claim.sub.name,
                    EventDelivery.status == DeliveryStatus.pending.value,
                    EventDelivery.next_attempt_at > at,
                )
        if claim.delivered:
            values[EventSubscriber.last_delivered_at] = at
        claim.failed = claim.delivered = False
        return values

    async def _retry_due(self, claim: _Claim) -> int:
        """Deliver the parked deliveries that are due, oldest first, one entity at a time."""
        done = 0
        for _ in range(100):
            rows = await EventDelivery.raw(ELIGIBLE, claim.sub.name, self.clock(), 100)
            if not rows or not claim.active:
                break
            events = await self.events_by_seq([r["event"] for r in rows])
            progressed = False
            failed_keys: set[str] = set()
            for row in rows:
                if row["entity_key"] in failed_keys:
                    continue
                outcome = await self._retry_one(claim, row, events.get(row["event"]))
                if outcome:
                    done += 1
                    progressed = True
                else:
                    failed_keys.add(row["entity_key"])
                if not claim.active:
                    break
                await self._keep_lease(claim)
            await self._save([claim])
            if not progressed:
                break
        return done

    async def _retry_one(self, claim: _Claim, row: dict[str, Any], event: Event | None) -> bool:
        at = self.clock()
        attempt = row["attempts"] + 1
        if event is None:
            await self._mark(row["id"], DeliveryStatus.dead, attempt - 1, "event pruned")
            return False
        if not await claim.sub.select([event]):
            await self._mark(row["id"], DeliveryStatus.delivered, row["attempts"], "skipped")
            return True
        error = await self._attempt(claim.sub, event, attempt)
        if error is None:
            claim.delivered = True
            await self._mark(row["id"], DeliveryStatus.delivered, attempt, "")
            return True
        self._failed(claim, error)
        if attempt >= claim.sub.max_attempts:
            await self._mark(row["id"], DeliveryStatus.dead, attempt, error)
            log.error("Gave up delivering %s %s to %s", event.name, event.id, claim.sub.name)
            await claim.sub.gave_up(event, error)
            return True  # the entity's next events may go on
        delay = timedelta(seconds=claim.sub.retry_delay(attempt))
        await self._mark(row["id"], DeliveryStatus.pending, attempt, error, at + delay)
        return False

    async def _mark(
        self,
        delivery_id: int,
        status: DeliveryStatus,
        attempts: int,
        error: str,
        next_at: datetime | None = None,
    ) -> None:
        at = self.clock()
        values: dict[Any, Any] = {
            EventDelivery.status: status.value,
            EventDelivery.attempts: attempts,
            EventDelivery.last_error: error,
            EventDelivery.updated_at: at,
        }
        if next_at is not None:
            values[EventDelivery.next_attempt_at] = next_at
        if status == DeliveryStatus.delivered:
            values[EventDelivery.delivered_at] = at
        await EventDelivery.update(values).where(EventDelivery.id == delivery_id)

    # -- the background loop ------------------------------------------------------------------
    async def pass_once(self) -> bool:
        """Start delivering to every subscriber that has work and is not busy here, and
        sending due mail. Whether anything was started."""
        plugin_subs = self.plugin_subscribers()
        external = await self.external_subscribers()
        work = await self._with_work([*plugin_subs, *external])
        started = False
        group = [s for s in plugin_subs if s.name in work and not self._lock(s.name).locked()]
        if group:
            started |= self._spawn("plugins", self.deliver(group, retries=True))
        for sub in external:
            if sub.name in work:
                started |= self._spawn(sub.name, self.deliver([sub], retries=True))
        if self.kehu.settings.smtp_url:
            from kehu.core import mail

            if await mail.has_due():
                started |= self._spawn("mail", mail.send_due())
        return started

    async def _with_work(self, subs: list[Subscriber]) -> set[str]:
        """Names of subscribers with new events or due retries whose lease is free (a dead
        process of this host frees its leases at once)."""
        if not subs:
            return set()
        at = self.clock()
        names = [s.name for s in subs]
        head = await self.max_seq()
        rows = await EventSubscriber.select().where(EventSubscriber.name.is_in(names))
        due = {
            r["subscriber"]
            for r in await EventDelivery.raw(
                "SELECT DISTINCT subscriber FROM core_event_delivery WHERE status = 'pending' "
                f"AND next_attempt_at <= {{}} AND subscriber IN ({placeholders(names)})",
                at,
                *names,
            )
        }
        work = set(names) - {r["name"] for r in rows}
        for r in rows:
            held = r["locked_by"] and r["locked_until"] is not None and r["locked_until"] >= at
            if held and r["locked_by"] != self.holder:
                if not _holder_is_dead(r["locked_by"]):
                    continue
                await EventSubscriber.update({EventSubscriber.locked_by: ""}).where(
                    EventSubscriber.name == r["name"],
                    EventSubscriber.locked_by == r["locked_by"],
                )
            if r["paused_until"] is not None and r["paused_until"] > at:
                continue
            if r["position"] < head or r["name"] in due:
                work.add(r["name"])
        return work

    def _spawn(self, key: str, work: Coroutine[Any, Any, Any]) -> bool:
        running = self._tasks.get(key)
        if running is not None and not running.done():
            work.close()
            return False
        self._tasks[key] = asyncio.create_task(self._guarded(key, work))
        return True

    async def _guarded(self, key: str, work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Background delivery %s failed", key)

    async def drain(self, timeout: float = 30.0) -> None:
        """Deliver until nothing is left that is due now (tests, ``kehu events deliver``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            started = await self.pass_once()
            tasks = [t for t in self._tasks.values() if not t.done()]
            if tasks:
                await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
            elif not started:
                if not await self._with_work(await self.subscribers()):
                    return
                await asyncio.sleep(0.05)  # leased by another process: wait for it

    async def start_background(self) -> None:
        """Run the delivery loop in this process until ``stop_background``."""
        if self._runner is not None:
            return
        self._lock("loop")  # binds the locks to this loop
        self._wake, self._stop = asyncio.Event(), asyncio.Event()
        self._listener = await self._listen()
        self._runner = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._wake is not None and self._stop is not None
        poll = self.kehu.settings.event_poll_seconds
        while not self._stop.is_set():
            self._wake.clear()
            try:
                await self.pass_once()
            except Exception:
                log.exception("Event delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll)

    async def stop_background(self) -> None:
        if self._runner is None:
            return
        assert self._stop is not None and self._wake is not None
        self._stop.set()
        self._wake.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._runner
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
        self._runner = self._wake = self._stop = self._listener = None

    async def _listen(self) -> Any:
        """PostgreSQL: a connection LISTENing for commits of other processes."""
        engine = current_engine()
        if not isinstance(engine, PostgresEngine):
            return None
        import asyncpg

        try:
            conn = await asyncpg.connect(**engine.config)
            await conn.add_listener(CHANNEL, lambda *_: self._notify())
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("LISTEN %s unavailable (%s); polling only", CHANNEL, exc)
            return None
        return conn


def _implementation(pm: Any, plugin: str, hook: str) -> Callable[..., Any] | None:
    """The function with which ``plugin`` implements ``hook``, if it does."""
    caller = getattr(pm.hook, hook, None)
    for impl in caller.get_hookimpls() if caller is not None else []:
        if impl.plugin_name == plugin:
            return impl.function
    return None


__all__ = ["Dispatcher", "PluginSubscriber", "Subscriber", "event_of", "holder_id"]
