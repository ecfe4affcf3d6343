"""A REST route next to GraphQL: ``GET /loyalty/customers/{id}`` with an API key.

The app provides the ``actor`` dependency (401 without a valid key); Kehu's typed errors are
turned into HTTP errors here.
"""

from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from kehu.core.errors import Forbidden, NotFound
from kehu.core.permissions import Actor
from kehu_loyalty import services


@get("/loyalty/customers/{customer_id:int}", tags=["loyalty"])
async def customer_points(
    customer_id: FromPath[int], actor: NamedDependency[Actor]
) -> dict[str, Any]:
    """A customer's loyalty balance and latest transactions."""
    try:
        points = await services.balance(actor, customer_id)
        entries = await services.ledger(actor, customer_id, limit=10)
    except NotFound as exc:
        raise NotFoundException(exc.message) from exc
    except Forbidden as exc:
        raise PermissionDeniedException(exc.message) from exc
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
