"""Automatic recomputation when source data changes (called from the hook implementations,
after commit): the settlement periods containing the source dates and today are recomputed
with the system actor, so the ledger follows wins, invoices, payments, refunds and credits.
Recomputation reconciles the ledger with the source tables, so delivering an event again (a
retry, a replay) changes nothing: the handlers are idempotent by construction."""

from datetime import date

from kehu.core.context import current
from kehu.core.permissions import system_actor
from kehu.core.services.common import now
from kehu.plugins.incentives.integrations import pipeline
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


async def on_won(opportunity_id: int) -> list[str]:
    """The period the deal was won in (its ``closed_at``: a retried or replayed delivery may
    come in a later period) and today's."""
    return await recompute_days([await pipeline.won_day(opportunity_id)])


async def on_reopened(opportunity_id: int, from_stage: str) -> list[str]:
    """A deal moved out of the won stage stops earning: recompute the current period (older
    periods on ``recomputeCommissions``)."""
    if not await pipeline.left_won_stage(opportunity_id, from_stage):
        return []
    return await recompute_days([])


async def on_money(day: date | None) -> list[str]:
    """An invoice, payment, allocation, refund or credit note dated ``day`` (contracts' hooks
    and events carry the date): that period and today's."""
    return await recompute_days([day])
