"""Milestones and disputes of contracts in execution."""

from datetime import date

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.plugins.contracts.services.approvals import _transition
from kehu.plugins.contracts.services.common import S, get_contract
from kehu.plugins.contracts.tables import Dispute, DisputeStatus, Milestone, MilestoneKind


async def add_milestone(
    actor: Actor, contract_id: int, kind: str, title: str, due_date: date
) -> dict:
    actor.require("contract:write")
    if kind not in {k.value for k in MilestoneKind}:
        raise ValidationFailed(FieldError("kind", "kind must be delivery or acceptance"))
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        row = (
            await Milestone.insert(
                Milestone(contract=contract_id, kind=kind, title=title or kind, due_date=due_date)
            ).returning(*Milestone.all_columns())
        )[0]
        await record(
            actor,
            "created",
            "contract_milestone",
            row["id"],
            after={**row, "customer": contract["customer"]},
        )
    return row


async def complete_milestone(actor: Actor, milestone_id: int, completed_on: date) -> dict:
    actor.require("contract:write")
    async with unit_of_work():
        row = await Milestone.select().where(Milestone.id == milestone_id).first()
        if row is None:
            raise NotFound(f"Milestone {milestone_id} not found")
        contract = await get_contract(actor, row["contract"], for_update=True)
        await Milestone.update({Milestone.completed_on: completed_on}).where(
            Milestone.id == milestone_id
        )
        row["completed_on"] = completed_on
        await record(
            actor,
            "completed",
            "contract_milestone",
            milestone_id,
            after={**row, "customer": contract["customer"]},
        )
    return row


async def open_dispute(
    actor: Actor,
    contract_id: int,
    *,
    kind: str,
    description: str = "",
    amount: Money | None = None,
    legal_involved: bool = False,
) -> dict:
    """Record a dispute; a signed or executing contract moves to ``disputed``."""
    actor.require("contract:write")
    kind = (kind or "").strip()
    if not kind:
        raise ValidationFailed(FieldError("kind", "kind is required", "REQUIRED"))
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        amount = amount or Money.zero(contract["currency"])
        if amount.currency != contract["currency"]:
            raise ValidationFailed(
                FieldError("amount", "amount must be in the contract currency", "CURRENCY_MISMATCH")
            )
        row = (
            await Dispute.insert(
                Dispute(
                    contract=contract_id,
                    kind=kind[:50],
                    description=description or "",
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    legal_involved=legal_involved,
                )
            ).returning(*Dispute.all_columns())
        )[0]
        await record(
            actor,
            "opened",
            "contract_dispute",
            row["id"],
            after={**row, "customer": contract["customer"]},
        )
        if contract["status"] in (S.signed, S.in_execution):
            await _transition(actor, contract, S.disputed, note=f"dispute {row['id']}")
    return row


async def resolve_dispute(
    actor: Actor, dispute_id: int, resolution: str, *, legal_involved: bool | None = None
) -> dict:
    """Close a dispute; when none is left open, a disputed contract resumes execution."""
    actor.require("contract:write")
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationFailed(FieldError("resolution", "resolution is required", "REQUIRED"))
    async with unit_of_work():
        row = await Dispute.select().where(Dispute.id == dispute_id).first()
        if row is None:
            raise NotFound(f"Dispute {dispute_id} not found")
        contract = await get_contract(actor, row["contract"], for_update=True)
        if row["status"] != DisputeStatus.open:
            raise ValidationFailed(
                FieldError("status", "Dispute is already resolved", "INVALID_TRANSITION")
            )
        values = {
            "status": DisputeStatus.resolved.value,
            "resolution": resolution,
            "resolved_at": now(),
        }
        if legal_involved is not None:
            values["legal_involved"] = legal_involved
        await Dispute.update(values).where(Dispute.id == dispute_id)
        row.update(values)
        await record(
            actor,
            "resolved",
            "contract_dispute",
            dispute_id,
            after={**row, "customer": contract["customer"]},
        )
        still_open = await Dispute.exists().where(
            Dispute.contract == contract["id"], Dispute.status == DisputeStatus.open
        )
        if contract["status"] == S.disputed and not still_open:
            await _transition(actor, contract, S.in_execution, note="disputes resolved")
    return row
