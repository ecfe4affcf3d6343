"""What contracts tells the tickets plugin (``kehu_ticket_sla_policy``,
``kehu_churn_signals``): the SLA policy a signed contract entitles its customer to, and churn
signals (overdue receivables, renewals due)."""

from datetime import date, datetime, timedelta
from typing import Any

from kehu.plugins.contracts.services import config
from kehu.plugins.contracts.tables import Contract, ContractStatus, Installment

ACTIVE = [ContractStatus.signed.value, ContractStatus.in_execution.value]


async def sla_policies(customer_ids: list[int]) -> dict[int, str]:
    """``{customer: policy}`` from the most recently signed active contract naming one."""
    if not customer_ids:
        return {}
    rows = (
        await Contract.select(Contract.customer, Contract.sla_policy)
        .where(
            Contract.customer.is_in(sorted(set(customer_ids))),
            Contract.status.is_in(ACTIVE),
            Contract.sla_policy != "",
        )
        .order_by(Contract.signed_at, Contract.id, ascending=False)
    )
    out: dict[int, str] = {}
    for row in rows:
        out.setdefault(row["customer"], row["sla_policy"])
    return out


async def churn_signals(customer_ids: list[int], now: datetime) -> list[Any]:
    """Overdue receivables (score grows to 1 at 60 days) and renewals due within
    ``churn_renewal_days`` (score grows as the date nears)."""
    from kehu.plugins.tickets.hookspecs import Signal

    if not customer_ids:
        return []
    ids, today, settings = sorted(set(customer_ids)), now.date(), config()
    signals = []
    overdue = await Installment.select(Installment.customer, Installment.due_date).where(
        Installment.customer.is_in(ids),
        Installment.due_date < today,
        Installment.amount_minor > Installment.paid_minor + Installment.credited_minor,
    )
    oldest: dict[int, date] = {}
    for row in overdue:
        oldest[row["customer"]] = min(row["due_date"], oldest.get(row["customer"], today))
    for customer, due in sorted(oldest.items()):
        days = (today - due).days
        signals.append(
            Signal(
                customer,
                "contracts",
                f"Receivable {days} days overdue",
                settings.churn_overdue_weight,
                min(1.0, days / 60),
            )
        )
    horizon = today + timedelta(days=settings.churn_renewal_days)
    renewals = await Contract.select(
        Contract.customer, Contract.number, Contract.renewal_date
    ).where(
        Contract.customer.is_in(ids),
        Contract.status.is_in(ACTIVE),
        Contract.renewal_date >= today,
        Contract.renewal_date <= horizon,
    )
    for row in sorted(renewals, key=lambda r: r["renewal_date"]):
        left = (row["renewal_date"] - today).days
        signals.append(
            Signal(
                row["customer"],
                "contracts",
                f"Contract {row['number']} renews in {left} days",
                settings.churn_renewal_weight,
                1 - left / settings.churn_renewal_days,
            )
        )
    return signals
