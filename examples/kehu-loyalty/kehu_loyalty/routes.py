"""A REST route next to GraphQL: ``GET /loyalty/customers/{id}`` with an API key.

The app provides the ``actor`` dependency (401 without a valid key) and turns Kehu's typed
errors into HTTP responses (NOT_FOUND → 404, FORBIDDEN → 403, ...).
"""

from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from kehu.sdk import Actor
from kehu_loyalty import services


@get("/loyalty/customers/{customer_id:int}", tags=["loyalty"])
async def customer_points(
    customer_id: FromPath[int], actor: NamedDependency[Actor]
) -> dict[str, Any]:
    """A customer's loyalty balance and latest transactions."""
    points = await services.balance(actor, customer_id)
    entries = await services.ledger(actor, customer_id, limit=10)
    return {
        "customerId": customer_id,
        "points": points,
        "ledger": [
            {
                "id": e["id"],
                "kind": e["kind"],
                "points": e["points"],
                "balanceAfter": e["balance_after"],
                "reason": e["reason"],
                "createdAt": e["created_at"].isoformat(),
            }
            for e in entries
        ],
    }
