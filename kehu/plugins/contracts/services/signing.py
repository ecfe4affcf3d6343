"""Signing (with the credit check and audited overrides), versions, execution, completion,
withdrawal and termination."""

import json
from datetime import date
from typing import Any

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.plugins.contracts.services.approvals import _transition, check_transition
from kehu.plugins.contracts.services.common import S, get_contract, today
from kehu.plugins.contracts.services.contracts import _audit, lines_by_contract
from kehu.plugins.contracts.services.credit import credit_statuses
from kehu.plugins.contracts.services.schedules import write_schedule_from_terms
from kehu.plugins.contracts.tables import (
    ApprovalDecision,
    ContractApproval,
    ContractVersion,
    Installment,
)


async def sign_contract(
    actor: Actor,
    contract_id: int,
    *,
    signed_on: date | None = None,
    override_reason: str | None = None,
) -> dict:
    """approved → signed. A customer over its credit limit (exposure including this contract)
    or with a high-risk rating needs ``override_reason`` from a user with ``credit:override``
    (audited as ``credit_override``). Generates the payment schedule from the payment terms
    when none was entered, and keeps version 1 of the contract."""
    actor.require("contract:sign")
    override_reason = (override_reason or "").strip()
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        check_transition(row["status"], S.signed)
        signed_on = signed_on or today()
        credit = (await credit_statuses([row["customer"]], signed_on))[row["customer"]]
        problems = []
        if credit.high_risk:
            problems.append(
                FieldError(
                    "overrideReason",
                    f"Customer is rated {credit.rating} (high risk): signing needs a credit "
                    "override",
                    "HIGH_RISK_CUSTOMER",
                )
            )
        if credit.limit is not None and credit.exposure > credit.limit:
            problems.append(
                FieldError(
                    "overrideReason",
                    f"Exposure {credit.exposure} exceeds the credit limit {credit.limit}: "
                    "signing needs a credit override",
                    "CREDIT_LIMIT_EXCEEDED",
                )
            )
        if problems:
            if not override_reason:
                raise ValidationFailed(problems)
            actor.require("credit:override")
            await record(
                actor,
                "credit_override",
                "contract",
                contract_id,
                after={
                    "customer": row["customer"],
                    "reason": override_reason,
                    "codes": [p.code for p in problems],
                    "exposure_minor": credit.exposure.minor,
                    "limit_minor": credit.limit.minor if credit.limit else None,
                    "rating": credit.rating,
                },
            )
        row = await _transition(
            actor,
            row,
            S.signed,
            {
                "signed_at": now(),
                "signed_on": signed_on,
                "credit_override_reason": override_reason if problems else "",
            },
        )
        if row["payment_terms"] and not await Installment.exists().where(
            Installment.contract == contract_id
        ):
            await write_schedule_from_terms(actor, row, signed_on)
        await _save_version(row, None, {})
    return row


async def _save_version(row: dict[str, Any], amendment_id: int | None, changes: dict) -> None:
    last = (
        await ContractVersion.select(ContractVersion.number)
        .where(ContractVersion.contract == row["id"])
        .order_by(ContractVersion.number, ascending=False)
        .first()
    )
    lines = (await lines_by_contract([row["id"]]))[row["id"]]
    snapshot = json.loads(json.dumps(_audit(row, lines), default=str))
    await ContractVersion.insert(
        ContractVersion(
            contract=row["id"],
            number=(last["number"] + 1) if last else 1,
            snapshot=snapshot,
            changes=json.loads(json.dumps(changes, default=str)),
            amendment=amendment_id,
        )
    )


async def _simple(actor: Actor, contract_id: int, target: str, **values: Any) -> dict:
    actor.require("contract:write")
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        return await _transition(actor, row, target, values or None)


async def start_execution(actor: Actor, contract_id: int) -> dict:
    """signed → in_execution."""
    return await _simple(actor, contract_id, S.in_execution)


async def complete_contract(actor: Actor, contract_id: int) -> dict:
    """in_execution (or disputed) → completed."""
    return await _simple(actor, contract_id, S.completed)


async def withdraw_contract(actor: Actor, contract_id: int) -> dict:
    """pending_approval/approved → draft (the open approval steps are cancelled)."""
    actor.require("contract:write")
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        check_transition(row["status"], S.draft)
        await ContractApproval.update(
            {ContractApproval.decision: ApprovalDecision.cancelled}
        ).where(
            ContractApproval.contract == contract_id,
            ContractApproval.decision == ApprovalDecision.pending,
        )
        return await _transition(actor, row, S.draft, note="withdrawn")


async def terminate_contract(actor: Actor, contract_id: int, reason: str) -> dict:
    """Any open state → terminated, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(FieldError("reason", "reason is required", "REQUIRED"))
    actor.require("contract:write")
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        return await _transition(
            actor, row, S.terminated, {"termination_reason": reason}, note=reason
        )
