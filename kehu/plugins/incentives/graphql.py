"""Incentives GraphQL: targets with live attainment, commission plans, ledger lines,
statements, leaderboards, incentive events, scorecards, payout runs, and their mutations.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
Tables are imported as ``t`` so that no table shares a name with a GraphQL type here.
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from kehu.core.errors import Forbidden
from kehu.core.graphql.base import (
    Money,
    MoneyInput,
    UserError,
    connection,
    encode_id,
    gql_enum,
    make_connection,
    payload,
    pk_of,
)
from kehu.core.money import Money as MoneyValue
from kehu.plugins.incentives import tables as t
from kehu.plugins.incentives.services import events, ledger, plans, scorecards, statements
from kehu.plugins.incentives.services import targets as tg
from kehu.plugins.incentives.services.actuals import MONEY_METRICS, available_metrics

UserRef = Annotated["User", strawberry.lazy("kehu.core.graphql.types")]  # noqa: F821

BasisEnum = gql_enum(t.Basis, "CommissionBasis", "WON, INVOICED or COLLECTED (回款) amounts")
LineKindEnum = gql_enum(t.LineKind, "CommissionLineKind")
EventKindEnum = gql_enum(t.EventKind, "IncentiveEventKind")
EventStatusEnum = gql_enum(t.EventStatus, "IncentiveEventStatus")


def _money(minor: int | None, currency: str) -> Money | None:
    return None if minor is None or not currency else Money.of(MoneyValue(minor, currency))


async def _user(info: strawberry.Info, pk: int | None) -> Any:
    return None if pk is None else await info.context.loader("user").load(pk)


@strawberry.type(description="Live attainment of a target: actual ÷ target.")
class TargetAttainment:
    actual: Decimal = strawberry.field(description="Money in major units, or a count/ratio.")
    actual_money: Money | None
    ratio: Decimal | None = strawberry.field(description="1.0 = 100 %; null without data.")


@strawberry.type(
    description="A SMART target for a user, team, company, region, product or "
    "channel over a period."
)
class IncentiveTarget:
    pk: strawberry.Private[int]
    user_pk: strawberry.Private[int | None]
    id: strawberry.ID
    database_id: int
    metric: str
    scope: str
    team_id: strawberry.ID | None
    dimension: str
    period: str
    start: dt.date
    end: dt.date
    amount: Money | None
    value: Decimal | None
    parent_id: strawberry.ID | None
    attainment: TargetAttainment | None

    @classmethod
    def of(cls, row: dict[str, Any], att: tg.Attainment | None = None) -> "IncentiveTarget":
        attainment = None
        if att is not None:
            actual = att.actual
            money = row["metric"] in MONEY_METRICS and actual is not None
            attainment = TargetAttainment(
                actual=(
                    MoneyValue(actual.minor, actual.currency or row["currency"]).amount
                    if money
                    else (actual.number if actual else Decimal(0))
                ),
                actual_money=_money(actual.minor, actual.currency or row["currency"])
                if money
                else None,
                ratio=att.ratio,
            )
        return cls(
            pk=row["id"],
            user_pk=row["user"],
            id=encode_id("IncentiveTarget", row["id"]),
            database_id=row["id"],
            metric=row["metric"],
            scope=row["scope"],
            team_id=encode_id("Team", row["team"]) if row["team"] else None,
            dimension=row["dimension"],
            period=row["period"],
            start=row["start"],
            end=row["end"],
            amount=_money(row["amount_minor"], row["currency"]),
            value=Decimal(row["value"]) if row["value"] else None,
            parent_id=encode_id("IncentiveTarget", row["parent"]) if row["parent"] else None,
            attainment=attainment,
        )

    @strawberry.field
    async def user(self, info: strawberry.Info) -> UserRef | None:
        return await _user(info, self.user_pk)

    @strawberry.field(
        description="Empty when the children (if any) sum exactly to this "
        "target; otherwise what is wrong."
    )
    async def decomposition_problems(self, info: strawberry.Info) -> list[str]:
        return await tg.check_decomposition(info.context.actor, self.pk)


@strawberry.type
class CommissionTier:
    from_attainment: Decimal = strawberry.field(description="0.8 = from 80 % attainment")
    rate: Decimal = strawberry.field(description="0.05 = 5 %")


@strawberry.type
class RoleSplit:
    role: str
    percent: Decimal


@strawberry.type(description="A commission plan: basis, tiers by attainment, cap, splits.")
class CommissionPlan:
    id: strawberry.ID
    database_id: int
    name: str
    basis: BasisEnum
    currency: str
    tiers: list[CommissionTier]
    splits: list[RoleSplit]
    cap: Money | None
    effective_from: dt.date
    effective_to: dt.date | None
    attainment_metric: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> "CommissionPlan":
        return cls(
            id=encode_id("CommissionPlan", row["id"]),
            database_id=row["id"],
            name=row["name"],
            basis=BasisEnum(row["basis"]),
            currency=row["currency"],
            tiers=[
                CommissionTier(from_attainment=x.start, rate=x.rate) for x in plans.tiers_of(row)
            ],
            splits=[RoleSplit(role=k.upper(), percent=v) for k, v in plans.splits_of(row).items()],
            cap=_money(row["cap_minor"], row["currency"]),
            effective_from=row["effective_from"],
            effective_to=row["effective_to"],
            attainment_metric=row["attainment_metric"],
        )


@strawberry.type(name="CommissionLine", description="A commission ledger line with provenance.")
class CommissionLineType:
    user_pk: strawberry.Private[int]
    id: strawberry.ID
    database_id: int
    period: str
    source_period: str
    role: str
    kind: LineKindEnum
    source_key: str
    source_ref: str
    source_date: dt.date
    plan_id: strawberry.ID | None
    base: Money
    share: Decimal | None = strawberry.field(description="Percent of the source's base.")
    rate: Decimal | None
    tier: str
    amount: Money
    explanation: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> "CommissionLineType":
        return cls(
            user_pk=row["user"],
            id=encode_id("CommissionLine", row["id"]),
            database_id=row["id"],
            period=row["period"],
            source_period=row["source_period"],
            role=row["role"].upper(),
            kind=LineKindEnum(row["kind"]),
            source_key=row["source_key"],
            source_ref=row["source_ref"],
            source_date=row["source_date"],
            plan_id=encode_id("CommissionPlan", row["plan"]) if row["plan"] else None,
            base=Money.of(MoneyValue(row["base_minor"], row["currency"])),
            share=Decimal(row["share"]) if row["share"] else None,
            rate=Decimal(row["rate"]) if row["rate"] else None,
            tier=row["tier"],
            amount=Money.of(MoneyValue(row["amount_minor"], row["currency"])),
            explanation=row["explanation"],
        )

    @strawberry.field
    async def user(self, info: strawberry.Info) -> UserRef | None:
        return await _user(info, self.user_pk)


@strawberry.type(
    name="IncentiveEvent",
    description="A bonus, allowance, honour or penalty, approved by a manager.",
)
class IncentiveEventType:
    user_pk: strawberry.Private[int]
    id: strawberry.ID
    database_id: int
    kind: EventKindEnum
    subtype: str
    period: str
    amount: Money | None
    reason: str
    status: EventStatusEnum
    decided_at: dt.datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> "IncentiveEventType":
        return cls(
            user_pk=row["user"],
            id=encode_id("IncentiveEvent", row["id"]),
            database_id=row["id"],
            kind=EventKindEnum(row["kind"]),
            subtype=row["subtype"],
            period=row["period"],
            amount=_money(row["amount_minor"], row["currency"]),
            reason=row["reason"],
            status=EventStatusEnum(row["status"]),
            decided_at=row["decided_at"],
        )

    @strawberry.field
    async def user(self, info: strawberry.Info) -> UserRef | None:
        return await _user(info, self.user_pk)


@strawberry.type
class StatementTotal:
    kind: str
    amount: Money


@strawberry.type(description="A user's commission statement for a settlement period.")
class CommissionStatement:
    user_pk: strawberry.Private[int]
    period: str
    locked: bool
    lines: list[CommissionLineType]
    incentive_events: list[IncentiveEventType]
    totals: list[StatementTotal]
    total: Money

    @strawberry.field
    async def user(self, info: strawberry.Info) -> UserRef | None:
        return await _user(info, self.user_pk)


@strawberry.type
class LeaderboardEntry:
    user_pk: strawberry.Private[int]
    rank: int
    actual: Decimal
    attainment: Decimal | None
    commission: Money | None = strawberry.field(
        description="Only your own, unless you are a manager, admin or finance."
    )

    @strawberry.field
    async def user(self, info: strawberry.Info) -> UserRef | None:
        return await _user(info, self.user_pk)


@strawberry.type
class ScorecardItem:
    metric: str
    actual: Decimal
    target: Decimal | None
    score: Decimal
    weight: Decimal


@strawberry.type
class Scorecard:
    period: str
    total: Decimal
    items: list[ScorecardItem]


@strawberry.type
class PayoutRun:
    period: str
    total: Money | None
    lines: int
    locked_at: dt.datetime


@strawberry.type
class RecomputeSummary:
    period: str
    created: int
    updated: int
    deleted: int
    unchanged: int


def _scale(metric: str, value: Decimal, currency: str) -> Decimal:
    return MoneyValue(int(value), currency or "CNY").amount if metric in MONEY_METRICS else value


def _pk(gid: str | None, kind: str, field: str) -> int | None:
    return pk_of(gid, kind, field) if gid else None


CommissionLineConnection = connection("CommissionLine", CommissionLineType)
IncentiveEventConnection = connection("IncentiveEvent", IncentiveEventType)


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


@strawberry.input
class TargetInput:
    metric: str
    period: str = strawberry.field(description="2026, 2026-Q3 or 2026-07")
    scope: str = "user"
    user_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    dimension: str | None = None
    amount: MoneyInput | None = None
    value: Decimal | None = None
    note: str | None = None


@strawberry.input
class WeightInput:
    key: str = strawberry.field(description="A period key (2026-Q1) or a user ID")
    weight: Decimal


@strawberry.input
class DecomposeTargetInput:
    target_id: strawberry.ID
    by: str = strawberry.field(description="period or members")
    weights: list[WeightInput] | None = None


@strawberry.input
class TierInput:
    from_attainment: Decimal
    rate: Decimal


@strawberry.input
class SplitInput:
    role: str
    percent: Decimal


@strawberry.input
class CommissionPlanInput:
    name: str
    basis: BasisEnum
    effective_from: dt.date
    effective_to: dt.date | None = None
    currency: str = "CNY"
    rate: Decimal | None = strawberry.field(default=None, description="A flat rate")
    tiers: list[TierInput] | None = None
    splits: list[SplitInput] | None = None
    cap: MoneyInput | None = None
    attainment_metric: str | None = None


@strawberry.input
class AssignPlanInput:
    plan_id: strawberry.ID
    user_id: strawberry.ID | None = None
    team_id: strawberry.ID | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None


@strawberry.input
class IncentiveEventInput:
    kind: EventKindEnum
    subtype: str
    user_id: strawberry.ID
    period: str
    reason: str
    amount: MoneyInput | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeat a request safely: the same key records it once."
    )


@strawberry.input
class DecideIncentiveEventInput:
    id: strawberry.ID
    approve: bool
    note: str | None = None


@strawberry.type
class TargetPayload:
    target: IncentiveTarget | None
    errors: list[UserError]


@strawberry.type
class TargetsPayload:
    targets: list[IncentiveTarget] | None
    errors: list[UserError]


@strawberry.type
class DeletedTargetPayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]


@strawberry.type
class CommissionPlanPayload:
    plan: CommissionPlan | None
    errors: list[UserError]


@strawberry.type
class RecomputePayload:
    result: RecomputeSummary | None
    errors: list[UserError]


@strawberry.type
class PayoutPayload:
    run: PayoutRun | None
    errors: list[UserError]


@strawberry.type
class IncentiveEventPayload:
    event: IncentiveEventType | None
    errors: list[UserError]


def _target_data(data: TargetInput) -> dict[str, Any]:
    return {
        "metric": data.metric,
        "period": data.period,
        "scope": data.scope,
        "user": _pk(data.user_id, "User", "userId"),
        "team": _pk(data.team_id, "Team", "teamId"),
        "dimension": data.dimension,
        "amount": data.amount.to_value() if data.amount else None,
        "value": data.value,
        "note": data.note,
    }


def _weights(data: DecomposeTargetInput) -> dict[Any, Decimal] | None:
    if not data.weights:
        return None
    out: dict[Any, Decimal] = {}
    for w in data.weights:
        key: Any = w.key
        if data.by == "members":
            key = pk_of(w.key, "User", "weights")
        out[key] = w.weight
    return out


@strawberry.type
class IncentivesMutation:
    @strawberry.mutation(description="Create a target (incentive:manage).")
    async def create_incentive_target(
        self, info: strawberry.Info, input: TargetInput
    ) -> TargetPayload:
        async def work() -> IncentiveTarget:
            return IncentiveTarget.of(
                await tg.create_target(info.context.actor, _target_data(input))
            )

        return await payload(TargetPayload, "target", work)

    @strawberry.mutation(
        description="Split a target into sub-periods or team members; the "
        "parts sum exactly to the whole."
    )
    async def decompose_incentive_target(
        self, info: strawberry.Info, input: DecomposeTargetInput
    ) -> TargetsPayload:
        async def work() -> list[IncentiveTarget]:
            rows = await tg.decompose(
                info.context.actor,
                pk_of(input.target_id, "IncentiveTarget", "targetId"),
                by=input.by,
                weights=_weights(input),
            )
            return [IncentiveTarget.of(r) for r in rows]

        return await payload(TargetsPayload, "targets", work)

    @strawberry.mutation(description="Create a commission plan (incentive:manage).")
    async def create_commission_plan(
        self, info: strawberry.Info, input: CommissionPlanInput
    ) -> CommissionPlanPayload:
        async def work() -> CommissionPlan:
            data = {
                "name": input.name,
                "basis": input.basis.value,
                "currency": input.currency,
                "effective_from": input.effective_from,
                "effective_to": input.effective_to,
                "rate": input.rate,
                "attainment_metric": input.attainment_metric,
                "tiers": [{"from": x.from_attainment, "rate": x.rate} for x in input.tiers]
                if input.tiers
                else None,
                "splits": {s.role: s.percent for s in input.splits} if input.splits else None,
                "cap_minor": input.cap.to_value().minor if input.cap else None,
            }
            return CommissionPlan.of(await plans.create_plan(info.context.actor, data))

        return await payload(CommissionPlanPayload, "plan", work)

    @strawberry.mutation(description="Assign a plan to a user or a team.")
    async def assign_commission_plan(
        self, info: strawberry.Info, input: AssignPlanInput
    ) -> CommissionPlanPayload:
        async def work() -> CommissionPlan:
            plan_id = pk_of(input.plan_id, "CommissionPlan", "planId")
            await plans.assign_plan(
                info.context.actor,
                plan_id,
                user_id=_pk(input.user_id, "User", "userId"),
                team_id=_pk(input.team_id, "Team", "teamId"),
                effective_from=input.effective_from,
                effective_to=input.effective_to,
            )
            return CommissionPlan.of(await plans.get_plan(info.context.actor, plan_id))

        return await payload(CommissionPlanPayload, "plan", work)

    @strawberry.mutation(description="End a plan on a date (inclusive).")
    async def end_commission_plan(
        self, info: strawberry.Info, plan_id: strawberry.ID, effective_to: dt.date
    ) -> CommissionPlanPayload:
        async def work() -> CommissionPlan:
            return CommissionPlan.of(
                await plans.end_plan(
                    info.context.actor, pk_of(plan_id, "CommissionPlan", "planId"), effective_to
                )
            )

        return await payload(CommissionPlanPayload, "plan", work)

    @strawberry.mutation(description="Delete a target and its decomposition.")
    async def delete_incentive_target(
        self, info: strawberry.Info, target_id: strawberry.ID
    ) -> DeletedTargetPayload:
        async def work() -> strawberry.ID:
            pk = await tg.delete_target(
                info.context.actor, pk_of(target_id, "IncentiveTarget", "targetId")
            )
            return encode_id("IncentiveTarget", pk)

        return await payload(DeletedTargetPayload, "deleted_id", work)

    @strawberry.mutation(description="Recompute a settlement period's ledger (idempotent).")
    async def recompute_commissions(self, info: strawberry.Info, period: str) -> RecomputePayload:
        async def work() -> RecomputeSummary:
            r = await ledger.recompute(info.context.actor, period)
            return RecomputeSummary(
                period=r.period,
                created=r.created,
                updated=r.updated,
                deleted=r.deleted,
                unchanged=r.unchanged,
            )

        return await payload(RecomputePayload, "result", work)

    @strawberry.mutation(description="Pay out and lock a period (commission:payout).")
    async def run_commission_payout(self, info: strawberry.Info, period: str) -> PayoutPayload:
        async def work() -> PayoutRun:
            r = await ledger.run_payout(info.context.actor, period)
            return PayoutRun(
                period=r["period"],
                total=_money(r["total_minor"], r["currency"]),
                lines=r["lines"],
                locked_at=r["locked_at"],
            )

        return await payload(PayoutPayload, "run", work)

    @strawberry.mutation(description="Propose a bonus, allowance, honour or penalty.")
    async def propose_incentive_event(
        self, info: strawberry.Info, input: IncentiveEventInput
    ) -> IncentiveEventPayload:
        async def work() -> IncentiveEventType:
            row = await events.propose(
                info.context.actor,
                {
                    "kind": input.kind.value,
                    "subtype": input.subtype,
                    "user": pk_of(input.user_id, "User", "userId"),
                    "period": input.period,
                    "reason": input.reason,
                    "idempotency_key": input.idempotency_key,
                    "amount": input.amount.to_value() if input.amount else None,
                },
            )
            return IncentiveEventType.of(row)

        return await payload(IncentiveEventPayload, "event", work)

    @strawberry.mutation(description="Approve or reject an incentive event (a manager).")
    async def decide_incentive_event(
        self, info: strawberry.Info, input: DecideIncentiveEventInput
    ) -> IncentiveEventPayload:
        async def work() -> IncentiveEventType:
            row = await events.decide(
                info.context.actor,
                pk_of(input.id, "IncentiveEvent", "id"),
                input.approve,
                input.note or "",
            )
            return IncentiveEventType.of(row)

        return await payload(IncentiveEventPayload, "event", work)


TYPES: list[type] = []
