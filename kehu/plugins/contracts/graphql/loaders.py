"""The contracts plugin's DataLoader batch functions (``LOADERS``)."""

from typing import Any

from kehu.plugins.contracts import services
from kehu.plugins.contracts.graphql.types import contract_type


async def load_contracts(ctx: Any, keys: list[int]) -> list[Any]:
    rows = await services.contracts_by_ids(ctx.actor, keys)
    make = contract_type().from_row
    return [make(rows[k]) if k in rows else None for k in keys]


def _children(fn: Any) -> Any:
    async def load(ctx: Any, keys: list[int]) -> list[list[dict[str, Any]]]:
        found = await fn(keys)
        return [found[k] for k in keys]

    return load


async def load_by_customer(ctx: Any, keys: list[tuple[int, int]]) -> list[list[Any]]:
    limit = max(k[1] for k in keys)
    found = await services.contracts_by_customer(ctx.actor, [k[0] for k in keys], limit)
    loader = ctx.loader("contracts_contract")
    out = []
    for customer_id, first in keys:
        nodes = [contract_type().from_row(r) for r in found[customer_id][:first]]
        for n in nodes:
            loader.prime(n.pk, n)
        out.append(nodes)
    return out


async def load_receivables(ctx: Any, keys: list[int]) -> list[Any]:
    found = await services.receivable_summaries(keys)
    return [found[k] for k in keys]


async def load_risk(ctx: Any, keys: list[int]) -> list[list[str]]:
    found = await services.risk_flags(keys)
    return [found[k] for k in keys]


LOADERS = {
    "contracts_contract": load_contracts,
    "contracts_lines": _children(services.lines_by_contract),
    "contracts_approvals": _children(services.approvals_by_contract),
    "contracts_installments": _children(services.installments_by_contract),
    "contracts_milestones": _children(services.milestones_by_contract),
    "contracts_disputes": _children(services.disputes_by_contract),
    "contracts_versions": _children(services.versions_by_contract),
    "contracts_amendments": _children(services.amendments_by_contract),
    "contracts_allocations": _children(services.allocations_by_payment),
    "contracts_invoices": _children(services.invoices_by_contract),
    "contracts_by_customer": load_by_customer,
    "contracts_receivables": load_receivables,
    "contracts_risk": load_risk,
}
