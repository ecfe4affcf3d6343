"""Customer merges and handovers (run inside core's transaction)."""

from kehu.core.events import record
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.plugins.tickets.tables import OPEN_STATUSES, ChurnAlert, Survey, Ticket


async def customers_merged(actor: Actor, survivor_id: int, merged_id: int) -> None:
    """Tickets, surveys and churn alerts follow the survivor; the merged customer's open
    alert is closed (the survivor's own risk is re-evaluated by the next churn check)."""
    moved = (
        await Ticket.update({Ticket.customer: survivor_id})
        .where(Ticket.customer == merged_id)
        .returning(Ticket.id)
    )
    await Survey.update({Survey.customer: survivor_id}).where(Survey.customer == merged_id)
    await ChurnAlert.update({ChurnAlert.open: False, ChurnAlert.cleared_at: now()}).where(
        ChurnAlert.customer == merged_id, ChurnAlert.open.eq(True)
    )
    await ChurnAlert.update({ChurnAlert.customer: survivor_id}).where(
        ChurnAlert.customer == merged_id
    )
    if moved:
        await record(
            actor,
            "tickets_moved",
            "customer",
            survivor_id,
            after={"merged_id": merged_id, "tickets": [r["id"] for r in moved]},
        )


async def customers_reassigned(
    actor: Actor, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> None:
    """Open tickets the previous owner was handling move to the new owner."""
    if from_user_id is None:
        return
    await Ticket.update(
        {Ticket.assignee: to_user_id, Ticket.version: Ticket.version + 1, Ticket.updated_at: now()}
    ).where(
        Ticket.customer.is_in(customer_ids),
        Ticket.assignee == from_user_id,
        Ticket.status.is_in(list(OPEN_STATUSES)),
    )
