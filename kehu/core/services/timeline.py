"""The customer timeline: activities plus entries contributed by plugins."""

import heapq
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kehu.core.pagination import check_first
from kehu.core.permissions import Actor
from kehu.core.runtime import current
from kehu.core.services.customers import get_customer
from kehu.core.tables import Activity


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a customer's history. ``source`` is the plugin, ``entity``/``entity_id``
    point at the record (e.g. ``opportunity``/7)."""

    at: datetime
    kind: str
    title: str
    source: str = "core"
    body: str = ""
    entity: str | None = None
    entity_id: int | None = None
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


async def activity_entries(
    customer_id: int, before: datetime | None, limit: int
) -> list[TimelineEntry]:
    at = Activity.occurred_at
    query = Activity.select().where(Activity.customer == customer_id, at.is_not_null())
    if before is not None:
        query = query.where(at < before)
    rows = await query.order_by(at, Activity.id, ascending=False).limit(limit)
    return [
        TimelineEntry(
            at=r["occurred_at"],
            kind=f"activity.{r['kind']}",
            title=r["subject"],
            body=r["body"],
            entity="activity",
            entity_id=r["id"],
            actor_id=r["owner"],
            data={"status": r["status"], "outcome": r["outcome"]},
        )
        for r in rows
    ]


async def customer_timeline(
    actor: Actor, customer_id: int, *, before: datetime | None = None, limit: int = 50
) -> list[TimelineEntry]:
    """Newest first; each plugin returns at most ``limit`` entries older than ``before`` and the
    merge keeps the newest ``limit``."""
    check_first(limit, current().settings.page_size_max)
    await get_customer(actor, customer_id)  # visibility
    sources = await current().acall(
        "kehu_timeline_entries", actor=actor, customer_id=customer_id, before=before, limit=limit
    )
    streams = [sorted(entries, key=lambda e: e.at, reverse=True) for _, entries in sources]
    merged = heapq.merge(*streams, key=lambda e: e.at, reverse=True)
    return [entry for _, entry in zip(range(limit), merged, strict=False)]
