"""Reading the audit log (writing happens in ``kehu.core.events.record``)."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from kehu.core.permissions import Actor
from kehu.core.services.customers import customer_scope
from kehu.core.tables import AuditLog, Customer


def audit_query(
    actor: Actor, entity: str | None = None, entity_id: int | None = None
) -> tuple[Any, Callable[[], Awaitable[int]]]:
    """A select over the audit log (admins, managers) and a counter for the same filter.
    Actors without "all" visibility see only rows tied to customers they may see."""
    actor.require("audit:read")
    conditions = []
    scope = customer_scope(actor)
    if scope is not None:  # only the history of customers the actor may see
        conditions.append(AuditLog.customer.is_in(Customer.select(Customer.id).where(scope)))
    if entity is not None:
        conditions.append(AuditLog.entity == entity)
    if entity_id is not None:
        conditions.append(AuditLog.entity_id == entity_id)
    query, count = AuditLog.select(), AuditLog.count()
    for condition in conditions:
        query, count = query.where(condition), count.where(condition)

    async def counter() -> int:
        return await count

    return query, counter


def loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
