"""Hooks the tickets plugin publishes (registered by ``kehu_add_hookspecs``).

Implement them with ``@hookimpl(optionalhook=True)``: tickets may be disabled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from kehu import hookspec
from kehu.core.hookspecs import MaybeAsync


@dataclass(frozen=True)
class Signal:
    """One contribution to a customer's churn risk: ``weight`` points × ``score`` (0–1)."""

    customer_id: int
    source: str
    reason: str
    weight: float
    score: float

    @property
    def points(self) -> float:
        return max(0.0, min(1.0, self.score)) * self.weight


@hookspec
def kehu_ticket_sla_policy(customer_ids: list[int]) -> MaybeAsync[Mapping[int, str]]:
    """SLA entitlement: return ``{customer_id: policy_name}`` for customers whose tickets follow
    a named SLA policy (e.g. the one their contract carries) instead of ``default``. Customers
    left out use ``default``; unknown names fall back to the settings' targets. Called for a
    batch of customers whenever SLA clocks are computed; keep it to one query. May be async."""


@hookspec
def kehu_churn_signals(customer_ids: list[int], now: datetime) -> MaybeAsync[list[Signal]]:
    """Churn early warning: return ``Signal`` values (above) for these customers at ``now``
    (each with ``customer_id``, ``source``, ``reason``, ``weight`` (points, 0–100) and ``score``
    (severity 0–1)). A customer's risk is the sum of ``weight * score``, capped at 100. Batch
    your queries. May be async."""
