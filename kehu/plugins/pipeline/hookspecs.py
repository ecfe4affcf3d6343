"""Hooks the pipeline plugin publishes (registered through ``kehu_add_hookspecs``).

They are published for the ``opportunity.*`` events (``kehu_event_hooks``) and delivered
like ``kehu_event``: after commit, at least once, retried on failure, one opportunity's
events in commit order; make implementations idempotent. Implement them with
``@hookimpl(optionalhook=True)`` when pipeline may be disabled.
"""

from kehu import hookspec
from kehu.core.hookspecs import MaybeAsync
from kehu.core.money import Money


@hookspec
def kehu_opportunity_stage_changed(
    opportunity_id: int,
    customer_id: int,
    from_stage: str | None,
    to_stage: str,
    actor_id: int | None,
) -> MaybeAsync[None]:
    """An opportunity moved from stage ``from_stage`` to ``to_stage`` (stage names; moves by
    ``moveOpportunityStage``, win, lose and reopen all count). May be async."""


@hookspec
def kehu_opportunity_won(
    opportunity_id: int, customer_id: int, amount: Money, owner_id: int | None
) -> MaybeAsync[None]:
    """An opportunity was won for ``amount`` (contracts can draft a contract, incentives
    credit the owner, tickets send an NPS survey). May be async."""


@hookspec
def kehu_opportunity_lost(
    opportunity_id: int, customer_id: int, reason: str, owner_id: int | None
) -> MaybeAsync[None]:
    """An opportunity was lost with ``reason`` (one of the configured lost reasons). May be
    async."""
