"""Keyset (cursor) pagination over Piccolo select queries."""

import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from piccolo.columns import Column
from piccolo.query import Select

from kehu.core.errors import ValidationFailed


@dataclass
class Page:
    rows: list[dict[str, Any]]
    has_next: bool
    cursors: list[str]


def _dump(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _load(value: Any) -> Any:
    if isinstance(value, dict) and "dt" in value:
        return datetime.fromisoformat(value["dt"])
    if isinstance(value, dict) and "d" in value:
        return date.fromisoformat(value["d"])
    return value


def encode_cursor(sort_name: str, sort_value: Any, pk: int) -> str:
    """Opaque cursor naming its sort key, so it cannot be replayed against another order."""
    raw = json.dumps([sort_name, _dump(sort_value), pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort_name: str) -> tuple[Any, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, value, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if name != sort_name or not isinstance(pk, int) or isinstance(pk, bool):
            raise ValueError
        return _load(value), pk
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed("Invalid cursor", field="after") from None


def check_first(first: int, maximum: int) -> None:
    if not 1 <= first <= maximum:
        raise ValidationFailed(f"first must be between 1 and {maximum}, got {first}", field="first")


async def keyset_page(
    query: Select,
    *,
    sort: Column,
    pk: Column,
    descending: bool,
    first: int,
    after: str | None,
    maximum: int = 100,
) -> Page:
    """Fetch ``first`` rows after the ``after`` cursor, ordered by (sort, pk)."""
    check_first(first, maximum)
    sort_name, pk_name = sort._meta.name, pk._meta.name
    if after:
        value, last_pk = decode_cursor(after, sort_name)
        if not isinstance(value, sort.value_type) or isinstance(value, bool):
            # a forged cursor, or NULL (sort columns are NOT NULL)
            raise ValidationFailed("Invalid cursor", field="after")
        if descending:
            query = query.where((sort < value) | ((sort == value) & (pk < last_pk)))
        else:
            query = query.where((sort > value) | ((sort == value) & (pk > last_pk)))
    query = query.order_by(sort, pk, ascending=not descending).limit(first + 1)
    rows = await query
    has_next = len(rows) > first
    rows = rows[:first]
    cursors = [encode_cursor(sort_name, r[sort_name], r[pk_name]) for r in rows]
    return Page(rows, has_next, cursors)


async def newest_first(
    table: Any, conditions: list[Any], *, first: int, after: str | None
) -> tuple[Page, Callable[[], Awaitable[int]]]:
    """A page of ``table``'s rows matching ``conditions``, newest (highest id) first, and a
    counter run only when ``totalCount`` is asked for."""
    from kehu.core.context import current

    query, count = table.select(), table.count()
    for condition in conditions:
        query, count = query.where(condition), count.where(condition)
    page = await keyset_page(
        query,
        sort=table.id,
        pk=table.id,
        descending=True,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )

    async def counter() -> int:
        return await count

    return page, counter
