"""The bridge's GraphQL, table of contents: what ``plugin.py`` hands to Kehu."""

from kehu.plugins.pipeline_contracts.graphql.loaders import LOADERS
from kehu.plugins.pipeline_contracts.graphql.mutations.drafts import BridgeMutation
from kehu.plugins.pipeline_contracts.graphql.types import (
    ContractSourceOpportunity,
    OpportunityContracts,
)

MUTATIONS = [BridgeMutation]
TYPE_EXTENSIONS = {"Opportunity": [OpportunityContracts], "Contract": [ContractSourceOpportunity]}
__all__ = ["LOADERS", "MUTATIONS", "TYPE_EXTENSIONS"]
