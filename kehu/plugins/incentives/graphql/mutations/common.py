"""Payload types the incentives mutations share."""

import strawberry

from kehu.core.graphql.base import (
    UserError,
)
from kehu.plugins.incentives.graphql.types import (
    CommissionPlan,
    IncentiveEventType,
    IncentiveTarget,
    PayoutRun,
    RecomputeSummary,
)


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
