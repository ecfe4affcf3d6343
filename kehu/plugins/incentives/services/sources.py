"""Commission sources: the money events a commission is computed from, by basis.

- ``won``: won opportunities by ``closed_at``;
- ``invoiced``: invoices and the credit notes reversing them (with contracts);
- ``collected``: money received for contracts, less refunds (with contracts).

Participants come from the opportunity team (AM/TS/SC/BD); the owner is the AM when the team
has none. The reads are in ``kehu.plugins.incentives.integrations``.
"""

from kehu.core.context import current
from kehu.plugins.incentives.integrations import pipeline
from kehu.plugins.incentives.services.periods import Period
from kehu.plugins.incentives.services.values import Source

__all__ = ["Source", "for_basis"]


async def for_basis(basis: str, period: Period) -> list[Source]:
    """The sources of ``basis`` dated in ``period``; none for a contract basis without the
    contracts plugin."""
    if basis == "won":
        return await pipeline.won_sources(period)
    if "contracts" not in current().names:
        return []
    from kehu.plugins.incentives.integrations import contracts  # only when enabled

    if basis == "invoiced":
        return await contracts.invoiced_sources(period)
    return await contracts.collected_sources(period)
