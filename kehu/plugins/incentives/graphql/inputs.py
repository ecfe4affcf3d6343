"""Incentives GraphQL inputs and the helpers that turn them into service arguments."""

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from kehu.core.graphql.base import MoneyInput, pk_of
from kehu.plugins.incentives.graphql.types import BasisEnum, EventKindEnum


def _pk(gid: str | None, kind: str, field: str) -> int | None:
    return pk_of(gid, kind, field) if gid else None


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
