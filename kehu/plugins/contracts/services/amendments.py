"""Amendments (补充协议): requested, approved and applied as a new contract version."""

import json
from datetime import date
from typing import Any

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import now, raise_if
from kehu.plugins.contracts.services.common import (
    AMENDABLE,
    DATE_FIELDS,
    SIGNED_STATES,
    get_contract,
)
from kehu.plugins.contracts.services.contracts import _clean
from kehu.plugins.contracts.services.signing import _save_version
from kehu.plugins.contracts.tables import Amendment, AmendmentStatus, Contract


async def request_amendment(
    actor: Actor, contract_id: int, changes: dict[str, Any], reason: str
) -> dict:
    """Propose changes to a signed contract (clauses and dates; not lines or amounts)."""
    actor.require("contract:write")
    reason = (reason or "").strip()
    errors = []
    if not reason:
        errors.append(FieldError("reason", "reason is required", "REQUIRED"))
    unknown = set(changes) - AMENDABLE
    if unknown:
        errors.append(
            FieldError("changes", f"Not amendable: {', '.join(sorted(unknown))}", "NOT_AMENDABLE")
        )
    if not changes:
        errors.append(FieldError("changes", "No changes given", "REQUIRED"))
    raise_if(errors)
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        if contract["status"] not in SIGNED_STATES:
            raise ValidationFailed(
                FieldError(
                    "status",
                    f"Amendments apply to signed contracts, not {contract['status']}",
                    "INVALID_TRANSITION",
                )
            )
        if await Amendment.exists().where(
            Amendment.contract == contract_id, Amendment.status == AmendmentStatus.pending
        ):
            raise ValidationFailed(
                FieldError("changes", "An amendment is already pending", "AMENDMENT_PENDING")
            )
        cleaned = await _clean(changes, contract)
        count = await Amendment.count().where(Amendment.contract == contract_id)
        row = (
            await Amendment.insert(
                Amendment(
                    contract=contract_id,
                    number=count + 1,
                    reason=reason,
                    changes=json.loads(json.dumps(cleaned, default=str)),
                    requested_by=actor.user_id,
                )
            ).returning(*Amendment.all_columns())
        )[0]
        await record(
            actor,
            "requested",
            "contract_amendment",
            row["id"],
            after={**row, "customer": contract["customer"]},
        )
    return row


async def decide_amendment(
    actor: Actor, amendment_id: int, approve: bool, comment: str = ""
) -> dict:
    """Approve (apply the changes, keep a new version with the diff) or reject."""
    actor.require("contract:approve")
    async with unit_of_work():
        row = await Amendment.select().where(Amendment.id == amendment_id).first()
        if row is None:
            raise NotFound(f"Amendment {amendment_id} not found")
        contract = await get_contract(actor, row["contract"], for_update=True)
        if row["status"] != AmendmentStatus.pending:
            raise ValidationFailed(
                FieldError("status", "Amendment was already decided", "INVALID_TRANSITION")
            )
        status = AmendmentStatus.approved if approve else AmendmentStatus.rejected
        await Amendment.update(
            {
                Amendment.status: status,
                Amendment.decided_by: actor.user_id,
                Amendment.comment: comment or "",
                Amendment.decided_at: now(),
            }
        ).where(Amendment.id == amendment_id)
        if approve:
            changes = (
                row["changes"]
                if isinstance(row["changes"], dict)
                else json.loads(row["changes"] or "{}")
            )
            values: dict[str, Any] = {}
            for k, v in changes.items():
                values[k] = date.fromisoformat(v) if k in DATE_FIELDS and v else v
            diff = {
                k: {"before": contract.get(k), "after": v}
                for k, v in values.items()
                if contract.get(k) != v
            }
            values.update(version=contract["version"] + 1, updated_at=now())
            await Contract.update(values).where(Contract.id == contract["id"])
            await _save_version({**contract, **values}, amendment_id, diff)
        await record(
            actor,
            status.value,
            "contract_amendment",
            amendment_id,
            after={
                "contract": contract["id"],
                "comment": comment or "",
                "customer": contract["customer"],
            },
        )
        row["status"] = status.value
    return row
