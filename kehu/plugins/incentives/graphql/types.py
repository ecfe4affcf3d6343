"""Incentives GraphQL output types: targets and attainment, commission plans, ledger lines,
incentive events, statements, leaderboards, scorecards and payout runs.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup."""

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from kehu.core.graphql.base import Money, connection, encode_id, gql_enum
from kehu.core.graphql.types import UserRef
from kehu.core.money import Money as MoneyValue
from kehu.plugins.incentives import tables as t
from kehu.plugins.incentives.services import plans
from kehu.plugins.incentives.services import targets as tg
from kehu.plugins.incentives.services.actuals import MONEY_METRICS

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


CommissionLineConnection = connection("CommissionLine", CommissionLineType)

IncentiveEventConnection = connection("IncentiveEvent", IncentiveEventType)
