"""What the pipeline adds when core changes customers: timeline entries, merging two customers'
deals and leads, handing customers over."""

from datetime import datetime

from kehu.core.events import record
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.core.services.timeline import TimelineEntry
from kehu.core.tables import User
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import OPEN, PLUGIN, _visible
from kehu.plugins.pipeline.services.stages import stages_by_ids


async def timeline_entries(
    actor: Actor, customer_id: int, before: datetime | None, limit: int
) -> list[TimelineEntry]:
    """Stage history of the customer's visible opportunities as timeline entries."""
    if not actor.can("opportunity:read"):
        return []
    h, o = t.StageChange, t.Opportunity
    opps = {
        r["id"]: r
        for r in await _visible(
            o.select(o.id, o.name, o.currency).where(o.customer == customer_id), actor
        )
    }
    if not opps:
        return []
    query = h.select().where(h.opportunity.is_in(list(opps)))
    if before is not None:
        query = query.where(h.at <= before)
    rows = await query.order_by(h.at, h.id, ascending=False).limit(limit)
    stages = await stages_by_ids(
        [r["to_stage"] for r in rows] + [r["from_stage"] for r in rows if r["from_stage"]]
    )
    out = []
    for r in rows:
        opp = opps[r["opportunity"]]
        to = stages[r["to_stage"]]["name"]
        frm = stages[r["from_stage"]]["name"] if r["from_stage"] in stages else None
        title = {
            "created": f"Opportunity {opp['name']} created in {to}",
            "won": f"Opportunity {opp['name']} won",
            "lost": f"Opportunity {opp['name']} lost",
            "reopened": f"Opportunity {opp['name']} reopened in {to}",
        }.get(r["kind"], f"Opportunity {opp['name']}: {frm} → {to}")
        out.append(
            TimelineEntry(
                at=r["at"],
                kind=f"opportunity.{r['kind']}",
                title=title,
                body=r["note"],
                source=PLUGIN,
                entity="opportunity",
                entity_id=r["opportunity"],
                actor_id=r["actor"],
                data={"from_stage": frm, "to_stage": to, "history_id": r["id"]},
            )
        )
    return out


async def merge_customers(actor: Actor, survivor_id: int, merged_id: int) -> None:
    """Re-point opportunities and leads of the merged customer (inside the merge's unit of
    work)."""
    moved = (
        await t.Opportunity.update({t.Opportunity.customer: survivor_id})
        .where(t.Opportunity.customer == merged_id)
        .returning(t.Opportunity.id)
    )
    leads = (
        await t.Lead.update({t.Lead.customer: survivor_id})
        .where(t.Lead.customer == merged_id)
        .returning(t.Lead.id)
    )
    if moved or leads:
        await record(
            actor,
            "customers_merged",
            "pipeline",
            None,
            None,
            {
                "merged_id": merged_id,
                "opportunities": [r["id"] for r in moved],
                "leads": [r["id"] for r in leads],
            },
            customer_id=survivor_id,
        )


async def reassign_customers(
    actor: Actor, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> None:
    """Handover: open opportunities of these customers (of ``from_user_id`` when given) go to
    the new owner and their team; closed deals keep their historical owner."""
    user = await User.select(User.team).where(User.id == to_user_id).first()
    o = t.Opportunity
    query = o.update(
        {
            o.owner: to_user_id,
            o.team: user["team"] if user else None,
            o.version: o.version + 1,
            o.updated_at: now(),
        }
    ).where(o.customer.is_in(customer_ids), o.status == OPEN)
    if from_user_id is not None:
        query = query.where(o.owner == from_user_id)
    moved = await query.returning(o.id, o.customer)
    for r in moved:
        await record(
            actor,
            "reassigned",
            "opportunity",
            r["id"],
            None,
            {"owner": to_user_id},
            customer_id=r["customer"],
        )
