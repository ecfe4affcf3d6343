"""Hooks the incentives plugin publishes (registered through ``kehu_add_hookspecs``).

They are published for incentives' events (``kehu_event_hooks``) and delivered like
``kehu_event``: after commit, at least once, retried on failure; make implementations
idempotent. Implement them with ``@hookimpl(optionalhook=True)``.
"""

from kehu import hookspec
from kehu.core.hookspecs import MaybeAsync
from kehu.core.money import Money


@hookspec
def kehu_commission_period_locked(period: str, total: Money | None, lines: int) -> MaybeAsync[None]:
    """A payout run locked commission period ``period`` (``2026-Q3``); ``total`` is the sum
    of its ``lines`` ledger lines (``None`` when they mix currencies). Payroll exports hook in
    here. May be async."""


@hookspec
def kehu_incentive_approved(
    event_id: int, user_id: int, kind: str, subtype: str, amount: Money | None, period: str
) -> MaybeAsync[None]:
    """A manager approved an incentive event (bonus, allowance, honour or penalty);
    ``amount`` is ``None`` for honours and reassignments. May be async."""
