"""Handing contracts over to another owner, and the risk flags of contracts."""

from datetime import date

from piccolo.columns.combination import WhereRaw

from kehu.core.events import record
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.core.tables import User
from kehu.plugins.contracts.services.common import S, today
from kehu.plugins.contracts.tables import (
    Amendment,
    AmendmentStatus,
    Contract,
    Dispute,
    DisputeStatus,
    Installment,
    Milestone,
)


async def reassign_contracts(
    actor: Actor, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> int:
    """A customer handover moves the open contracts (not completed or terminated) of these
    customers owned by ``from_user_id`` (any owner when ``None``) to the new owner and team
    (runs inside the handover's unit of work). Returns the number of contracts moved."""
    if not customer_ids:
        return 0
    user = await User.select(User.team).where(User.id == to_user_id).first()
    query = Contract.select(Contract.id, Contract.customer, Contract.owner).where(
        Contract.customer.is_in(list(customer_ids)),
        Contract.status.not_in([S.completed.value, S.terminated.value]),
    )
    if from_user_id is not None:
        query = query.where(Contract.owner == from_user_id)
    rows = await query
    if not rows:
        return 0
    await Contract.update(
        {
            Contract.owner: to_user_id,
            Contract.team: user["team"] if user else None,
            Contract.version: Contract.version + 1,
            Contract.updated_at: now(),
        }
    ).where(Contract.id.is_in([r["id"] for r in rows]))
    for r in rows:
        await record(
            actor,
            "reassigned",
            "contract",
            r["id"],
            before={"owner": r["owner"]},
            after={"owner": to_user_id, "customer": r["customer"]},
        )
    return len(rows)


async def risk_flags(contract_ids: list[int], on: date | None = None) -> dict[int, list[str]]:
    """Flags per contract: ``overdue`` (an installment past due and open), ``delivery_delay``
    (a milestone past due and not completed), ``dispute`` (an open dispute), ``pending_change``
    (an amendment awaiting approval). Four queries for any number of contracts."""
    on = on or today()
    ids = list(set(contract_ids))
    out: dict[int, list[str]] = {i: [] for i in contract_ids}
    if not ids:
        return out
    overdue = (
        await Installment.select(Installment.contract)
        .where(
            Installment.contract.is_in(ids),
            Installment.due_date < on,
            WhereRaw("paid_minor + credited_minor < amount_minor"),
        )
        .distinct()
    )
    late = (
        await Milestone.select(Milestone.contract)
        .where(
            Milestone.contract.is_in(ids), Milestone.due_date < on, Milestone.completed_on.is_null()
        )
        .distinct()
    )
    disputes = (
        await Dispute.select(Dispute.contract)
        .where(Dispute.contract.is_in(ids), Dispute.status == DisputeStatus.open)
        .distinct()
    )
    pending = (
        await Amendment.select(Amendment.contract)
        .where(Amendment.contract.is_in(ids), Amendment.status == AmendmentStatus.pending)
        .distinct()
    )
    for flag, rows in (
        ("overdue", overdue),
        ("delivery_delay", late),
        ("dispute", disputes),
        ("pending_change", pending),
    ):
        for r in rows:
            out[r["contract"]].append(flag)
    return out
