"""The customer timeline: activities plus entries contributed by plugins."""

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kehu.core.context import current
from kehu.core.errors import ValidationFailed
from kehu.core.pagination import check_first
from kehu.core.permissions import Actor
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
        query = query.where(at <= before)
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


TIE_SLACK = 50  # entries sharing the cursor's timestamp that paging handles exactly


def _key(entry: TimelineEntry) -> tuple:
    return (entry.at, entry.source, entry.entity or "", entry.entity_id or 0, entry.kind)


def encode_timeline_cursor(entry: TimelineEntry) -> str:
    at, source, entity, entity_id, kind = _key(entry)
    raw = json.dumps([at.isoformat(), source, entity, entity_id, kind], ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_timeline_cursor(cursor: str) -> tuple:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, source, entity, entity_id, kind = json.loads(raw)
        return (datetime.fromisoformat(at), str(source), str(entity), int(entity_id), str(kind))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed("Invalid cursor", field="after") from None


@dataclass
class TimelinePage:
    entries: list[TimelineEntry]
    cursors: list[str]
    has_next: bool


async def customer_timeline(
    actor: Actor, customer_id: int, *, first: int = 50, after: str | None = None
) -> TimelinePage:
    """Entries of every plugin, newest first. Each source is asked for entries at or before
    the cursor's time; entries already returned (same time, earlier in the order) are
    dropped, so entries sharing a timestamp are neither skipped nor repeated."""
    check_first(first, current().settings.page_size_max)
    await get_customer(actor, customer_id)  # visibility
    cursor = decode_timeline_cursor(after) if after else None
    sources = await current().acall(
        "kehu_timeline_entries",
        actor=actor,
        customer_id=customer_id,
        before=cursor[0] if cursor else None,
        limit=first + 1 + (TIE_SLACK if cursor else 0),
    )
    entries = sorted((e for items in sources for e in items), key=_key, reverse=True)
    if cursor is not None:
        entries = [e for e in entries if _key(e) < cursor]
    page = entries[:first]
    return TimelinePage(page, [encode_timeline_cursor(e) for e in page], len(entries) > first)
