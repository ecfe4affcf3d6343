"""Credit notes, write-offs and refunds."""

from datetime import date
from typing import Any

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.plugins.contracts.services.common import lock, today
from kehu.plugins.contracts.services.payments import get_payment
from kehu.plugins.contracts.services.schedules import open_minor, visible_installment
from kehu.plugins.contracts.tables import Credit, CreditKind, Installment, Payment


async def _credit_installment(
    actor: Actor,
    kind: CreditKind,
    installment_id: int,
    amount: Money | None,
    reason: str,
    issued_on: date | None,
) -> dict[str, Any]:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(FieldError("reason", "reason is required", "REQUIRED"))
    async with unit_of_work():
        await visible_installment(actor, installment_id)
        inst = await lock(Installment.select().where(Installment.id == installment_id)).first()
        amount = amount or Money(open_minor(inst), inst["currency"])
        if amount.currency != inst["currency"]:
            raise ValidationFailed(FieldError("amount", "Wrong currency", "CURRENCY_MISMATCH"))
        if amount.minor <= 0:
            raise ValidationFailed(FieldError("amount", "Nothing to credit", "INVALID"))
        if amount.minor > open_minor(inst):
            raise ValidationFailed(
                FieldError(
                    "amount",
                    f"{amount} exceeds the open amount {Money(open_minor(inst), inst['currency'])}",
                    "OVER_ALLOCATION",
                )
            )
        await Installment.update(
            {Installment.credited_minor: Installment.credited_minor + amount.minor}
        ).where(Installment.id == installment_id)
        row = (
            await Credit.insert(
                Credit(
                    kind=kind.value,
                    customer=inst["customer"],
                    installment=installment_id,
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    issued_on=issued_on or today(),
                    reason=reason,
                    created_by=actor.user_id,
                )
            ).returning(*Credit.all_columns())
        )[0]
        await record(
            actor, kind.value, "credit", row["id"], after={**row, "contract": inst["contract"]}
        )
    return row


async def issue_credit_note(
    actor: Actor,
    installment_id: int,
    amount: Money,
    reason: str,
    issued_on: date | None = None,
) -> dict[str, Any]:
    """A credit note (红字发票/折让) reducing an installment's open amount."""
    actor.require("payment:write")
    return await _credit_installment(
        actor, CreditKind.credit_note, installment_id, amount, reason, issued_on
    )


async def write_off(
    actor: Actor,
    installment_id: int,
    reason: str,
    amount: Money | None = None,
    issued_on: date | None = None,
) -> dict[str, Any]:
    """Write off (核销坏账) an installment's open amount (all of it by default)."""
    actor.require("payment:write")
    return await _credit_installment(
        actor, CreditKind.write_off, installment_id, amount, reason, issued_on
    )


async def refund_payment(
    actor: Actor, payment_id: int, amount: Money, reason: str, issued_on: date | None = None
) -> dict[str, Any]:
    """Pay back part of a payment's unallocated remainder (an overpayment or prepayment)."""
    actor.require("payment:write")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(FieldError("reason", "reason is required", "REQUIRED"))
    async with unit_of_work():
        await get_payment(actor, payment_id)
        payment = await lock(Payment.select().where(Payment.id == payment_id)).first()
        free = payment["amount_minor"] - payment["allocated_minor"] - payment["refunded_minor"]
        if amount.currency != payment["currency"]:
            raise ValidationFailed(FieldError("amount", "Wrong currency", "CURRENCY_MISMATCH"))
        if not 0 < amount.minor <= free:
            raise ValidationFailed(
                FieldError(
                    "amount",
                    f"A refund must be positive and at most the unallocated "
                    f"{Money(free, payment['currency'])}",
                    "EXCEEDS_PAYMENT",
                )
            )
        await Payment.update({Payment.refunded_minor: Payment.refunded_minor + amount.minor}).where(
            Payment.id == payment_id
        )
        row = (
            await Credit.insert(
                Credit(
                    kind=CreditKind.refund.value,
                    customer=payment["customer"],
                    payment=payment_id,
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    issued_on=issued_on or today(),
                    reason=reason,
                    created_by=actor.user_id,
                )
            ).returning(*Credit.all_columns())
        )[0]
        await record(actor, "refunded", "payment", payment_id, after={**row, "credit": row["id"]})
    return row
