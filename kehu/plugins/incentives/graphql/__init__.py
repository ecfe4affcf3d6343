"""Incentives GraphQL: ``schema.py`` is the table of contents (what ``plugin.py`` hands to
Kehu); ``types.py`` the output types, ``inputs.py``, ``loaders.py`` and ``mutations/`` one
module per aggregate.

The names this module held before it became a package still resolve, with a deprecation
warning naming their new module."""

from kehu.core.deprecation import moved_names

__getattr__ = moved_names(
    __name__,
    {
        "AssignPlanInput": "kehu.plugins.incentives.graphql.inputs",
        "BasisEnum": "kehu.plugins.incentives.graphql.types",
        "CommissionLineConnection": "kehu.plugins.incentives.graphql.types",
        "CommissionLineType": "kehu.plugins.incentives.graphql.types",
        "CommissionPlan": "kehu.plugins.incentives.graphql.types",
        "CommissionPlanInput": "kehu.plugins.incentives.graphql.inputs",
        "CommissionStatement": "kehu.plugins.incentives.graphql.types",
        "CommissionTier": "kehu.plugins.incentives.graphql.types",
        "DecideIncentiveEventInput": "kehu.plugins.incentives.graphql.inputs",
        "DecomposeTargetInput": "kehu.plugins.incentives.graphql.inputs",
        "EventKindEnum": "kehu.plugins.incentives.graphql.types",
        "EventStatusEnum": "kehu.plugins.incentives.graphql.types",
        "IncentiveEventConnection": "kehu.plugins.incentives.graphql.types",
        "IncentiveEventInput": "kehu.plugins.incentives.graphql.inputs",
        "IncentiveEventMutations": "kehu.plugins.incentives.graphql.mutations.events",
        "IncentiveEventType": "kehu.plugins.incentives.graphql.types",
        "IncentiveTarget": "kehu.plugins.incentives.graphql.types",
        "IncentivesQuery": "kehu.plugins.incentives.graphql.schema",
        "LeaderboardEntry": "kehu.plugins.incentives.graphql.types",
        "LedgerMutations": "kehu.plugins.incentives.graphql.mutations.ledger",
        "LineKindEnum": "kehu.plugins.incentives.graphql.types",
        "NODE_TYPES": "kehu.plugins.incentives.graphql.schema",
        "PayoutRun": "kehu.plugins.incentives.graphql.types",
        "PlanMutations": "kehu.plugins.incentives.graphql.mutations.plans",
        "RecomputeSummary": "kehu.plugins.incentives.graphql.types",
        "RoleSplit": "kehu.plugins.incentives.graphql.types",
        "Scorecard": "kehu.plugins.incentives.graphql.types",
        "ScorecardItem": "kehu.plugins.incentives.graphql.types",
        "SplitInput": "kehu.plugins.incentives.graphql.inputs",
        "StatementTotal": "kehu.plugins.incentives.graphql.types",
        "TargetAttainment": "kehu.plugins.incentives.graphql.types",
        "TargetInput": "kehu.plugins.incentives.graphql.inputs",
        "TargetMutations": "kehu.plugins.incentives.graphql.mutations.targets",
        "TierInput": "kehu.plugins.incentives.graphql.inputs",
        "UserRef": "kehu.core.graphql.types",
        "WeightInput": "kehu.plugins.incentives.graphql.inputs",
    },
)
