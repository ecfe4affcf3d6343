"""Draft contracts from won opportunities, and the links between the two."""

from kehu.plugins.pipeline_contracts.services.drafts import (
    draft_contract,
    draft_contract_on_won,
    settings,
)
from kehu.plugins.pipeline_contracts.services.links import contracts_of, source_opportunities
from kehu.plugins.pipeline_contracts.settings import BridgeSettings

__all__ = [
    "BridgeSettings",
    "contracts_of",
    "draft_contract",
    "draft_contract_on_won",
    "settings",
    "source_opportunities",
]
