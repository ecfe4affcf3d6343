"""The contract state machine, submission and the approval chain by amount."""

from typing import Any

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import now, raise_if
from kehu.plugins.contracts.services.common import TRANSITIONS, S, config, get_contract
from kehu.plugins.contracts.services.contracts import lines_by_contract
from kehu.plugins.contracts.tables import ApprovalDecision, Contract, ContractApproval


def check_transition(current_status: str, target: str) -> None:
    """``ValidationFailed`` (code ``INVALID_TRANSITION``) unless the move is allowed."""
    if target not in TRANSITIONS.get(current_status, set()):
        raise ValidationFailed(
            FieldError(
                "status",
                f"Cannot move a contract from {current_status} to {target}",
                "INVALID_TRANSITION",
            )
        )


async def _transition(
    actor: Actor,
    row: dict[str, Any],
    target: str,
    values: dict[str, Any] | None = None,
    *,
    note: str = "",
) -> dict[str, Any]:
    """Move a locked contract row to ``target`` and audit it (action ``transitioned``)."""
    check_transition(row["status"], target)
    changes = {
        "status": target,
        "version": row["version"] + 1,
        "updated_at": now(),
        **(values or {}),
    }
    await Contract.update(changes).where(Contract.id == row["id"])
    after = {**row, **changes}
    data = {
        "from": row["status"],
        "status": target,
        "number": row["number"],
        "customer": row["customer"],
        "total_minor": row["total_minor"],
        "currency": row["currency"],
    }
    if note:
        data["note"] = note
    await record(
        actor,
        "transitioned",
        "contract",
        row["id"],
        before={"status": row["status"]},
        after=data,
    )
    return after


def missing_clauses(row: dict[str, Any], lines: list[dict[str, Any]]) -> list[FieldError]:
    """Every mandatory clause the contract lacks (code ``MISSING_CLAUSE``)."""
    errors = []

    def miss(f: str, what: str) -> None:
        errors.append(FieldError(f, f"Mandatory clause missing: {what}", "MISSING_CLAUSE"))

    if not lines:
        miss("lines", "at least one line item (product, specification, quantity, price)")
    for i, ln in enumerate(lines):
        if not ln["product"]:
            miss(f"lines[{i}].product", "product")
        if not ln["specification"]:
            miss(f"lines[{i}].specification", "specification")
        if ln["quantity"] <= 0:
            miss(f"lines[{i}].quantity", "quantity")
        if ln["unit_price_minor"] <= 0:
            miss(f"lines[{i}].unitPrice", "price")
    if row.get("delivery_deadline") is None:
        miss("deliveryDeadline", "delivery deadline")
    if not row.get("payment_method"):
        miss("paymentMethod", "payment method")
    if not (row.get("breach_liability") or "").strip():
        miss("breachLiability", "breach liability (违约责任)")
    return errors


async def submit_contract(actor: Actor, contract_id: int) -> dict:
    """draft → pending_approval, after checking the mandatory clauses; opens the approval
    chain of the contract's amount tier."""
    actor.require("contract:write")
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        check_transition(row["status"], S.pending_approval)
        lines = (await lines_by_contract([contract_id]))[contract_id]
        raise_if(missing_clauses(row, lines))
        total = Money(row["total_minor"], row["currency"]).amount
        tier = config().tier_for(total)
        last = (
            await ContractApproval.select(ContractApproval.round)
            .where(ContractApproval.contract == contract_id)
            .order_by(ContractApproval.round, ascending=False)
            .first()
        )
        round_no = (last["round"] + 1) if last else 1
        await ContractApproval.insert(
            *[
                ContractApproval(
                    contract=contract_id, round=round_no, step=i, name=s.name, role=s.role
                )
                for i, s in enumerate(tier.steps)
            ]
        )
        row = await _transition(
            actor, row, S.pending_approval, {"approval_step": 0, "submitted_at": now()}
        )
    return row


async def decide_approval(actor: Actor, contract_id: int, approve: bool, comment: str = "") -> dict:
    """Approve or reject the current approval step. Only a user with the step's role (or an
    admin) may decide; rejection sends the contract back to draft, the last approval makes
    it ``approved``."""
    actor.require("contract:approve")
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationFailed(FieldError("comment", "A rejection needs a comment", "REQUIRED"))
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        if row["status"] != S.pending_approval:
            raise ValidationFailed(
                FieldError(
                    "status",
                    f"Contract is {row['status']}, not pending_approval",
                    "INVALID_TRANSITION",
                )
            )
        steps = (
            await ContractApproval.select()
            .where(
                ContractApproval.contract == contract_id,
                ContractApproval.decision == ApprovalDecision.pending,
            )
            .order_by(ContractApproval.step)
        )
        if not steps:
            raise ValidationFailed("No pending approval step", field="status")
        step = steps[0]
        if actor.role != step["role"] and actor.role != "admin":
            raise ValidationFailed(
                FieldError(
                    "approval",
                    f"Step {step['name']} must be decided by a {step['role']}",
                    "WRONG_APPROVER",
                )
            )
        decision = ApprovalDecision.approved if approve else ApprovalDecision.rejected
        await ContractApproval.update(
            {
                ContractApproval.decision: decision,
                ContractApproval.decided_by: actor.user_id,
                ContractApproval.comment: comment,
                ContractApproval.decided_at: now(),
            }
        ).where(ContractApproval.id == step["id"])
        await record(
            actor,
            decision.value,
            "contract_approval",
            step["id"],
            after={
                "contract": contract_id,
                "step": step["name"],
                "role": step["role"],
                "comment": comment,
                "customer": row["customer"],
            },
        )
        if not approve:
            await ContractApproval.update(
                {ContractApproval.decision: ApprovalDecision.cancelled}
            ).where(
                ContractApproval.contract == contract_id,
                ContractApproval.decision == ApprovalDecision.pending,
            )
            row = await _transition(actor, row, S.draft, note=f"rejected at {step['name']}")
        elif len(steps) == 1:
            row = await _transition(actor, row, S.approved, {"approval_step": step["step"] + 1})
        else:
            values = {"approval_step": step["step"] + 1, "version": row["version"] + 1}
            await Contract.update(values).where(Contract.id == contract_id)
            row = {**row, **values}
    return row
