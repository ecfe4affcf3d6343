"""Loyalty inputs."""

import strawberry


@strawberry.input
class LoyaltyPointsInput:
    customer_id: strawberry.ID
    points: int
    reason: str
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeat a request safely: the same key changes points once."
    )
