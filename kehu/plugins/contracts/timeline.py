"""Customer timeline entries: contracts created and signed, payments received."""

from datetime import datetime
from typing import Any

from kehu.core.money import Money
from kehu.core.services.timeline import TimelineEntry
from kehu.plugins.contracts.services import PLUGIN
from kehu.plugins.contracts.tables import Contract, Payment


async def _rows(
    table: Any, column: Any, customer_id: int, before: datetime | None, limit: int
) -> list[dict[str, Any]]:
    query = table.select().where(table.customer == customer_id, column.is_not_null())
    if before is not None:
        query = query.where(column <= before)
    return await query.order_by(column, table.id, ascending=False).limit(limit)


async def timeline_entries(
    customer_id: int, before: datetime | None, limit: int
) -> list[TimelineEntry]:
    """The newest ``limit`` contract and payment entries at or before ``before`` (the core
    timeline service checks visibility and merges the sources)."""
    entries = []
    for r in await _rows(Contract, Contract.created_at, customer_id, before, limit):
        entries.append(
            TimelineEntry(
                at=r["created_at"],
                kind="contract.created",
                source=PLUGIN,
                title=f"Contract {r['number']} drafted ({Money(r['total_minor'], r['currency'])})",
                body=r["title"],
                entity="contract",
                entity_id=r["id"],
                actor_id=r["owner"],
                data={"status": r["status"]},
            )
        )
    for r in await _rows(Contract, Contract.signed_at, customer_id, before, limit):
        entries.append(
            TimelineEntry(
                at=r["signed_at"],
                kind="contract.signed",
                source=PLUGIN,
                title=f"Contract {r['number']} signed ({Money(r['total_minor'], r['currency'])})",
                body=r["title"],
                entity="contract_signature",
                entity_id=r["id"],
                actor_id=r["owner"],
                data={"status": r["status"]},
            )
        )
    for r in await _rows(Payment, Payment.created_at, customer_id, before, limit):
        entries.append(
            TimelineEntry(
                at=r["created_at"],
                kind="payment.received",
                source=PLUGIN,
                title=f"Payment received: {Money(r['amount_minor'], r['currency'])} "
                f"({r['method']})",
                body=r["reference"],
                entity="payment",
                entity_id=r["id"],
                actor_id=r["created_by"],
                data={"received_on": r["received_on"].isoformat()},
            )
        )
    entries.sort(key=lambda e: (e.at, e.entity or "", e.entity_id or 0), reverse=True)
    return entries[:limit]
