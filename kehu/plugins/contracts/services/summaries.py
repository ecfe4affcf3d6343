"""Per-customer receivable summaries (GraphQL batches), customer merges and group names."""

from typing import Any

from kehu.core.events import record
from kehu.core.permissions import Actor
from kehu.core.tables import Customer, User
from kehu.plugins.contracts.services.credit import credit_statuses
from kehu.plugins.contracts.tables import (
    Contract,
    Credit,
    CreditProfile,
    Installment,
    Invoice,
    Payment,
)


async def receivable_summaries(customer_ids: list[int]) -> dict[int, Any]:
    """Open, overdue and credit figures per (already visible) customer in a few queries."""

    return await credit_statuses(customer_ids)


async def merge_customers(actor: Actor, survivor_id: int, merged_id: int) -> None:
    """Re-point contracts and receivables from the merged customer to the survivor (runs in the
    merge's unit of work); the survivor keeps its credit profile (else takes the merged one)."""

    for table in (Contract, Installment, Invoice, Payment, Credit):
        await table.update({table.customer: survivor_id}).where(table.customer == merged_id)
    if await CreditProfile.exists().where(CreditProfile.customer == survivor_id):
        await CreditProfile.delete().where(CreditProfile.customer == merged_id)
    else:
        await CreditProfile.update({CreditProfile.customer: survivor_id}).where(
            CreditProfile.customer == merged_id
        )
    await record(
        actor, "merged", "contract", None, after={"customer": survivor_id, "merged_id": merged_id}
    )


async def group_names(group_by: str, ids: list[int]) -> dict[int, str]:
    """Display names of aging groups: customer names, usernames or team names."""
    from kehu.core.tables import Team

    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    table, column = {
        "customer": (Customer, Customer.name),
        "owner": (User, User.username),
        "team": (Team, Team.name),
    }.get(group_by, (None, None))
    if table is None:
        return {}
    rows = await table.select(table.id, column).where(table.id.is_in(ids))
    return {r["id"]: r[column._meta.name] for r in rows}
