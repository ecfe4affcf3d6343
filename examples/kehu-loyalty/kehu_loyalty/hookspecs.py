"""Hooks the loyalty plugin publishes for other plugins (registered by ``kehu_add_hookspecs``).

Implement them with ``@hookimpl(optionalhook=True)`` when loyalty may be disabled.
"""

from typing import Any

from kehu import hookspec


@hookspec
def kehu_loyalty_points_changed(customer_id: int, delta: int, balance: int) -> Any:
    """A customer's points balance changed by ``delta`` (award, redemption, expiry or merge) and
    is now ``balance``. Called inside the unit of work, after the ledger row is written: write
    in the same transaction if you need to; raising rolls the change back. May be async."""
