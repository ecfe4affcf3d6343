"""Core DataLoader batch functions: ``batch(context, keys) -> results in key order``."""

from typing import Any

from kehu.core.graphql.types import composed
from kehu.core.services import activities, contacts, customers
from kehu.core.tables import Team, User


async def _by_id(table: Any, keys: list[int]) -> dict[int, dict[str, Any]]:
    rows = await table.select().where(table.id.is_in(list(set(keys))))
    return {r["id"]: r for r in rows}


async def load_users(ctx: Any, keys: list[int]) -> list[Any]:
    rows = await _by_id(User, keys) if ctx.actor.can("user:read") else {}
    return [composed("User").from_row(rows[k]) if k in rows else None for k in keys]


async def load_teams(ctx: Any, keys: list[int]) -> list[Any]:
    rows = await _by_id(Team, keys) if ctx.actor.can("user:read") else {}
    return [composed("Team").from_row(rows[k]) if k in rows else None for k in keys]


async def load_customers(ctx: Any, keys: list[int]) -> list[Any]:
    rows = await customers.customers_by_ids(ctx.actor, keys)
    return [composed("Customer").from_row(rows[k]) if k in rows else None for k in keys]


async def load_contacts(ctx: Any, keys: list[int]) -> list[Any]:
    rows = await contacts.contacts_by_ids(ctx.actor, keys)
    return [composed("Contact").from_row(rows[k]) if k in rows else None for k in keys]


async def load_activities(ctx: Any, keys: list[int]) -> list[Any]:
    rows = await activities.activities_by_ids(ctx.actor, keys)
    return [composed("Activity").from_row(rows[k]) if k in rows else None for k in keys]


async def load_tags(ctx: Any, keys: list[int]) -> list[list[str]]:
    tags = await customers.tags_by_customer(keys)
    return [tags[k] for k in keys]


async def load_contacts_by_customer(ctx: Any, keys: list[int]) -> list[list[Any]]:
    rows = await contacts.contacts_by_customer(keys)
    make = composed("Contact").from_row
    return [[make(r) for r in rows[k]] for k in keys]


async def load_recent_activities(ctx: Any, keys: list[tuple[int, int]]) -> list[list[Any]]:
    """Keys are ``(customer_id, limit)``; one query per distinct limit."""
    make = composed("Activity").from_row
    by_limit: dict[int, list[int]] = {}
    for customer_id, limit in keys:
        by_limit.setdefault(limit, []).append(customer_id)
    found = {
        limit: await activities.recent_activities(ids, limit) for limit, ids in by_limit.items()
    }
    return [[make(r) for r in found[limit][cid]] for cid, limit in keys]


async def load_activity_pages(ctx: Any, keys: list[tuple[int, int]]) -> list[Any]:
    """Keys are ``(customer_id, first)``: first pages of activities, one query per ``first``."""
    by_first: dict[int, list[int]] = {}
    for customer_id, first in keys:
        by_first.setdefault(first, []).append(customer_id)
    found = {
        first: await activities.first_pages(ctx.actor, ids, first)
        for first, ids in by_first.items()
    }
    return [found[first][cid] for cid, first in keys]


async def load_activity_counts(ctx: Any, keys: list[int]) -> list[int]:
    counts = await activities.counts_by_customer(ctx.actor, keys)
    return [counts[k] for k in keys]


CORE_LOADERS = {
    "user": load_users,
    "team": load_teams,
    "customer": load_customers,
    "contact": load_contacts,
    "activity": load_activities,
    "tags": load_tags,
    "contacts_by_customer": load_contacts_by_customer,
    "recent_activities": load_recent_activities,
    "activity_pages": load_activity_pages,
    "activity_counts": load_activity_counts,
}
