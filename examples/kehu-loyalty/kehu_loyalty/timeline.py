"""Ledger rows in the customer timeline (``kehu_timeline_entries``)."""

from datetime import datetime

from kehu.sdk import TimelineEntry
from kehu_loyalty.services.common import PLUGIN
from kehu_loyalty.tables import LoyaltyLedger


async def timeline_entries(
    customer_id: int, before: datetime | None, limit: int
) -> list[TimelineEntry]:
    """Ledger rows as customer timeline entries, newest first, at or before ``before`` (the
    timeline service checks visibility and drops entries it returned already)."""
    query = LoyaltyLedger.select().where(LoyaltyLedger.customer == customer_id)
    if before is not None:
        query = query.where(LoyaltyLedger.created_at <= before)
    rows = await query.order_by(LoyaltyLedger.created_at, LoyaltyLedger.id, ascending=False).limit(
        limit
    )
    return [
        TimelineEntry(
            at=r["created_at"],
            kind=f"loyalty.{r['kind']}",
            title=f"{r['points']:+d} loyalty points",
            body=r["reason"],
            source=PLUGIN,
            entity="loyalty_entry",
            entity_id=r["id"],
            actor_id=r["actor"],
            data={"points": r["points"], "balance": r["balance_after"], "source": r["source"]},
        )
        for r in rows
    ]
