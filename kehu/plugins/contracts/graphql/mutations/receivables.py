"""Receivables mutations: payment schedule, credit profile, invoices, payments, allocations,
credit notes, write-offs, refunds."""

import strawberry

from kehu.core.graphql.base import pk_of
from kehu.core.graphql.mutations import mutation
from kehu.plugins.contracts import services
from kehu.plugins.contracts.graphql.customers import CreditStatusType
from kehu.plugins.contracts.graphql.inputs import (
    AllocatePaymentInput,
    CreditInstallmentInput,
    IssueInvoiceInput,
    RecordPaymentInput,
    RefundPaymentInput,
    SetCreditProfileInput,
    SetScheduleInput,
)
from kehu.plugins.contracts.graphql.mutations.common import _allocs, _cid
from kehu.plugins.contracts.graphql.types import (
    CreditType,
    InstallmentType,
    InvoiceType,
    PaymentType,
)


@strawberry.type
class ReceivableMutations:
    @mutation(
        description="Enter or generate the payment schedule.",
        payload="SchedulePayload",
        field="installments",
    )
    async def set_payment_schedule(
        self, info: strawberry.Info, input: SetScheduleInput
    ) -> list[InstallmentType]:
        actor = info.context.actor
        cid = _cid(input.contract_id, "contractId")
        if input.installments is None:
            rows = await services.generate_schedule(actor, cid, input.base_date)
        else:
            rows = await services.set_schedule(
                actor, cid, [(i.due_date, i.amount.to_value()) for i in input.installments]
            )
        return [InstallmentType.from_row(r) for r in rows]

    @mutation(description="Set a customer's credit limit and rating.")
    async def set_credit_profile(
        self, info: strawberry.Info, input: SetCreditProfileInput
    ) -> CreditStatusType:
        actor = info.context.actor
        cid = pk_of(input.customer_id, "Customer", "customerId")
        await services.set_credit_profile(
            actor,
            cid,
            limit=input.credit_limit.to_value(),
            rating=input.rating,
            notes=input.notes,
        )
        return CreditStatusType.of((await services.credit_statuses([cid]))[cid])

    @mutation(description="Issue an invoice (invoice:write).")
    async def issue_invoice(self, info: strawberry.Info, input: IssueInvoiceInput) -> InvoiceType:
        actor = info.context.actor
        return InvoiceType.from_row(
            await services.issue_invoice(
                actor,
                _cid(input.contract_id, "contractId"),
                installment_id=pk_of(input.installment_id, "Installment", "installmentId"),
                amount=input.amount.to_value() if input.amount else None,
                issued_on=input.issued_on,
            )
        )

    @mutation(
        description="Record a payment and allocate it (payment:write; "
        "idempotencyKey makes retries safe)."
    )
    async def record_payment(self, info: strawberry.Info, input: RecordPaymentInput) -> PaymentType:
        actor = info.context.actor
        result = await services.record_payment(
            actor,
            pk_of(input.customer_id, "Customer", "customerId"),
            input.amount.to_value(),
            method=input.method.value,
            received_on=input.received_on,
            reference=input.reference,
            contract_id=pk_of(input.contract_id, "Contract", "contractId"),
            allocations=_allocs(input.allocations),
            idempotency_key=input.idempotency_key,
        )
        return PaymentType.from_row(result.payment)

    @mutation(description="Allocate a payment's unallocated remainder.")
    async def allocate_payment(
        self, info: strawberry.Info, input: AllocatePaymentInput
    ) -> PaymentType:
        actor = info.context.actor
        result = await services.allocate_payment(
            actor, pk_of(input.payment_id, "Payment", "paymentId"), _allocs(input.allocations)
        )
        return PaymentType.from_row(result.payment)

    @mutation(
        description="Issue a credit note against an installment.",
        payload="CreditPayload",
        field="credit",
    )
    async def issue_credit_note(
        self, info: strawberry.Info, input: CreditInstallmentInput
    ) -> CreditType:
        actor = info.context.actor
        if input.amount is None:
            from kehu.core.errors import ValidationFailed

            raise ValidationFailed("amount is required", field="amount")
        return CreditType.from_row(
            await services.issue_credit_note(
                actor,
                pk_of(input.installment_id, "Installment", "installmentId"),
                input.amount.to_value(),
                input.reason,
                input.issued_on,
            )
        )

    @mutation(
        description="Write off an installment's open amount (bad debt).",
        payload="CreditPayload",
        field="credit",
    )
    async def write_off_installment(
        self, info: strawberry.Info, input: CreditInstallmentInput
    ) -> CreditType:
        actor = info.context.actor
        return CreditType.from_row(
            await services.write_off(
                actor,
                pk_of(input.installment_id, "Installment", "installmentId"),
                input.reason,
                input.amount.to_value() if input.amount else None,
                input.issued_on,
            )
        )

    @mutation(
        description="Refund part of a payment's unallocated remainder.",
        payload="CreditPayload",
        field="credit",
    )
    async def refund_payment(self, info: strawberry.Info, input: RefundPaymentInput) -> CreditType:
        actor = info.context.actor
        return CreditType.from_row(
            await services.refund_payment(
                actor,
                pk_of(input.payment_id, "Payment", "paymentId"),
                input.amount.to_value(),
                input.reason,
                input.issued_on,
            )
        )
