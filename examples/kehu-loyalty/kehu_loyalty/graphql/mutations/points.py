"""Awarding and redeeming points. ``@mutation`` derives ``LoyaltyPointsPayload { customer
errors }``; a ``ValidationFailed`` (e.g. ``INSUFFICIENT_POINTS``) comes back in ``errors``."""

from typing import Any

import strawberry

from kehu.sdk import CustomerRef, composed, mutation, pk_of
from kehu_loyalty import services
from kehu_loyalty.graphql.inputs import LoyaltyPointsInput

POINTS = {"payload": "LoyaltyPointsPayload", "field": "customer"}


async def _change(info: strawberry.Info, change: services.Change, data: LoyaltyPointsInput) -> Any:
    result = await change(
        info.context.actor,
        pk_of(data.customer_id, "Customer", "customerId"),
        data.points,
        data.reason,
        source="api",
        idempotency_key=data.idempotency_key,
    )
    return composed("Customer").from_row(result.customer)


@strawberry.type
class PointsMutations:
    @mutation(description="Give a customer loyalty points (scope loyalty:award).", **POINTS)
    async def award_loyalty_points(
        self, info: strawberry.Info, input: LoyaltyPointsInput
    ) -> CustomerRef:
        return await _change(info, services.award_points, input)

    @mutation(
        description="Spend loyalty points; more than the balance is an INSUFFICIENT_POINTS error.",
        **POINTS,
    )
    async def redeem_loyalty_points(
        self, info: strawberry.Info, input: LoyaltyPointsInput
    ) -> CustomerRef:
        return await _change(info, services.redeem_points, input)
