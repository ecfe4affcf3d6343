"""Commission sources: the money events a commission is computed from, by basis, read from
the source tables (not from event payloads), so recomputation always reflects the current
truth.

- ``won``: won opportunities by ``closed_at`` (``integrations.pipeline``);
- ``invoiced``, ``collected``: from the plugins implementing ``kehu_commission_sources``
  (contracts: invoices less credit notes; money received less refunds).

Participants come from the opportunity team (AM/TS/SC/BD); the owner is the AM when the team
has none. A contract's source gets the team its ``kehu_commission_participants`` implementer
names (the pipeline_contracts bridge: the opportunity the contract was drafted from).
"""

from dataclasses import replace

from kehu.core.context import current
from kehu.plugins.incentives.integrations import pipeline
from kehu.plugins.incentives.services.periods import Period
from kehu.plugins.incentives.services.values import Source, participants

__all__ = ["Source", "for_basis"]


async def for_basis(basis: str, period: Period) -> list[Source]:
    """The sources of ``basis`` dated in ``period``."""
    if basis == "won":
        return await pipeline.won_sources(period)
    kehu = current()
    found = [
        source
        for answer in await kehu.acall("kehu_commission_sources", basis=basis, period=period)
        for source in answer
    ]
    contracts = sorted({s.contract for s in found if s.contract is not None})
    teams: dict[int, list[tuple[int, str]]] = {}
    if contracts:
        for answer in await kehu.acall("kehu_commission_participants", contract_ids=contracts):
            teams.update(answer)
    return [
        replace(s, participants=participants(s.owner, teams[s.contract]))
        if s.contract in teams
        else s
        for s in found
    ]
