"""Hooks the incentives plugin publishes (registered through ``kehu_add_hookspecs``), and
their value types. Implement them with ``@hookimpl(optionalhook=True)``: incentives may be
disabled.

- ``kehu_commission_period_locked`` and ``kehu_incentive_approved`` are published for
  incentives' events (``kehu_event_hooks``) and delivered like ``kehu_event``: after commit,
  at least once, retried on failure; make implementations idempotent.
- ``kehu_commission_sources``, ``kehu_commission_participants`` and ``kehu_incentive_actuals``
  are how other plugins give incentives their money and their numbers (contracts: invoiced and
  collected amounts; tickets: support metrics; pipeline_contracts: who worked on the deal a
  contract came from). Incentives calls them when it computes; they read only their own
  tables.
"""

from typing import Any

from kehu import hookspec
from kehu.core.hookspecs import MaybeAsync
from kehu.core.money import Money
from kehu.plugins.incentives.services.periods import Period, bounds
from kehu.plugins.incentives.services.values import Source, Value, participants

__all__ = ["Period", "Source", "Value", "bounds", "participants"]


@hookspec
def kehu_commission_sources(basis: str, period: Period) -> MaybeAsync[list[Source]]:
    """The commission sources of ``basis`` (``invoiced``, ``collected``; ``won`` is the
    pipeline's) dated in ``period`` that the plugin holds, with signed amounts (reversals and
    refunds negative), deterministic ``key``s and, for a contract's sources, its ``contract``
    id. Return ``[]`` for a basis you do not know. May be async."""


@hookspec
def kehu_commission_participants(
    contract_ids: list[int],
) -> MaybeAsync[dict[int, list[tuple[int, str]]]]:
    """``{contract id: [(user id, role)]}``: who shares the commission of a contract's
    sources (role ``am``, ``ts``, ``sc`` or ``bd``), e.g. the team of the opportunity the
    contract was drafted from. Contracts left out keep their owner as AM. May be async."""


@hookspec
def kehu_incentive_actuals(
    metric: str, period: Period, group: str, currency: str
) -> MaybeAsync[dict[Any, Value] | None]:
    """The actual of ``metric`` in ``period`` per user id (``group="user"``), team id
    (``"team"``) or ``0`` (``"company"``), money summed in ``currency``; ``None`` for a metric
    the plugin does not compute (the first answer in plugin order counts). May be async."""


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
