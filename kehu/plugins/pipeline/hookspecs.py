"""Hooks the pipeline plugin publishes (registered through ``kehu_add_hookspecs``).

They are called after the change has committed, from the pipeline's own ``kehu_event``
handler, one event at a time; a failing implementation is logged and does not undo the
change. Implement them with ``@hookimpl(optionalhook=True)`` when pipeline may be disabled.
"""

from typing import Any

from kehu import hookspec


@hookspec
def kehu_opportunity_stage_changed(
    opportunity_id: int,
    customer_id: int,
    from_stage: str | None,
    to_stage: str,
    actor_id: int | None,
) -> Any:
    """An opportunity moved from stage ``from_stage`` to ``to_stage`` (stage names; moves by
    ``moveOpportunityStage``, win, lose and reopen all count). Called after commit. May be
    async."""


@hookspec
def kehu_opportunity_won(
    opportunity_id: int, customer_id: int, amount: Any, owner_id: int | None
) -> Any:
    """An opportunity was won; ``amount`` is a ``kehu.core.money.Money``. Called after commit
    (contracts can draft a contract, incentives can credit the owner). May be async."""


@hookspec
def kehu_opportunity_lost(
    opportunity_id: int, customer_id: int, reason: str, owner_id: int | None
) -> Any:
    """An opportunity was lost with ``reason`` (one of the configured lost reasons). Called
    after commit. May be async."""
