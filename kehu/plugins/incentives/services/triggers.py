"""Automatic recomputation when source data changes (called from the hook implementations,
after commit): the settlement periods containing the source dates and today are recomputed
with the system actor, so the ledger follows wins, invoices, payments, refunds and credits.
Recomputation reconciles the ledger with the source tables, so delivering an event again (a
retry, a replay) changes nothing: the handlers are idempotent by construction."""

from datetime import UTC, date
from typing import Any

from kehu.core.context import current
from kehu.core.permissions import system_actor
from kehu.core.services.common import now
from kehu.plugins.incentives.services import periods
from kehu.plugins.incentives.services.ledger import recompute, settlement_kind
from kehu.plugins.incentives.tables import Plan


async def recompute_days(days: list[date | None]) -> list[str]:
    """Recompute the settlement periods containing ``days`` (and today); nothing without
    plans or when ``auto_recompute`` is off. Returns the recomputed period keys."""
    if not current().plugin_settings("incentives").auto_recompute:
        return []
    if not await Plan.exists():
        return []
    kind = settlement_kind()
    keys = sorted({periods.containing(d, kind).key for d in [*days, now().date()] if d})
    for key in keys:
        await recompute(system_actor(), key)
    return keys


async def _first(table: Any, column: str, *where: Any) -> date | None:
    row = (
        await table.select(getattr(table, column))
        .where(*where)
        .order_by(table.id, ascending=False)
        .first()
    )
    return row[column] if row else None


async def on_won(opportunity_id: int) -> list[str]:
    """The period the deal was won in (its ``closed_at``: a retried or replayed delivery may
    come in a later period) and today's."""
    from kehu.plugins.pipeline.tables import Opportunity

    closed = await _first(Opportunity, "closed_at", Opportunity.id == opportunity_id)
    return await recompute_days([closed.astimezone(UTC).date() if closed else None])


async def on_invoice(invoice_id: int) -> list[str]:
    from kehu.plugins.contracts.tables import Invoice

    return await recompute_days([await _first(Invoice, "issued_on", Invoice.id == invoice_id)])


async def on_payment(payment_id: int) -> list[str]:
    from kehu.plugins.contracts.tables import Allocation, Payment

    return await recompute_days(
        [
            await _first(Payment, "received_on", Payment.id == payment_id),
            await _first(Allocation, "applied_on", Allocation.payment == payment_id),
        ]
    )


async def on_refund(payment_id: int) -> list[str]:
    from kehu.plugins.contracts.tables import Credit

    return await recompute_days(
        [await _first(Credit, "issued_on", Credit.payment == payment_id, Credit.kind == "refund")]
    )


async def on_credit(credit_id: int) -> list[str]:
    from kehu.plugins.contracts.tables import Credit

    return await recompute_days([await _first(Credit, "issued_on", Credit.id == credit_id)])
