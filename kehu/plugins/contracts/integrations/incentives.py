"""What contracts tells the incentives plugin: commission sources (``kehu_commission_sources``)
and the invoiced and collected actuals (``kehu_incentive_actuals``).

- ``invoiced``: invoices (+, ``issued_on``) and credit notes on invoiced installments (−): a
  reversed invoice is never skipped.
- ``collected``: money actually received for a contract — payments recorded against it (+,
  ``received_on``), allocations of on-account payments to its installments (+, ``applied_on``),
  refunds of its payments (−). A partial payment counts only what was paid.

A source's owner, team and default participant (the owner as AM) are the contract's; the
pipeline_contracts bridge adds the opportunity team (``kehu_commission_participants``).
"""

from datetime import date
from decimal import Decimal
from typing import Any

from kehu.plugins.contracts.tables import Allocation, Contract, Credit, Invoice, Payment
from kehu.plugins.incentives.hookspecs import Period, Source, Value, participants

MONEY_METRICS = ("invoiced_amount", "collected_amount")


async def _contracts(ids: set[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await Contract.select(Contract.id, Contract.number, Contract.owner, Contract.team).where(
        Contract.id.is_in(sorted(ids))
    )
    return {r["id"]: r for r in rows}


def _source(
    basis: str, key: str, day: date, minor: int, currency: str, ref: str, contract: dict[str, Any]
) -> Source:
    return Source(
        key,
        basis,
        day,
        minor,
        currency,
        f"{ref} on {contract['number']}",
        contract["owner"],
        contract["team"],
        participants(contract["owner"], []),
        contract["id"],
    )


async def invoiced_sources(period: Period) -> list[Source]:
    invoices = (
        await Invoice.select()
        .where(Invoice.issued_on >= period.start, Invoice.issued_on <= period.end)
        .order_by(Invoice.id)
    )
    credits = (
        await Credit.select(*Credit.all_columns(), Credit.installment.contract.as_alias("contract"))
        .where(
            Credit.kind == "credit_note",
            Credit.installment.is_not_null(),
            Credit.issued_on >= period.start,
            Credit.issued_on <= period.end,
        )
        .order_by(Credit.id)
    )
    contracts = await _contracts(
        {r["contract"] for r in invoices} | {r["contract"] for r in credits}
    )
    out = [
        _source(
            "invoiced",
            f"invoice:{r['id']}",
            r["issued_on"],
            r["amount_minor"],
            r["currency"],
            f"invoice {r['number']}",
            contracts[r["contract"]],
        )
        for r in invoices
    ]
    out += [
        _source(
            "invoiced",
            f"credit:{r['id']}",
            r["issued_on"],
            -r["amount_minor"],
            r["currency"],
            f"credit note C-{r['id']} reversing invoiced amount",
            contracts[r["contract"]],
        )
        for r in credits
    ]
    return out


async def collected_sources(period: Period) -> list[Source]:
    p, s = period.start, period.end
    payments = (
        await Payment.select()
        .where(Payment.contract.is_not_null(), Payment.received_on >= p, Payment.received_on <= s)
        .order_by(Payment.id)
    )
    allocs = (
        await Allocation.select(
            *Allocation.all_columns(),
            Allocation.installment.contract.as_alias("contract"),
            Allocation.installment.seq.as_alias("seq"),
            Allocation.payment.currency.as_alias("cur"),
        )
        .where(
            Allocation.payment.contract.is_null(),
            Allocation.applied_on >= p,
            Allocation.applied_on <= s,
        )
        .order_by(Allocation.id)
    )
    refunds = (
        await Credit.select(*Credit.all_columns(), Credit.payment.contract.as_alias("contract"))
        .where(
            Credit.kind == "refund",
            Credit.payment.contract.is_not_null(),
            Credit.issued_on >= p,
            Credit.issued_on <= s,
        )
        .order_by(Credit.id)
    )
    contracts = await _contracts({r["contract"] for r in [*payments, *allocs, *refunds]})
    out = [
        _source(
            "collected",
            f"payment:{r['id']}",
            r["received_on"],
            r["amount_minor"],
            r["currency"],
            f"payment P-{r['id']} received",
            contracts[r["contract"]],
        )
        for r in payments
    ]
    out += [
        _source(
            "collected",
            f"alloc:{r['id']}",
            r["applied_on"],
            r["amount_minor"],
            r["cur"],
            f"payment P-{r['payment']} allocated to installment {r['seq']}",
            contracts[r["contract"]],
        )
        for r in allocs
    ]
    out += [
        _source(
            "collected",
            f"refund:{r['id']}",
            r["issued_on"],
            -r["amount_minor"],
            r["currency"],
            f"refund R-{r['id']} of payment P-{r['payment']}",
            contracts[r["contract"]],
        )
        for r in refunds
    ]
    return out


async def commission_sources(basis: str, period: Period) -> list[Source]:
    if basis == "invoiced":
        return await invoiced_sources(period)
    if basis == "collected":
        return await collected_sources(period)
    return []


_INVOICED = (
    # invoices (+) and credit notes on invoiced installments (−), by the contract
    "SELECT {key} AS k, i.amount_minor AS amount FROM contracts_invoice i "
    "JOIN contracts_contract c ON c.id = i.contract "
    "WHERE i.issued_on >= {{}} AND i.issued_on <= {{}} AND i.currency = {{}} "
    "UNION ALL SELECT {key}, -r.amount_minor FROM contracts_credit r "
    "JOIN contracts_installment n ON n.id = r.installment "
    "JOIN contracts_contract c ON c.id = n.contract WHERE r.kind = 'credit_note' "
    "AND r.issued_on >= {{}} AND r.issued_on <= {{}} AND r.currency = {{}}"
)
_COLLECTED = (
    # payments for a contract (+), allocations of on-account payments (+), refunds (−)
    "SELECT {key} AS k, p.amount_minor AS amount FROM contracts_payment p "
    "JOIN contracts_contract c ON c.id = p.contract "
    "WHERE p.received_on >= {{}} AND p.received_on <= {{}} AND p.currency = {{}} "
    "UNION ALL SELECT {key}, a.amount_minor FROM contracts_allocation a "
    "JOIN contracts_payment p ON p.id = a.payment "
    "JOIN contracts_installment n ON n.id = a.installment "
    "JOIN contracts_contract c ON c.id = n.contract WHERE p.contract IS NULL "
    "AND a.applied_on >= {{}} AND a.applied_on <= {{}} AND p.currency = {{}} "
    "UNION ALL SELECT {key}, -r.amount_minor FROM contracts_credit r "
    "JOIN contracts_payment p ON p.id = r.payment "
    "JOIN contracts_contract c ON c.id = p.contract WHERE r.kind = 'refund' "
    "AND r.issued_on >= {{}} AND r.issued_on <= {{}} AND r.currency = {{}}"
)


async def incentive_actuals(
    metric: str, period: Period, group: str, currency: str
) -> dict[Any, Value] | None:
    """Invoiced or collected money of the period in ``currency`` per contract owner / team /
    company: the same sources as the commission ledger, summed in SQL."""
    if metric not in MONEY_METRICS:
        return None
    key = {"user": "c.owner", "team": "c.team"}.get(group, "0")
    parts = _INVOICED if metric == "invoiced_amount" else _COLLECTED
    params = [period.start, period.end, currency] * (parts.count("UNION ALL") + 1)
    rows = await Contract.raw(
        f"SELECT k, SUM(amount) AS s FROM ({parts.format(key=key)}) x GROUP BY k", *params
    )
    return {r["k"]: Value(Decimal(int(r["s"])), currency) for r in rows}
