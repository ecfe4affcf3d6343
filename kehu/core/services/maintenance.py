"""Dynamic maintenance: customers with no activity for N days (stale records)."""

from datetime import timedelta
from typing import Any

from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.core.services.customers import customer_scope
from kehu.core.tables import Activity, ActivityKind, ActivityStatus, Customer

STALE_TASK = "stale_review"


async def stale_customers(actor: Actor, days: int, limit: int = 500) -> list[dict[str, Any]]:
    """Active customers without any activity in the last ``days`` days, oldest contact first."""
    actor.require("customer:read")
    cutoff = now() - timedelta(days=days)
    recent = Activity.select(Activity.customer).where(Activity.occurred_at >= cutoff)
    query = Customer.select(Customer.id, Customer.name, Customer.owner, Customer.team).where(
        Customer.archived_at.is_null(), Customer.created_at < cutoff, Customer.id.not_in(recent)
    )
    scope = customer_scope(actor)
    if scope is not None:
        query = query.where(scope)
    return await query.order_by(Customer.id).limit(limit)


async def plan_stale_reviews(actor: Actor, days: int) -> int:
    """Give each stale customer's owner one open review task (not duplicated)."""
    stale = await stale_customers(actor, days)
    open_tasks = await Activity.select(Activity.customer).where(
        Activity.related_type == STALE_TASK, Activity.status == ActivityStatus.planned
    )
    already = {r["customer"] for r in open_tasks}
    todo = [c for c in stale if c["id"] not in already and c["owner"] is not None]
    if not todo:
        return 0
    due = now() + timedelta(days=7)
    async with unit_of_work():
        rows = await Activity.insert(
            *[
                Activity(
                    customer=c["id"],
                    kind=ActivityKind.task,
                    status=ActivityStatus.planned,
                    subject=f"Review stale customer {c['name']}: no activity for {days} days",
                    due_at=due,
                    owner=c["owner"],
                    related_type=STALE_TASK,
                    related_id=c["id"],
                )
                for c in todo
            ]
        ).returning(Activity.id, Activity.customer)
        for row in rows:
            await record(
                actor,
                "created",
                "activity",
                row["id"],
                after={"customer": row["customer"], "related_type": STALE_TASK},
            )
    return len(rows)
