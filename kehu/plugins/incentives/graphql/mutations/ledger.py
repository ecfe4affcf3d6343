"""Commission ledger mutations: recompute a period, run a payout."""

import strawberry

from kehu.core.graphql.mutations import mutation
from kehu.plugins.incentives.graphql.types import PayoutRun, RecomputeSummary, _money
from kehu.plugins.incentives.services import ledger


@strawberry.type
class LedgerMutations:
    @mutation(
        description="Recompute a settlement period's ledger (idempotent).",
        payload="RecomputePayload",
        field="result",
    )
    async def recompute_commissions(self, info: strawberry.Info, period: str) -> RecomputeSummary:
        r = await ledger.recompute(info.context.actor, period)
        return RecomputeSummary(
            period=r.period,
            created=r.created,
            updated=r.updated,
            deleted=r.deleted,
            unchanged=r.unchanged,
        )

    @mutation(
        description="Pay out and lock a period (commission:payout).",
        payload="PayoutPayload",
        field="run",
    )
    async def run_commission_payout(self, info: strawberry.Info, period: str) -> PayoutRun:
        r = await ledger.run_payout(info.context.actor, period)
        return PayoutRun(
            period=r["period"],
            total=_money(r["total_minor"], r["currency"]),
            lines=r["lines"],
            locked_at=r["locked_at"],
        )
