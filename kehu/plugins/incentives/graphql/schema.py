"""Incentives GraphQL, table of contents: the root queries and what ``plugin.py`` hands to Kehu."""

import strawberry

from kehu.core.errors import Forbidden
from kehu.core.graphql.base import Money, make_connection
from kehu.plugins.incentives.graphql.inputs import _pk
from kehu.plugins.incentives.graphql.mutations.events import IncentiveEventMutations
from kehu.plugins.incentives.graphql.mutations.ledger import LedgerMutations
from kehu.plugins.incentives.graphql.mutations.plans import PlanMutations
from kehu.plugins.incentives.graphql.mutations.targets import TargetMutations
from kehu.plugins.incentives.graphql.types import (
    CommissionLineConnection,
    CommissionLineType,
    CommissionPlan,
    CommissionStatement,
    EventStatusEnum,
    IncentiveEventConnection,
    IncentiveEventType,
    IncentiveTarget,
    LeaderboardEntry,
    PayoutRun,
    Scorecard,
    ScorecardItem,
    StatementTotal,
    _money,
    _scale,
)
from kehu.plugins.incentives.services import events, ledger, plans, scorecards, statements
from kehu.plugins.incentives.services import targets as tg
from kehu.plugins.incentives.services.actuals import available_metrics


@strawberry.type
class IncentivesQuery:
    @strawberry.field(description="Metrics usable for targets with the enabled plugins.")
    def incentive_metrics(self) -> list[str]:
        return available_metrics()

    @strawberry.field(description="Visible targets with live attainment.")
    async def incentive_targets(
        self,
        info: strawberry.Info,
        period: str | None = None,
        metric: str | None = None,
        user_id: strawberry.ID | None = None,
    ) -> list[IncentiveTarget]:
        actor = info.context.actor
        actor.require("incentive:read")
        rows = await tg.list_targets(actor, period, metric, _pk(user_id, "User", "userId"))
        return [IncentiveTarget.of(a.target, a) for a in await tg.attainments(actor, rows)]

    @strawberry.field
    async def commission_plans(self, info: strawberry.Info) -> list[CommissionPlan]:
        return [CommissionPlan.of(r) for r in await plans.list_plans(info.context.actor)]

    @strawberry.field(description="A user's statement (your own unless commission:read_all).")
    async def commission_statement(
        self, info: strawberry.Info, period: str, user_id: strawberry.ID | None = None
    ) -> CommissionStatement:
        actor = info.context.actor
        uid = _pk(user_id, "User", "userId") or actor.user_id
        if uid is None:
            raise Forbidden("userId is required for the system actor")
        st = await statements.statement(actor, uid, period)
        totals = [
            StatementTotal(kind=k, amount=Money.of(v)) for k, v in st.totals.items() if k != "total"
        ]
        return CommissionStatement(
            user_pk=uid,
            period=st.period,
            locked=st.locked,
            lines=[CommissionLineType.of(x) for x in st.lines],
            incentive_events=[IncentiveEventType.of(e) for e in st.events],
            totals=totals,
            total=Money.of(st.totals["total"]),
        )

    @strawberry.field(
        description="Ledger lines of a settlement period, newest first (yours, "
        "or anyone's with commission:read_all)."
    )
    async def commission_lines(
        self,
        info: strawberry.Info,
        period: str,
        user_id: strawberry.ID | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> CommissionLineConnection:
        page, count = await statements.lines(
            info.context.actor, period, _pk(user_id, "User", "userId"), first=first, after=after
        )
        return make_connection("CommissionLine", page, CommissionLineType.of, count)

    @strawberry.field(description="Ranking by a metric; others' commission only for managers.")
    async def incentive_leaderboard(
        self, info: strawberry.Info, period: str, metric: str, first: int = 20
    ) -> list[LeaderboardEntry]:
        rows = await statements.leaderboard(info.context.actor, period, metric, first)
        return [
            LeaderboardEntry(
                user_pk=s.user["id"],
                rank=s.rank,
                actual=_scale(metric, s.actual.number, s.actual.currency),
                attainment=s.attainment,
                commission=Money.of(s.commission),
            )
            for s in rows
        ]

    @strawberry.field(description="Incentive events you may see, newest first.")
    async def incentive_events(
        self,
        info: strawberry.Info,
        period: str | None = None,
        user_id: strawberry.ID | None = None,
        status: EventStatusEnum | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> IncentiveEventConnection:
        page, count = await events.list_events(
            info.context.actor,
            period=period,
            user_id=_pk(user_id, "User", "userId"),
            status=status.value if status else None,
            first=first,
            after=after,
        )
        return make_connection("IncentiveEvent", page, IncentiveEventType.of, count)

    @strawberry.field(description="Weighted KPI scorecard of a rep or support agent.")
    async def scorecard(
        self, info: strawberry.Info, period: str, user_id: strawberry.ID | None = None
    ) -> Scorecard:
        actor = info.context.actor
        uid = _pk(user_id, "User", "userId") or actor.user_id
        if uid is None:
            raise Forbidden("userId is required for the system actor")
        card = await scorecards.scorecard(actor, uid, period)
        return Scorecard(
            period=card.period,
            total=card.total,
            items=[
                ScorecardItem(
                    metric=i.metric,
                    actual=i.actual,
                    target=i.target,
                    score=i.score,
                    weight=i.weight,
                )
                for i in card.items
            ],
        )

    @strawberry.field
    async def commission_payout_runs(self, info: strawberry.Info) -> list[PayoutRun]:
        return [
            PayoutRun(
                period=r["period"],
                total=_money(r["total_minor"], r["currency"]),
                lines=r["lines"],
                locked_at=r["locked_at"],
            )
            for r in await ledger.payout_runs(info.context.actor)
        ]


NODE_TYPES: list[type] = []

QUERIES = [IncentivesQuery]
MUTATIONS = [TargetMutations, PlanMutations, LedgerMutations, IncentiveEventMutations]
__all__ = ["MUTATIONS", "NODE_TYPES", "QUERIES", "IncentivesQuery"]
