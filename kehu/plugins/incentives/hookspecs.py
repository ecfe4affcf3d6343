"""Hooks the incentives plugin publishes (registered through ``kehu_add_hookspecs``).

Called after commit from the plugin's own ``kehu_event`` handler; a failing implementation is
logged and does not undo the change. Implement them with ``@hookimpl(optionalhook=True)``.
"""

from typing import Any

from kehu import hookspec


@hookspec
def kehu_commission_period_locked(period: str, total: Any, lines: int) -> Any:
    """A payout run locked commission period ``period`` (``2026-Q3``); ``total`` is the
    ``Money`` sum of its ``lines`` ledger lines (``None`` when they mix currencies). Payroll
    exports hook in here. May be async."""


@hookspec
def kehu_incentive_approved(event_id: int, user_id: int, kind: str, subtype: str,
                            amount: Any, period: str) -> Any:
    """A manager approved an incentive event (bonus, allowance, honour or penalty);
    ``amount`` is ``Money`` or ``None`` (honours, reassignments). May be async."""
