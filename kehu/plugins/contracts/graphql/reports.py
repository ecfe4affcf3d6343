"""Output types of the receivables reports: aging, statements, provision, metrics, dunning."""

import datetime as dt
from decimal import Decimal
from typing import Any

import strawberry

from kehu.core.graphql.base import Money, encode_id
from kehu.core.graphql.types import CustomerRef
from kehu.plugins.contracts.graphql.types import _m


@strawberry.type(name="AgingBucket")
class AgingBucketType:
    name: str
    amount: Money


@strawberry.type(name="AgingRow")
class AgingRowType:
    group_id: strawberry.ID | None = strawberry.field(
        description="Customer, User or Team global id (null for groupBy NONE or no owner)"
    )
    currency: str
    buckets: list[AgingBucketType]
    total: Money


@strawberry.type(name="StatementLine")
class StatementLineType:
    date: dt.date
    kind: str
    reference: str
    debit: Money
    credit: Money
    balance: Money


@strawberry.type(name="Statement", description="对账单: reconciliation statement.")
class StatementType:
    currency: str
    date_from: dt.date
    date_to: dt.date
    opening_balance: Money
    invoices: Money
    payments: Money = strawberry.field(description="Payments received net of refunds")
    credits: Money = strawberry.field(description="Credit notes and write-offs")
    closing_balance: Money
    lines: list[StatementLineType]


@strawberry.type(name="ProvisionLine")
class ProvisionLineType:
    customer: CustomerRef | None
    rating: str
    open: Money
    provision: Money


@strawberry.type(name="BadDebtProvision", description="坏账准备")
class ProvisionType:
    lines: list[ProvisionLineType]
    totals: list[Money]


@strawberry.type(name="ReceivablesMetrics")
class MetricsType:
    currency: str
    due: Money
    collected: Money
    collection_rate: Decimal | None
    overdue_amount: Money
    open_amount: Money
    dso: Decimal | None = strawberry.field(description="Days sales outstanding")
    contracts_submitted: int
    contracts_signed: int
    signing_rate: Decimal | None
    aging_totals: list[AgingBucketType]


@strawberry.type(name="DunningAction")
class DunningActionType:
    installment_id: strawberry.ID
    contract_number: str
    customer_id: strawberry.ID
    step: str
    days_overdue: int
    open: Money


def _group_id(group_by: str, value: Any) -> strawberry.ID | None:
    name = {"customer": "Customer", "owner": "User", "team": "Team"}.get(group_by)
    return encode_id(name, value) if name and value else None


def _aging(rows: list[Any], group_by: str) -> list[AgingRowType]:
    return [
        AgingRowType(
            group_id=_group_id(group_by, r.group),
            currency=r.currency,
            buckets=[
                AgingBucketType(name=n, amount=_m(v, r.currency)) for n, v in r.buckets.items()
            ],
            total=_m(r.total, r.currency),
        )
        for r in rows
    ]
