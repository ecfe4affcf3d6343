"""Loyalty business logic: awards, redemptions (oldest points first), expiry and merges.

No HTTP or GraphQL here: the GraphQL API, the CLI, the job and the event handler all call these
functions, so permissions (``actor.require``) and record visibility (``get_customer``) apply
everywhere alike. Every change runs in a ``unit_of_work()`` with an audit row (``record``)."""

from kehu_loyalty.services.balances import (
    balance,
    balances,
    get_entry,
    leaderboard,
    ledger,
    recent_entries,
)
from kehu_loyalty.services.common import ACTIONS, PLUGIN, Change, PointsChange, config
from kehu_loyalty.services.points import (
    award_for_activity,
    award_points,
    expire_due,
    expire_points,
    merge_accounts,
    redeem_points,
)

__all__ = [
    "ACTIONS",
    "PLUGIN",
    "Change",
    "PointsChange",
    "award_for_activity",
    "award_points",
    "balance",
    "balances",
    "config",
    "expire_due",
    "expire_points",
    "get_entry",
    "leaderboard",
    "ledger",
    "merge_accounts",
    "recent_entries",
    "redeem_points",
]
