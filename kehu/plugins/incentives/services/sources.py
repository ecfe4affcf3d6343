"""Commission sources: the money events a commission is computed from, read from the source
tables (not from event payloads), so recomputation always reflects the current truth.

- ``won``: won opportunities by ``closed_at`` (a reopened deal simply stops being a source).
- ``invoiced``: invoices (+, ``issued_on``) and credit notes on invoiced installments (−): a
  reversed invoice is never skipped.
- ``collected``: money actually received for a contract — payments recorded against it (+,
  ``received_on``), allocations of on-account payments to its installments (+, ``applied_on``),
  refunds of its payments (−). A partial payment counts only what was paid.

Participants come from the opportunity team (AM/TS/SC/BD); the owner is the AM when the team
has none. Contract sources use the opportunity linked by ``pipeline_contracts`` when that
plugin is enabled, else the contract owner as AM.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kehu.plugins.incentives.services.actuals import bounds, plugin_names
from kehu.plugins.incentives.services.periods import Period


@dataclass(frozen=True)
class Source:
    key: str  # deterministic: "won:12", "invoice:3", "credit:5", "payment:7", "alloc:9"
    basis: str
    day: date
    base_minor: int  # signed: reversals and refunds are negative
    currency: str
    ref: str  # human reference: "payment P-7 allocated to HT-2026-00001"
    owner: int | None
    team: int | None
    participants: tuple[tuple[int, str], ...] = field(default=())


async def _teams(opportunity_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    from kehu.plugins.pipeline.tables import TeamMember

    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if opportunity_ids:
        rows = (
            await TeamMember.select(TeamMember.opportunity, TeamMember.user, TeamMember.role)
            .where(TeamMember.opportunity.is_in(opportunity_ids))
            .order_by(TeamMember.id)
        )
        for r in rows:
            out[r["opportunity"]].append((r["user"], r["role"]))
    return out


def _participants(owner: int | None, team: list[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    members = list(dict.fromkeys(team))
    if owner is not None and not any(role == "am" for _, role in members):
        members.insert(0, (owner, "am"))
    return tuple(members)


async def won(period: Period) -> list[Source]:
    from kehu.plugins.pipeline.tables import Opportunity as O

    lo, hi = bounds(period)
    rows = (
        await O.select(O.id, O.name, O.amount_minor, O.currency, O.owner, O.team, O.closed_at)
        .where(O.status == "won", O.closed_at >= lo, O.closed_at < hi)
        .order_by(O.id)
    )
    teams = await _teams([r["id"] for r in rows])
    return [
        Source(
            f"won:{r['id']}",
            "won",
            r["closed_at"].date(),
            r["amount_minor"],
            r["currency"],
            f"won opportunity #{r['id']} {r['name']!r}",
            r["owner"],
            r["team"],
            _participants(r["owner"], teams[r["id"]]),
        )
        for r in rows
    ]


async def _contracts(ids: set[int]) -> dict[int, dict[str, Any]]:
    from kehu.plugins.contracts.tables import Contract

    if not ids:
        return {}
    rows = await Contract.select(Contract.id, Contract.number, Contract.owner, Contract.team).where(
        Contract.id.is_in(sorted(ids))
    )
    out = {r["id"]: {**r, "participants": _participants(r["owner"], [])} for r in rows}
    if "pipeline_contracts" in plugin_names():
        from kehu.plugins.pipeline_contracts.tables import ContractSource

        links = await ContractSource.select(
            ContractSource.contract, ContractSource.opportunity
        ).where(ContractSource.contract.is_in(sorted(ids)))
        teams = await _teams([link["opportunity"] for link in links])
        for link in links:
            c = out[link["contract"]]
            if teams[link["opportunity"]]:
                c["participants"] = _participants(c["owner"], teams[link["opportunity"]])
    return out


def _make(
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
        contract["participants"],
    )


async def invoiced(period: Period) -> list[Source]:
    from kehu.plugins.contracts.tables import Credit, Invoice

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
        _make(
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
        _make(
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


async def collected(period: Period) -> list[Source]:
    from kehu.plugins.contracts.tables import Allocation, Credit, Payment

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
        _make(
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
        _make(
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
        _make(
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


async def for_basis(basis: str, period: Period) -> list[Source]:
    if basis == "won":
        return await won(period)
    if "contracts" not in plugin_names():
        return []
    return await (invoiced(period) if basis == "invoiced" else collected(period))
