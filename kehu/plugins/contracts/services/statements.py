"""Reconciliation statements (对账单) of a customer."""

from dataclasses import dataclass
from datetime import date

from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.permissions import Actor
from kehu.core.services.customers import get_customer
from kehu.plugins.contracts.services.common import config
from kehu.plugins.contracts.tables import Contract, Credit, CreditKind, Invoice, Payment


@dataclass(frozen=True)
class StatementLine:
    on: date
    kind: str  # invoice, payment, refund, credit_note, write_off
    reference: str
    debit: int
    credit: int
    balance: int


@dataclass(frozen=True)
class Statement:
    customer_id: int
    currency: str
    date_from: date
    date_to: date
    opening: int
    invoices: int
    payments: int
    credits: int
    closing: int
    lines: list[StatementLine]


async def statement(
    actor: Actor, customer_id: int, date_from: date, date_to: date, currency: str | None = None
) -> Statement:
    """对账单: balance = invoices − payments (net of refunds) − credits (credit notes and
    write-offs). ``closing = opening + invoices − payments − credits`` always holds."""
    actor.require("receivable:read")
    if date_to < date_from:
        raise ValidationFailed(FieldError("to", "to is before from", "INVALID_RANGE"))
    await get_customer(actor, customer_id)
    if currency is None:
        last = (
            await Contract.select(Contract.currency)
            .where(Contract.customer == customer_id)
            .order_by(Contract.id, ascending=False)
            .first()
        )
        currency = last["currency"] if last else config().default_currency
    docs: list[tuple[date, int, str, str, int]] = []  # (on, order, kind, ref, signed amount)
    for r in await Invoice.select().where(
        Invoice.customer == customer_id, Invoice.currency == currency, Invoice.issued_on <= date_to
    ):
        docs.append((r["issued_on"], r["id"], "invoice", r["number"], r["amount_minor"]))
    for r in await Payment.select().where(
        Payment.customer == customer_id,
        Payment.currency == currency,
        Payment.received_on <= date_to,
    ):
        ref = r["reference"] or f"payment {r['id']}"
        docs.append((r["received_on"], r["id"], "payment", ref, -r["amount_minor"]))
    for r in await Credit.select().where(
        Credit.customer == customer_id, Credit.currency == currency, Credit.issued_on <= date_to
    ):
        sign = 1 if r["kind"] == CreditKind.refund else -1
        docs.append(
            (r["issued_on"], r["id"], r["kind"], r["reason"][:60], sign * r["amount_minor"])
        )
    docs.sort(key=lambda d: (d[0], d[2], d[1]))
    opening = sum(d[4] for d in docs if d[0] < date_from)
    invoices = payments = credits = 0
    balance = opening
    lines = []
    for on, _, kind, ref, amount in docs:
        if on < date_from:
            continue
        if kind == "invoice":
            invoices += amount
        elif kind in ("payment", "refund"):
            payments -= amount
        else:
            credits -= amount
        balance += amount
        lines.append(StatementLine(on, kind, ref, max(amount, 0), max(-amount, 0), balance))
    return Statement(
        customer_id,
        currency,
        date_from,
        date_to,
        opening,
        invoices,
        payments,
        credits,
        opening + invoices - payments - credits,
        lines,
    )
