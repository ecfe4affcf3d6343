"""What the loyalty services share: the plugin name, event actions, the result of a change
and the plugin's settings."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kehu.sdk import current
from kehu_loyalty.settings import LoyaltySettings
from kehu_loyalty.tables import EntryKind

PLUGIN = "loyalty"

ACTIONS = {EntryKind.award: "awarded", EntryKind.redeem: "redeemed", EntryKind.expire: "expired"}


@dataclass(frozen=True)
class PointsChange:
    """The result of an award or redemption: the customer row, the ledger row, the balance."""

    customer: dict[str, Any]
    entry: dict[str, Any]
    balance: int


def config() -> LoyaltySettings:
    return current().plugin_settings(PLUGIN)


#: ``award_points`` / ``redeem_points``: ``(actor, customer_id, points, reason, *, source,
#: idempotency_key)``
Change = Callable[..., Awaitable[PointsChange]]
