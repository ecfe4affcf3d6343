"""Invoices issued against installments."""

from datetime import date
from typing import Any

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.plugins.contracts.services.common import (
    RECEIVABLE_STATES,
    S,
    config,
    get_contract,
    next_number,
    today,
)
from kehu.plugins.contracts.tables import Installment, Invoice


async def issue_invoice(
    actor: Actor,
    contract_id: int,
    *,
    installment_id: int | None = None,
    amount: Money | None = None,
    issued_on: date | None = None,
) -> dict[str, Any]:
    """Invoice (开票) an installment (its amount by default) or an amount of a signed contract;
    the invoices of a contract never exceed its total."""
    actor.require("invoice:write")
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        if contract["status"] not in RECEIVABLE_STATES or contract["status"] == S.terminated:
            raise ValidationFailed(
                FieldError("contractId", "Only signed contracts are invoiced", "INVALID_STATE")
            )
        if installment_id is not None:
            inst = await Installment.select().where(Installment.id == installment_id).first()
            if inst is None or inst["contract"] != contract_id:
                raise ValidationFailed(
                    FieldError(
                        "installmentId", "Installment is not part of this contract", "NOT_FOUND"
                    )
                )
            amount = amount or Money(inst["amount_minor"], inst["currency"])
        if amount is None or amount.minor <= 0:
            raise ValidationFailed(FieldError("amount", "amount must be positive"))
        if amount.currency != contract["currency"]:
            raise ValidationFailed(FieldError("amount", "Wrong currency", "CURRENCY_MISMATCH"))
        invoiced = await Invoice.raw(
            "SELECT COALESCE(SUM(amount_minor), 0) AS s FROM contracts_invoice WHERE contract = {}",
            contract_id,
        )
        if int(invoiced[0]["s"]) + amount.minor > contract["total_minor"]:
            raise ValidationFailed(
                FieldError("amount", "Invoices would exceed the contract total", "OVER_INVOICED")
            )
        issued_on = issued_on or today()
        row = (
            await Invoice.insert(
                Invoice(
                    number=await next_number(config().invoice_prefix, issued_on),
                    contract=contract_id,
                    customer=contract["customer"],
                    installment=installment_id,
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    issued_on=issued_on,
                    created_by=actor.user_id,
                )
            ).returning(*Invoice.all_columns())
        )[0]
        await record(actor, "issued", "invoice", row["id"], after=row)
    return row


async def invoices_by_contract(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        rows = (
            await Invoice.select()
            .where(Invoice.contract.is_in(list(set(ids))))
            .order_by(Invoice.issued_on, Invoice.id)
        )
        for row in rows:
            out[row["contract"]].append(row)
    return out


async def get_invoice(actor: Actor, invoice_id: int) -> dict[str, Any]:
    """An invoice of a contract ``actor`` may see, or ``NotFound``."""
    row = await Invoice.select().where(Invoice.id == invoice_id).first()
    if row is None:
        raise NotFound(f"Invoice {invoice_id} not found")
    try:
        await get_contract(actor, row["contract"])
    except NotFound:
        raise NotFound(f"Invoice {invoice_id} not found") from None
    return row
