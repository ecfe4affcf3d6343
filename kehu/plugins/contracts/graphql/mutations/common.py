"""Payload types and helpers the contracts mutations share."""

from typing import Any

import strawberry

from kehu.core.graphql.base import (
    UserError,
    payload,
    pk_of,
)
from kehu.core.money import Money as MoneyValue
from kehu.plugins.contracts.graphql.customers import CreditStatusType
from kehu.plugins.contracts.graphql.inputs import AllocationInput
from kehu.plugins.contracts.graphql.types import (
    AmendmentType,
    ContractRef,
    CreditType,
    DisputeType,
    InstallmentType,
    InvoiceType,
    MilestoneType,
    PaymentType,
    contract_type,
)


@strawberry.type
class ContractPayload:
    contract: ContractRef | None
    errors: list[UserError]


@strawberry.type
class SchedulePayload:
    installments: list[InstallmentType] | None
    errors: list[UserError]


@strawberry.type
class CreditStatusPayload:
    credit_status: CreditStatusType | None
    errors: list[UserError]


@strawberry.type
class InvoicePayload:
    invoice: InvoiceType | None
    errors: list[UserError]


@strawberry.type
class PaymentPayload:
    payment: PaymentType | None
    errors: list[UserError]


@strawberry.type
class CreditPayload:
    credit: CreditType | None
    errors: list[UserError]


@strawberry.type
class MilestonePayload:
    milestone: MilestoneType | None
    errors: list[UserError]


@strawberry.type
class DisputePayload:
    dispute: DisputeType | None
    errors: list[UserError]


@strawberry.type
class AmendmentPayload:
    amendment: AmendmentType | None
    errors: list[UserError]


def _allocs(items: list[AllocationInput]) -> list[tuple[int, MoneyValue]]:
    return [
        (
            pk_of(a.installment_id, "Installment", f"allocations[{i}].installmentId"),
            a.amount.to_value(),
        )
        for i, a in enumerate(items)
    ]


async def _contract(work: Any) -> ContractPayload:
    async def run() -> Any:
        return contract_type().from_row(await work())

    return await payload(ContractPayload, "contract", run)


def _cid(gid: str, field: str = "id") -> int:
    return pk_of(gid, "Contract", field)
