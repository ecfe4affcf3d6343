"""The links between contracts and the opportunities they were drafted from."""

from kehu.core.permissions import Actor
from kehu.plugins.pipeline_contracts.integrations import contracts
from kehu.plugins.pipeline_contracts.tables import ContractSource


async def source_opportunities(contract_ids: list[int]) -> dict[int, int]:
    """``{contract id: opportunity id}``."""
    if not contract_ids:
        return {}
    rows = await ContractSource.select().where(ContractSource.contract.is_in(contract_ids))
    return {r["contract"]: r["opportunity"] for r in rows}


async def contracts_of(actor: Actor, opportunity_ids: list[int]) -> dict[int, list[dict]]:
    """Contracts drafted from each opportunity that ``actor`` may see."""
    out: dict[int, list[dict]] = {i: [] for i in opportunity_ids}
    if not opportunity_ids:
        return out
    links = await ContractSource.select().where(ContractSource.opportunity.is_in(opportunity_ids))
    visible = await contracts.contracts_by_ids(actor, [r["contract"] for r in links])
    for link in links:
        if link["contract"] in visible:
            out[link["opportunity"]].append(visible[link["contract"]])
    return out
