"""What the bridge uses of the two plugins it links (its ``depends``), and what it tells the
incentives plugin: the only module here that imports another plugin (tables aside, for the
foreign keys)."""

from collections import defaultdict

from kehu.plugins.contracts import services as contracts
from kehu.plugins.pipeline import services as pipeline
from kehu.plugins.pipeline.tables import TeamMember
from kehu.plugins.pipeline_contracts.tables import ContractSource

__all__ = ["commission_participants", "contracts", "pipeline"]


async def commission_participants(contract_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """``kehu_commission_participants``: the team of the opportunity each contract was drafted
    from (contracts whose opportunity has no team are left out), in one query each."""
    if not contract_ids:
        return {}
    links = await ContractSource.select(ContractSource.contract, ContractSource.opportunity).where(
        ContractSource.contract.is_in(sorted(set(contract_ids)))
    )
    teams: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if links:
        rows = (
            await TeamMember.select(TeamMember.opportunity, TeamMember.user, TeamMember.role)
            .where(TeamMember.opportunity.is_in([link["opportunity"] for link in links]))
            .order_by(TeamMember.id)
        )
        for r in rows:
            teams[r["opportunity"]].append((r["user"], r["role"]))
    return {
        link["contract"]: teams[link["opportunity"]] for link in links if teams[link["opportunity"]]
    }
