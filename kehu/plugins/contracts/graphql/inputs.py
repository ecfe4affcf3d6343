"""Contracts GraphQL inputs: the contract filter and the mutations' inputs."""

import datetime as dt
from typing import Any

import strawberry

from kehu.core.graphql.base import MoneyInput, pk_of
from kehu.plugins.contracts import services
from kehu.plugins.contracts.graphql.types import (
    ContractStatusEnum,
    MilestoneKindEnum,
    PaymentMethodEnum,
)


@strawberry.input
class ContractFilterInput:
    customer_id: strawberry.ID | None = None
    status: ContractStatusEnum | None = None
    owner_id: strawberry.ID | None = None

    def to_filter(self) -> services.ContractFilter:
        return services.ContractFilter(
            customer_id=pk_of(self.customer_id, "Customer", "customerId"),
            status=self.status.value if self.status else None,
            owner_id=pk_of(self.owner_id, "User", "ownerId"),
        )


@strawberry.input
class ContractLineInput:
    product: str
    specification: str = ""
    quantity: int = 1
    unit_price: MoneyInput


@strawberry.input
class ContractFieldsInput:
    title: str | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    delivery_deadline: dt.date | None = strawberry.UNSET
    payment_method: PaymentMethodEnum | None = strawberry.UNSET
    payment_terms: str | None = strawberry.field(
        default=strawberry.UNSET,
        description='Percentages with optional day offsets: "30/70", "30@0/70@60"',
    )
    breach_liability: str | None = strawberry.UNSET
    acceptance_terms: str | None = strawberry.UNSET
    after_sales_terms: str | None = strawberry.UNSET
    sla_policy: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="The tickets SLA policy this contract entitles its customer to (e.g. gold)",
    )
    start_date: dt.date | None = strawberry.UNSET
    end_date: dt.date | None = strawberry.UNSET
    renewal_date: dt.date | None = strawberry.UNSET
    owner_id: strawberry.ID | None = strawberry.UNSET
    lines: list[ContractLineInput] | None = strawberry.UNSET

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in (
            "title",
            "currency",
            "delivery_deadline",
            "payment_terms",
            "breach_liability",
            "acceptance_terms",
            "after_sales_terms",
            "sla_policy",
            "start_date",
            "end_date",
            "renewal_date",
        ):
            value = getattr(self, name)
            if value is not strawberry.UNSET:
                data[name] = value
        if self.payment_method is not strawberry.UNSET:
            data["payment_method"] = self.payment_method.value if self.payment_method else ""
        if self.owner_id is not strawberry.UNSET and self.owner_id is not None:
            data["owner"] = pk_of(self.owner_id, "User", "ownerId")
        if self.lines is not strawberry.UNSET:
            data["lines"] = [
                {
                    "product": ln.product,
                    "specification": ln.specification,
                    "quantity": ln.quantity,
                    "unit_price": ln.unit_price.to_value(),
                }
                for ln in self.lines or []
            ]
        return data


@strawberry.input
class CreateContractInput(ContractFieldsInput):
    customer_id: strawberry.ID


@strawberry.input
class UpdateContractInput(ContractFieldsInput):
    id: strawberry.ID
    expected_version: int


@strawberry.input
class ContractRefInput:
    id: strawberry.ID


@strawberry.input
class DecideContractInput:
    id: strawberry.ID
    approve: bool
    comment: str = ""


@strawberry.input
class SignContractInput:
    id: strawberry.ID
    signed_on: dt.date | None = None
    credit_override_reason: str | None = strawberry.field(
        default=None,
        description="Needed over the credit limit or for high-risk customers (credit:override)",
    )


@strawberry.input
class TerminateContractInput:
    id: strawberry.ID
    reason: str


@strawberry.input
class InstallmentInput:
    due_date: dt.date
    amount: MoneyInput


@strawberry.input
class SetScheduleInput:
    contract_id: strawberry.ID
    installments: list[InstallmentInput] | None = strawberry.field(
        default=None, description="Entered by hand; omit to generate from the payment terms"
    )
    base_date: dt.date | None = None


@strawberry.input
class SetCreditProfileInput:
    customer_id: strawberry.ID
    credit_limit: MoneyInput
    rating: str
    notes: str = ""


@strawberry.input
class IssueInvoiceInput:
    contract_id: strawberry.ID
    installment_id: strawberry.ID | None = None
    amount: MoneyInput | None = None
    issued_on: dt.date | None = None


@strawberry.input
class AllocationInput:
    installment_id: strawberry.ID
    amount: MoneyInput


@strawberry.input
class RecordPaymentInput:
    customer_id: strawberry.ID
    amount: MoneyInput
    method: PaymentMethodEnum = PaymentMethodEnum.BANK_TRANSFER  # type: ignore[attr-defined]
    received_on: dt.date | None = None
    reference: str = ""
    contract_id: strawberry.ID | None = None
    allocations: list[AllocationInput] = strawberry.field(default_factory=list)
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeat a request safely: the same key records one payment"
    )


@strawberry.input
class AllocatePaymentInput:
    payment_id: strawberry.ID
    allocations: list[AllocationInput]


@strawberry.input
class CreditInstallmentInput:
    installment_id: strawberry.ID
    amount: MoneyInput | None = strawberry.field(
        default=None, description="Default (write-offs): the whole open amount"
    )
    reason: str
    issued_on: dt.date | None = None


@strawberry.input
class RefundPaymentInput:
    payment_id: strawberry.ID
    amount: MoneyInput
    reason: str
    issued_on: dt.date | None = None


@strawberry.input
class AddMilestoneInput:
    contract_id: strawberry.ID
    kind: MilestoneKindEnum
    title: str = ""
    due_date: dt.date


@strawberry.input
class CompleteMilestoneInput:
    milestone_id: int
    completed_on: dt.date


@strawberry.input
class OpenDisputeInput:
    contract_id: strawberry.ID
    kind: str
    description: str = ""
    amount: MoneyInput | None = None
    legal_involved: bool = False


@strawberry.input
class ResolveDisputeInput:
    dispute_id: int
    resolution: str
    legal_involved: bool | None = None


@strawberry.input
class RequestAmendmentInput:
    contract_id: strawberry.ID
    reason: str
    changes: ContractFieldsInput


@strawberry.input
class DecideAmendmentInput:
    amendment_id: int
    approve: bool
    comment: str = ""
