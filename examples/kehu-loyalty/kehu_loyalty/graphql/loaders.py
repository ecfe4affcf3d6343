"""The loyalty DataLoaders: one query per request for every balance and ledger asked for."""

from typing import Any

from kehu_loyalty import services
from kehu_loyalty.graphql.types import LoyaltyEntry


async def load_balances(ctx: Any, keys: list[int]) -> list[int]:
    found = await services.balances(keys)
    return [found[k] for k in keys]


async def load_ledgers(ctx: Any, keys: list[tuple[int, int]]) -> list[list[LoyaltyEntry]]:
    """Keys are ``(customer_id, first)``; one query per distinct ``first``."""
    by_limit: dict[int, list[int]] = {}
    for customer_id, limit in keys:
        by_limit.setdefault(limit, []).append(customer_id)
    found = {limit: await services.recent_entries(ids, limit) for limit, ids in by_limit.items()}
    return [[LoyaltyEntry.from_row(r) for r in found[limit][cid]] for cid, limit in keys]


LOADERS = {"loyalty_balance": load_balances, "loyalty_ledger": load_ledgers}
