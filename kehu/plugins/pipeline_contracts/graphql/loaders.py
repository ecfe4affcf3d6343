"""The bridge's DataLoader batch functions (``LOADERS``)."""

from typing import Any

from kehu.core.graphql.types import composed
from kehu.plugins.pipeline_contracts import services


async def load_contracts_of(ctx: Any, keys: list[int]) -> list[list[Any]]:
    found = await services.contracts_of(ctx.actor, keys)
    make = composed("Contract").from_row
    return [[make(row) for row in found[k]] for k in keys]


async def load_source_opportunity(ctx: Any, keys: list[int]) -> list[int | None]:
    found = await services.source_opportunities(keys)
    return [found.get(k) for k in keys]


LOADERS = {
    "bridge_contracts_of_opportunity": load_contracts_of,
    "bridge_source_opportunity": load_source_opportunity,
}
