"""Reading points: balances (batched), a customer's ledger, one entry, the leaderboard.
Visibility comes from core: ``get_customer`` and ``customer_scope``."""

from typing import Any

from kehu.sdk import (
    Actor,
    Customer,
    NotFound,
    ValidationFailed,
    current,
    customer_scope,
    customers_by_ids,
    get_customer,
)
from kehu_loyalty.tables import LoyaltyAccount, LoyaltyLedger


async def balances(customer_ids: list[int]) -> dict[int, int]:
    """Balance per customer (0 without an account) in one query. The caller has checked that
    the customers are visible (the GraphQL loader gets only visible ``Customer`` objects)."""
    out = dict.fromkeys(customer_ids, 0)
    if customer_ids:
        rows = await LoyaltyAccount.select(LoyaltyAccount.customer, LoyaltyAccount.balance).where(
            LoyaltyAccount.customer.is_in(list(set(customer_ids)))
        )
        out.update({r["customer"]: r["balance"] for r in rows})
    return out


async def balance(actor: Actor, customer_id: int) -> int:
    actor.require("loyalty:read")
    await get_customer(actor, customer_id)
    return (await balances([customer_id]))[customer_id]


async def recent_entries(customer_ids: list[int], limit: int) -> dict[int, list[dict[str, Any]]]:
    """The ``limit`` latest ledger rows of each customer in one query (window function)."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in customer_ids}
    if not customer_ids:
        return out
    ids = sorted(set(customer_ids))
    marks = ", ".join("{}" for _ in ids)
    rows = await LoyaltyLedger.raw(
        "SELECT * FROM (SELECT l.*, ROW_NUMBER() OVER (PARTITION BY l.customer "
        "ORDER BY l.created_at DESC, l.id DESC) AS rn "
        f"FROM loyalty_ledger l WHERE l.customer IN ({marks})) t WHERE t.rn <= {{}} "
        "ORDER BY t.customer, t.rn",
        *ids,
        limit,
    )
    for row in rows:
        row.pop("rn", None)
        out[row["customer"]].append(row)
    return out


async def ledger(actor: Actor, customer_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """A visible customer's latest point transactions, newest first."""
    actor.require("loyalty:read")
    await get_customer(actor, customer_id)
    return (await recent_entries([customer_id], limit))[customer_id]


async def get_entry(actor: Actor, entry_id: int) -> dict[str, Any]:
    """A ledger row of a customer ``actor`` may see, or ``NotFound``."""
    actor.require("loyalty:read")
    row = await LoyaltyLedger.select().where(LoyaltyLedger.id == entry_id).first()
    if row is None:
        raise NotFound(f"Loyalty entry {entry_id} not found")
    try:
        await get_customer(actor, row["customer"])
    except NotFound:
        raise NotFound(f"Loyalty entry {entry_id} not found") from None
    return row


async def leaderboard(actor: Actor, limit: int = 10) -> list[tuple[dict[str, Any], int]]:
    """The visible, active customers with the most points: ``[(customer row, balance)]``."""
    actor.require("loyalty:read")
    maximum = current().settings.page_size_max
    if not 1 <= limit <= maximum:
        raise ValidationFailed(f"first must be 1..{maximum}", field="first")
    customers = Customer.select(Customer.id).where(Customer.archived_at.is_null())
    scope = customer_scope(actor)
    if scope is not None:
        customers = customers.where(scope)
    rows = (
        await LoyaltyAccount.select(LoyaltyAccount.customer, LoyaltyAccount.balance)
        .where(LoyaltyAccount.customer.is_in(customers), LoyaltyAccount.balance > 0)
        .order_by(LoyaltyAccount.balance, ascending=False)
        .order_by(LoyaltyAccount.customer)
        .limit(limit)
    )
    found = await customers_by_ids(actor, [r["customer"] for r in rows])
    return [(found[r["customer"]], r["balance"]) for r in rows if r["customer"] in found]
