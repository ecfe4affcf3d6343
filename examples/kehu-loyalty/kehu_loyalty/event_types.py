"""The events this plugin emits, declared for Kehu's event catalogue (``kehu_event_types``).

``loyalty.*`` events are about a customer: their ``entity_id`` is the customer's id (the
``Customer`` GraphQL type), and they are received by users with ``loyalty:read`` who may see
that customer, the same rule as ``services.balance`` and ``services.ledger`` (their data
carries no ``customer`` key, so core's default rule would send them to admins only).
"""

from typing import Any

from kehu import EventType


async def customer_visible(actor: Any, events: list[Any]) -> set[str]:
    """The events whose customer (``entity_id``) ``actor`` may see, in one query."""
    from kehu.sdk import visible_customer_ids

    if not actor.can("customer:read"):
        return set()
    ids = sorted({e.entity_id for e in events if e.entity_id is not None})
    seen = await visible_customer_ids(actor, ids)
    return {e.id for e in events if e.entity_id in seen}


ENTRY = {
    "entry_id": "id of the ledger row written (a LoyaltyEntry node)",
    "balance": "the customer's balance after the change, in points",
    "reason": "why (free text; for expiry: the cut-off date)",
    "source": "where it came from: api, cli, activity, job, demo or manual",
}


def _loyalty(name: str, description: str, points: str) -> EventType:
    return EventType(
        f"loyalty.{name}",
        description,
        {**ENTRY, "points": points},
        scope="loyalty:read",
        node="Customer",
        visible=customer_visible,
    )


LOYALTY_EVENTS = [
    _loyalty("awarded", "A customer was given loyalty points.", "points added (positive)"),
    _loyalty(
        "redeemed",
        "A customer redeemed points (their oldest points are used first).",
        "points spent (negative)",
    ),
    _loyalty(
        "expired",
        "What was left of a customer's old awards expired (the loyalty.expire job).",
        "points expired (negative)",
    ),
    EventType(
        "loyalty.merged",
        "Another customer was merged into this one; their points moved here.",
        {
            "merged_id": "id of the customer merged into this one",
            "points": "the merged customer's balance, moved to this customer",
            "balance": "this customer's balance now, in points",
        },
        scope="loyalty:read",
        node="Customer",
        visible=customer_visible,
    ),
]
