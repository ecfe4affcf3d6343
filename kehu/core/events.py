"""Units of work: one write transaction with its audit rows and its domain events.

Events are written to the outbox (``core_event``) in the same transaction as the change, so a
rollback writes none and a crash after commit loses none; ``kehu.core.delivery`` hands them
to every subscriber at least once, right after commit and again after any failure.
"""

import contextlib
import contextvars
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from kehu.core.db import write_transaction
from kehu.core.permissions import Actor


@dataclass(frozen=True)
class Event:
    """A committed domain change, e.g. ``Event("customer.created", "customer", 7, ...)``.

    ``id`` is stable across every delivery attempt (handlers deduplicate on it; webhooks send
    it as ``webhook-id``); ``seq`` is the position in the outbox (commit order), set once the
    event is stored; ``version`` is the version of the data layout of this event name."""

    name: str
    entity: str
    entity_id: int | None
    actor_id: int | None
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    seq: int | None = None
    version: int = 1

    @property
    def customer_id(self) -> int | None:
        """The customer the event concerns (``data["customer"]``), if any."""
        value = self.data.get("customer")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def position(self) -> int:
        """``seq`` of an event read from the outbox (which always has one)."""
        if self.seq is None:
            raise RuntimeError(f"event {self.id} ({self.name}) is not stored yet")
        return self.seq

    @property
    def entity_key(self) -> str:
        """Events with the same key reach a subscriber in commit order."""
        return f"{self.entity}:{self.entity_id}"


_pending: contextvars.ContextVar[list[Event] | None] = contextvars.ContextVar(
    "kehu_pending_events", default=None
)


@contextlib.asynccontextmanager
async def unit_of_work() -> AsyncIterator[None]:
    """Run the block in one write transaction; its events are stored in the outbox in the
    same transaction and delivered after a successful commit. Nested units join the
    outermost one."""
    if _pending.get() is not None:
        yield
        return
    from kehu.core.context import current

    kehu = current()
    events: list[Event] = []
    stored: list[Event] = []
    token = _pending.set(events)
    try:
        async with write_transaction():
            yield
            if events:
                stored = await kehu.events.store(events)
    finally:
        _pending.reset(token)
    if stored:
        await kehu.events.committed(stored)


def emit(event: Event) -> None:
    """Queue an event for the outbox of the current unit of work."""
    pending = _pending.get()
    if pending is None:
        raise RuntimeError("emit() outside unit_of_work()")
    from kehu.core.context import current

    current().event_types.check(event)
    pending.append(event)


def to_jsonable(value: Any) -> Any:
    """Plain JSON data for audit snapshots (dates as ISO strings, Decimals as strings)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def record(
    actor: Actor,
    action: str,
    entity: str,
    entity_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    customer_id: int | None = None,
    event_data: dict[str, Any] | None = None,
) -> None:
    """Write the audit row for a change and queue the ``<entity>.<action>`` event.
    ``customer_id`` (derived for customers and rows with a ``customer`` key) ties the row to
    a customer, so the history is shown only to those who may see that customer.
    Must run inside ``unit_of_work()``."""
    from kehu.core.tables import AuditLog

    if _pending.get() is None:
        raise RuntimeError("record() outside unit_of_work()")
    if customer_id is None:
        if entity == "customer":
            customer_id = entity_id
        else:
            customer_id = (after or {}).get("customer") or (before or {}).get("customer")
    await AuditLog.insert(
        AuditLog(
            actor=actor.user_id,
            actor_name=actor.username,
            action=action,
            entity=entity,
            entity_id=entity_id,
            customer=customer_id,
            before=to_jsonable(before) if before else None,
            after=to_jsonable(after) if after else None,
        )
    )
    data = to_jsonable(event_data if event_data is not None else (after or {}))
    if customer_id is not None:
        data.setdefault("customer", customer_id)
    emit(Event(f"{entity}.{action}", entity, entity_id, actor.user_id, data))
