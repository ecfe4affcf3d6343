"""Contracts GraphQL output types: ``Contract`` (extensible) with its lines, approval steps,
versions, amendments, milestones and disputes, and the ``Installment``, ``Invoice`` and
``Payment`` nodes.

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
Tables are imported as a module alias so no Piccolo table shares a name with a type here."""

import datetime as dt
import json
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.errors import NotFound
from kehu.core.graphql.base import (
    Money,
    Node,
    connection,
    encode_id,
    enum_value,
    extensible,
    gql_enum,
)
from kehu.core.graphql.rows import RowType
from kehu.core.graphql.types import CustomerRef, UserRef
from kehu.core.money import Money as MoneyValue
from kehu.plugins.contracts import services
from kehu.plugins.contracts import tables as t

# The final ``Contract`` type is composed at startup from ``ContractFields`` plus other plugins'
# mixins (``kehu_graphql_type_extensions``) and set as attribute ``Contract`` of this module.
ContractRef = Annotated["Contract", strawberry.lazy(__name__)]  # noqa: F821


def contract_type() -> Any:
    """The composed ``Contract`` type (after the schema was built)."""
    return globals()["Contract"]


ContractStatusEnum = gql_enum(
    t.ContractStatus,
    "ContractStatus",
    "draft → pending_approval → approved → signed → in_execution → completed; or terminated / "
    "disputed",
)

PaymentMethodEnum = gql_enum(t.PaymentMethod, "PaymentMethod")

ApprovalDecisionEnum = gql_enum(t.ApprovalDecision, "ApprovalDecision")

CreditKindEnum = gql_enum(t.CreditKind, "CreditKind")

MilestoneKindEnum = gql_enum(t.MilestoneKind, "MilestoneKind")

DisputeStatusEnum = gql_enum(t.DisputeStatus, "DisputeStatus")

AmendmentStatusEnum = gql_enum(t.AmendmentStatus, "AmendmentStatus")


@strawberry.enum(description="How the aging report is grouped.")
class AgingGroup(Enum):
    CUSTOMER = "customer"
    OWNER = "owner"
    TEAM = "team"
    NONE = "none"


def _m(minor: int, currency: str) -> Money:
    return Money.of(MoneyValue(int(minor), currency))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else (value or {})


@strawberry.type(name="ContractLine", description="A line item: product × quantity × price.")
class ContractLineType:
    product: str
    specification: str
    quantity: int
    unit_price: Money
    amount: Money

    @classmethod
    def from_row(cls, r: dict[str, Any], currency: str) -> "ContractLineType":
        return cls(
            product=r["product"],
            specification=r["specification"],
            quantity=r["quantity"],
            unit_price=_m(r["unit_price_minor"], currency),
            amount=_m(r["amount_minor"], currency),
        )


@strawberry.type(name="ContractApprovalStep")
class ApprovalStepType(RowType):
    round: int
    step: int
    name: str
    role: str
    decision: ApprovalDecisionEnum
    comment: str
    decided_at: dt.datetime | None
    decided_by_pk: strawberry.Private[int | None]

    @strawberry.field
    async def decided_by(self, info: strawberry.Info) -> UserRef | None:
        if self.decided_by_pk is None:
            return None
        return await info.context.loader("user").load(self.decided_by_pk)


@strawberry.type(name="Installment", description="A scheduled receivable of a contract.")
class InstallmentType(Node):
    pk: strawberry.Private[int]
    contract_pk: strawberry.Private[int]
    database_id: int
    seq: int
    label: str
    due_date: dt.date
    amount: Money
    paid: Money
    credited: Money = strawberry.field(description="Credit notes and write-offs.")
    open: Money

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "InstallmentType":
        c = r["currency"]
        return cls(
            id=encode_id("Installment", r["id"]),
            pk=r["id"],
            contract_pk=r["contract"],
            database_id=r["id"],
            seq=r["seq"],
            label=r["label"],
            due_date=r["due_date"],
            amount=_m(r["amount_minor"], c),
            paid=_m(r["paid_minor"], c),
            credited=_m(r["credited_minor"], c),
            open=_m(services.open_minor(r), c),
        )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> "InstallmentType | None":
        try:
            row, _ = await services.visible_installment(info.context.actor, pk)
        except NotFound:
            return None
        return cls.from_row(row)

    @strawberry.field
    async def contract(self, info: strawberry.Info) -> ContractRef | None:
        return await info.context.loader("contracts_contract").load(self.contract_pk)


@strawberry.type(name="Invoice")
class InvoiceType(Node):
    pk: strawberry.Private[int]
    database_id: int
    number: str
    amount: Money
    issued_on: dt.date
    installment_id: strawberry.ID | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "InvoiceType":
        inst = r["installment"]
        return cls(
            id=encode_id("Invoice", r["id"]),
            pk=r["id"],
            database_id=r["id"],
            number=r["number"],
            amount=_m(r["amount_minor"], r["currency"]),
            issued_on=r["issued_on"],
            installment_id=encode_id("Installment", inst) if inst else None,
        )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> "InvoiceType | None":
        try:
            return cls.from_row(await services.get_invoice(info.context.actor, pk))
        except NotFound:
            return None


@strawberry.type(name="PaymentAllocation")
class AllocationType:
    installment_id: strawberry.ID
    amount: Money
    applied_on: dt.date


@strawberry.type(name="Payment", description="Money received from a customer (回款).")
class PaymentType(Node):
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    database_id: int
    amount: Money
    allocated: Money
    refunded: Money
    unallocated: Money
    method: PaymentMethodEnum
    received_on: dt.date
    reference: str
    idempotency_key: str | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "PaymentType":
        c = r["currency"]
        free = r["amount_minor"] - r["allocated_minor"] - r["refunded_minor"]
        return cls(
            id=encode_id("Payment", r["id"]),
            pk=r["id"],
            customer_pk=r["customer"],
            database_id=r["id"],
            amount=_m(r["amount_minor"], c),
            allocated=_m(r["allocated_minor"], c),
            refunded=_m(r["refunded_minor"], c),
            unallocated=_m(free, c),
            method=enum_value(PaymentMethodEnum, r["method"]),
            received_on=r["received_on"],
            reference=r["reference"],
            idempotency_key=r["idempotency_key"],
        )

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> "PaymentType | None":
        try:
            return cls.from_row(await services.get_payment(info.context.actor, pk))
        except NotFound:
            return None

    @strawberry.field
    async def allocations(self, info: strawberry.Info) -> list[AllocationType]:
        rows = await info.context.loader("contracts_allocations").load(self.pk)
        return [
            AllocationType(
                installment_id=encode_id("Installment", r["installment"]),
                amount=_m(r["amount_minor"], self.amount.currency),
                applied_on=r["applied_on"],
            )
            for r in rows
        ]

    @strawberry.field
    async def customer(self, info: strawberry.Info) -> CustomerRef | None:
        return await info.context.loader("customer").load(self.customer_pk)


@strawberry.type(name="ReceivableCredit", description="A credit note, write-off or refund.")
class CreditType(RowType):
    database_id: int
    kind: CreditKindEnum
    amount: Money
    issued_on: dt.date
    reason: str


@strawberry.type(name="ContractMilestone")
class MilestoneType(RowType):
    database_id: int
    kind: MilestoneKindEnum
    title: str
    due_date: dt.date
    completed_on: dt.date | None


@strawberry.type(name="ContractDispute")
class DisputeType(RowType):
    database_id: int
    kind: str
    description: str
    amount: Money
    status: DisputeStatusEnum
    resolution: str
    legal_involved: bool
    created_at: dt.datetime
    resolved_at: dt.datetime | None


@strawberry.type(name="ContractVersion", description="A kept version of a signed contract.")
class VersionType:
    number: int
    snapshot: JSON
    changes: JSON = strawberry.field(
        description="{field: {before, after}} against the previous version"
    )
    amendment_id: int | None
    created_at: dt.datetime

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "VersionType":
        return cls(
            number=r["number"],
            snapshot=_json(r["snapshot"]),
            changes=_json(r["changes"]),
            amendment_id=r["amendment"],
            created_at=r["created_at"],
        )


@strawberry.type(name="ContractAmendment", description="A supplementary agreement (补充协议).")
class AmendmentType(RowType):
    database_id: int
    number: int
    reason: str
    changes: JSON
    status: AmendmentStatusEnum
    comment: str
    created_at: dt.datetime
    decided_at: dt.datetime | None


@extensible("Contract")
@strawberry.type(name="ContractFields", description="A sales contract (合同).")
class ContractFields(RowType, Node):
    pk: strawberry.Private[int]
    customer_pk: strawberry.Private[int]
    owner_pk: strawberry.Private[int | None]
    database_id: int
    number: str
    title: str
    status: ContractStatusEnum
    currency: str
    total: Money
    delivery_deadline: dt.date | None
    payment_method: PaymentMethodEnum | None
    payment_terms: str
    breach_liability: str
    acceptance_terms: str
    after_sales_terms: str
    sla_policy: str
    start_date: dt.date | None
    end_date: dt.date | None
    renewal_date: dt.date | None
    signed_on: dt.date | None
    signed_at: dt.datetime | None
    credit_override_reason: str
    termination_reason: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    async def resolve_node(cls, info: strawberry.Info, pk: int) -> Any:
        return await info.context.loader("contracts_contract").load(pk)

    @strawberry.field
    async def customer(self, info: strawberry.Info) -> CustomerRef | None:
        return await info.context.loader("customer").load(self.customer_pk)

    @strawberry.field
    async def owner(self, info: strawberry.Info) -> UserRef | None:
        if self.owner_pk is None:
            return None
        return await info.context.loader("user").load(self.owner_pk)

    @strawberry.field
    async def lines(self, info: strawberry.Info) -> list[ContractLineType]:
        rows = await info.context.loader("contracts_lines").load(self.pk)
        return [ContractLineType.from_row(r, self.currency) for r in rows]

    @strawberry.field(description="Approval steps of every submission round.")
    async def approvals(self, info: strawberry.Info) -> list[ApprovalStepType]:
        rows = await info.context.loader("contracts_approvals").load(self.pk)
        return [ApprovalStepType.from_row(r) for r in rows]

    @strawberry.field(description="The payment schedule.")
    async def installments(self, info: strawberry.Info) -> list[InstallmentType]:
        rows = await info.context.loader("contracts_installments").load(self.pk)
        return [InstallmentType.from_row(r) for r in rows]

    @strawberry.field(description="Open amount of the schedule.")
    async def open_amount(self, info: strawberry.Info) -> Money:
        rows = await info.context.loader("contracts_installments").load(self.pk)
        return _m(sum(services.open_minor(r) for r in rows), self.currency)

    @strawberry.field
    async def invoices(self, info: strawberry.Info) -> list[InvoiceType]:
        rows = await info.context.loader("contracts_invoices").load(self.pk)
        return [InvoiceType.from_row(r) for r in rows]

    @strawberry.field
    async def milestones(self, info: strawberry.Info) -> list[MilestoneType]:
        rows = await info.context.loader("contracts_milestones").load(self.pk)
        return [MilestoneType.from_row(r) for r in rows]

    @strawberry.field
    async def disputes(self, info: strawberry.Info) -> list[DisputeType]:
        rows = await info.context.loader("contracts_disputes").load(self.pk)
        return [DisputeType.from_row(r) for r in rows]

    @strawberry.field
    async def versions(self, info: strawberry.Info) -> list[VersionType]:
        rows = await info.context.loader("contracts_versions").load(self.pk)
        return [VersionType.from_row(r) for r in rows]

    @strawberry.field
    async def amendments(self, info: strawberry.Info) -> list[AmendmentType]:
        rows = await info.context.loader("contracts_amendments").load(self.pk)
        return [AmendmentType.from_row(r) for r in rows]

    @strawberry.field(description="overdue, delivery_delay, dispute, pending_change")
    async def risk_flags(self, info: strawberry.Info) -> list[str]:
        return await info.context.loader("contracts_risk").load(self.pk)


ContractConnection = connection("Contract", ContractRef)
