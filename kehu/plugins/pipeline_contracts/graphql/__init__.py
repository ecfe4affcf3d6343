"""The bridge's GraphQL: ``schema.py`` is the table of contents (what ``plugin.py`` hands to
Kehu); ``types.py`` the output types, ``inputs.py``, ``loaders.py`` and ``mutations/`` one
module per aggregate.

The names this module held before it became a package still resolve, with a deprecation
warning naming their new module."""

from kehu.core.deprecation import moved_names

__getattr__ = moved_names(
    __name__,
    {
        "BridgeMutation": "kehu.plugins.pipeline_contracts.graphql.mutations.drafts",
        "ContractRef": "kehu.plugins.pipeline_contracts.graphql.types",
        "ContractSourceOpportunity": "kehu.plugins.pipeline_contracts.graphql.types",
        "DraftContractInput": "kehu.plugins.pipeline_contracts.graphql.inputs",
        "LOADERS": "kehu.plugins.pipeline_contracts.graphql.loaders",
        "OpportunityContracts": "kehu.plugins.pipeline_contracts.graphql.types",
        "OpportunityRef": "kehu.plugins.pipeline_contracts.graphql.types",
        "load_contracts_of": "kehu.plugins.pipeline_contracts.graphql.loaders",
        "load_source_opportunity": "kehu.plugins.pipeline_contracts.graphql.loaders",
    },
)
