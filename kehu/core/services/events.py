"""The outbox for operators: events, failed and dead deliveries, subscriber positions,
replay and pruning (``kehu events ...`` and the admin GraphQL fields). ``event:admin``."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kehu.core.context import current
from kehu.core.db import placeholders, write_transaction
from kehu.core.delivery import event_of
from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.event_types import matches
from kehu.core.events import Event, record, unit_of_work
from kehu.core.pagination import Page, newest_first
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.core.tables import DeliveryStatus, EventDelivery, EventRecord, EventSubscriber


@dataclass
class EventFilter:
    names: list[str] | None = None  # globs
    entity: str | None = None
    entity_id: int | None = None
    customer_id: int | None = None
    since: datetime | None = None


def _conditions(f: EventFilter) -> list[Any]:
    conditions: list[Any] = []
    if f.entity:
        conditions.append(EventRecord.entity == f.entity)
    if f.entity_id is not None:
        conditions.append(EventRecord.entity_id == f.entity_id)
    if f.customer_id is not None:
        conditions.append(EventRecord.customer == f.customer_id)
    if f.since is not None:
        conditions.append(EventRecord.occurred_at >= f.since)
    if f.names:
        # globs match the declared names; a name nobody declares is taken as it is
        known = current().event_types.types
        names = {n for n in known if matches(n, f.names)} | set(f.names)
        conditions.append(EventRecord.name.is_in(sorted(names)))
    return conditions


async def list_events(
    actor: Actor, f: EventFilter | None = None, *, first: int = 20, after: str | None = None
) -> tuple[Page, Callable[[], Awaitable[int]]]:
    """Outbox events, newest first (keyset page and a counter)."""
    actor.require("event:admin")
    return await newest_first(
        EventRecord, _conditions(f or EventFilter()), first=first, after=after
    )


async def get_event(actor: Actor, seq: int) -> Event | None:
    actor.require("event:admin")
    row = await EventRecord.select().where(EventRecord.id == seq).first()
    return event_of(row) if row else None


async def find_event(actor: Actor, ref: str) -> Event:
    """An event by its id (UUID) or its outbox position."""
    actor.require("event:admin")
    query = EventRecord.select()
    query = (
        query.where(EventRecord.id == int(ref))
        if ref.isdigit()
        else query.where(EventRecord.event_id == ref)
    )
    row = await query.first()
    if row is None:
        raise ValidationFailed(FieldError("eventId", f"No event {ref!r}", "NOT_FOUND"))
    return event_of(row)


async def list_deliveries(
    actor: Actor,
    *,
    status: str | None = None,
    subscriber: str | None = None,
    event_seq: int | None = None,
    failed_only: bool = False,
    first: int = 20,
    after: str | None = None,
) -> tuple[Page, Callable[[], Awaitable[int]]]:
    """Deliveries that did not succeed at once, newest first. ``failed_only``: those that
    failed at least once and are not delivered (waiting for a retry, or dead)."""
    actor.require("event:admin")
    conditions = []
    if status:
        conditions.append(EventDelivery.status == status)
    if subscriber:
        conditions.append(EventDelivery.subscriber == subscriber)
    if event_seq is not None:
        conditions.append(EventDelivery.event == event_seq)
    if failed_only:
        conditions.append(EventDelivery.status != DeliveryStatus.delivered.value)
        conditions.append(EventDelivery.attempts > 0)
    return await newest_first(EventDelivery, conditions, first=first, after=after)


async def subscriber_status(actor: Actor) -> list[dict[str, Any]]:
    """Every known subscriber: position, lag behind the newest event, lease, circuit breaker,
    pending and dead deliveries."""
    actor.require("event:admin")
    kehu = current()
    head = await kehu.events.max_seq()
    rows = {r["name"]: r for r in await EventSubscriber.select().order_by(EventSubscriber.name)}
    for sub in await kehu.events.subscribers():
        rows.setdefault(sub.name, {"name": sub.name, "position": head, "locked_by": ""})
    counts: dict[tuple[str, str], int] = {}
    for r in await EventDelivery.raw(
        "SELECT subscriber, status, COUNT(*) AS n FROM core_event_delivery "
        "WHERE status <> 'delivered' GROUP BY subscriber, status"
    ):
        counts[(r["subscriber"], r["status"])] = r["n"]
    at = now()
    out = []
    for name, row in sorted(rows.items()):
        until = row.get("locked_until")
        out.append(
            {
                **row,
                "lag": max(0, head - row["position"]),
                "locked_by": row["locked_by"] if until and until >= at else "",
                "active_at": until,
                "pending": counts.get((name, "pending"), 0),
                "dead": counts.get((name, "dead"), 0),
            }
        )
    return out


async def replay(
    actor: Actor,
    *,
    event_refs: list[str] | None = None,
    subscriber: str | None = None,
    dead: bool = False,
    since: datetime | None = None,
) -> int:
    """Deliver events again: the dead deliveries (``dead``), or the given events, or every
    event since ``since``, to ``subscriber`` (or every current subscriber that takes them).
    Returns the number of deliveries scheduled. Handlers see the same event ids again."""
    actor.require("event:admin")
    if not (dead or event_refs or since):
        raise ValidationFailed(
            FieldError(
                None, "Say what to replay: dead deliveries, event ids or a start time", "REQUIRED"
            )
        )
    kehu = current()
    subs = await kehu.events.subscribers()
    if subscriber is not None and subscriber not in {s.name for s in subs}:
        raise ValidationFailed(
            FieldError(
                "subscriber",
                f"Unknown subscriber {subscriber!r}; subscribers: "
                f"{', '.join(s.name for s in subs)}",
                "NOT_FOUND",
            )
        )
    at = now()
    count = 0
    async with unit_of_work():
        if dead:
            query = EventDelivery.update(
                {
                    EventDelivery.status: DeliveryStatus.pending.value,
                    EventDelivery.attempts: 0,
                    EventDelivery.next_attempt_at: at,
                    EventDelivery.updated_at: at,
                }
            ).where(EventDelivery.status == DeliveryStatus.dead.value)
            if subscriber is not None:
                query = query.where(EventDelivery.subscriber == subscriber)
            count += len(await query.returning(EventDelivery.id))
        events: list[Event] = []
        for ref in event_refs or []:
            events.append(await find_event(actor, ref))
        if since is not None:
            rows = (
                await EventRecord.select()
                .where(EventRecord.occurred_at >= since)
                .order_by(EventRecord.id)
                .limit(100_000)
            )
            events += [event_of(r) for r in rows]
        targets = [s for s in subs if subscriber is None or s.name == subscriber]
        for sub in targets:
            chosen = await sub.select(events) if events else []
            count += await _schedule(sub.name, chosen, at)
        await record(
            actor,
            "replayed",
            "outbox",
            None,
            after={
                "subscriber": subscriber,
                "dead": dead,
                "events": len(events),
                "deliveries": count,
            },
        )
    kehu.events._notify()
    return count


async def _schedule(subscriber: str, events: list[Event], at: datetime) -> int:
    """A pending delivery of each event (again, if it had one)."""
    if not events:
        return 0
    seqs = [e.seq for e in events]
    for start in range(0, len(seqs), 500):
        chunk = seqs[start : start + 500]
        await EventDelivery.raw(
            "DELETE FROM core_event_delivery WHERE subscriber = {} "
            f"AND event IN ({placeholders(chunk)})",
            subscriber,
            *chunk,
        )
    await EventDelivery.insert(
        *[
            EventDelivery(
                subscriber=subscriber,
                event=e.seq,
                entity_key=e.entity_key[:100],
                status=DeliveryStatus.pending.value,
                attempts=0,
                next_attempt_at=at,
                created_at=at,
                updated_at=at,
            )
            for e in events
        ]
    )
    return len(events)


async def prune(retention: timedelta, at: datetime | None = None) -> int:
    """Delete outbox events older than ``retention`` that every recently active subscriber
    has read and no pending delivery needs, with their delivery rows. The newest event is
    always kept (SQLite would otherwise hand out its id again)."""
    at = at or now()
    cutoff = at - retention
    head = await current().events.max_seq()
    rows = await EventSubscriber.raw(
        "SELECT MIN(position) AS m FROM core_event_subscriber WHERE locked_until >= {}",
        cutoff,
    )
    below = min(rows[0]["m"] if rows[0]["m"] is not None else head, head)
    async with write_transaction():
        gone = await EventRecord.raw(
            "DELETE FROM core_event WHERE occurred_at < {} AND id < {} AND NOT EXISTS "
            "(SELECT 1 FROM core_event_delivery d WHERE d.event = core_event.id "
            "AND d.status = 'pending') RETURNING id",
            cutoff,
            below,
        )
        await EventDelivery.raw(
            "DELETE FROM core_event_delivery WHERE status <> 'pending' AND NOT EXISTS "
            "(SELECT 1 FROM core_event e WHERE e.id = core_event_delivery.event)"
        )
    return len(gone)


async def receivable(actor: Actor, events: list[Event]) -> list[Event]:
    """The events ``actor`` may receive (webhooks of theirs, subscriptions): the event type's
    ``scope`` is required; then the type's ``visible`` rule decides, or by default the
    customer the event concerns must be visible to the actor (events without a customer
    and without a rule go to admins only). Undeclared events go to admins only."""
    from kehu.core.services.customers import visible_customer_ids

    if not events:
        return []
    if actor.role == "admin":
        return list(events)
    catalogue = current().event_types
    allowed: set[str] = set()
    by_rule: dict[Any, list[Event]] = {}
    by_customer: list[Event] = []
    for event in events:
        declared = catalogue.get(event.name)
        if declared is None or (declared.scope and not actor.can(declared.scope)):
            continue
        if declared.visible is not None:
            by_rule.setdefault(declared.visible, []).append(event)
        elif event.customer_id is not None and declared.scope:
            by_customer.append(event)
    for rule, group in by_rule.items():
        allowed |= await rule(actor, group)
    if by_customer:
        seen = await visible_customer_ids(
            actor, sorted({e.customer_id for e in by_customer if e.customer_id is not None})
        )
        allowed |= {e.id for e in by_customer if e.customer_id in seen}
    return [e for e in events if e.id in allowed]
