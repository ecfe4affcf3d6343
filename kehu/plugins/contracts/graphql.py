"""Contracts GraphQL: the ``Contract``, ``Installment``, ``Invoice`` and ``Payment`` nodes,
queries (contracts, aging, statements, provision, metrics, dunning preview), mutations for the
whole lifecycle, and ``Customer.contracts`` / ``Customer.receivables`` (batched).

No ``from __future__ import annotations``: Strawberry reads these annotations at startup.
Tables are imported as a module alias so no Piccolo table shares a name with a type here.
"""

import datetime as dt
import json
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from kehu.core.errors import NotFound
from kehu.core.graphql.base import (
    Money,
    MoneyInput,
    Node,
    UserError,
    connection,
    encode_id,
    enum_value,
    extensible,
    gql_enum,
    make_connection,
    payload,
    pk_of,
)
from kehu.core.money import Money as MoneyValue
from kehu.plugins.contracts import services
from kehu.plugins.contracts import tables as t

CustomerRef = Annotated["Customer", strawberry.lazy("kehu.core.graphql.types")]  # noqa: F821
UserRef = Annotated["User", strawberry.lazy("kehu.core.graphql.types")]  # noqa: F821
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


# -- types ---------------------------------------------------------------------------------


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
class ApprovalStepType:
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

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "ApprovalStepType":
        return cls(
            round=r["round"],
            step=r["step"],
            name=r["name"],
            role=r["role"],
            decision=enum_value(ApprovalDecisionEnum, r["decision"]),
            comment=r["comment"],
            decided_at=r["decided_at"],
            decided_by_pk=r["decided_by"],
        )


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
class CreditType:
    database_id: int
    kind: CreditKindEnum
    amount: Money
    issued_on: dt.date
    reason: str

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "CreditType":
        return cls(
            database_id=r["id"],
            kind=enum_value(CreditKindEnum, r["kind"]),
            amount=_m(r["amount_minor"], r["currency"]),
            issued_on=r["issued_on"],
            reason=r["reason"],
        )


@strawberry.type(name="ContractMilestone")
class MilestoneType:
    database_id: int
    kind: MilestoneKindEnum
    title: str
    due_date: dt.date
    completed_on: dt.date | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "MilestoneType":
        return cls(
            database_id=r["id"],
            kind=enum_value(MilestoneKindEnum, r["kind"]),
            title=r["title"],
            due_date=r["due_date"],
            completed_on=r["completed_on"],
        )


@strawberry.type(name="ContractDispute")
class DisputeType:
    database_id: int
    kind: str
    description: str
    amount: Money
    status: DisputeStatusEnum
    resolution: str
    legal_involved: bool
    created_at: dt.datetime
    resolved_at: dt.datetime | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "DisputeType":
        return cls(
            database_id=r["id"],
            kind=r["kind"],
            description=r["description"],
            amount=_m(r["amount_minor"], r["currency"]),
            status=enum_value(DisputeStatusEnum, r["status"]),
            resolution=r["resolution"],
            legal_involved=r["legal_involved"],
            created_at=r["created_at"],
            resolved_at=r["resolved_at"],
        )


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
class AmendmentType:
    database_id: int
    number: int
    reason: str
    changes: JSON
    status: AmendmentStatusEnum
    comment: str
    created_at: dt.datetime
    decided_at: dt.datetime | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> "AmendmentType":
        return cls(
            database_id=r["id"],
            number=r["number"],
            reason=r["reason"],
            changes=_json(r["changes"]),
            status=enum_value(AmendmentStatusEnum, r["status"]),
            comment=r["comment"],
            created_at=r["created_at"],
            decided_at=r["decided_at"],
        )


@extensible("Contract")
@strawberry.type(name="ContractFields", description="A sales contract (合同).")
class ContractFields(Node):
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
    def from_row(cls, r: dict[str, Any]) -> Any:
        return cls(
            id=encode_id("Contract", r["id"]),
            pk=r["id"],
            customer_pk=r["customer"],
            owner_pk=r["owner"],
            database_id=r["id"],
            number=r["number"],
            title=r["title"],
            status=enum_value(ContractStatusEnum, r["status"]),
            currency=r["currency"],
            total=_m(r["total_minor"], r["currency"]),
            delivery_deadline=r["delivery_deadline"],
            payment_method=enum_value(PaymentMethodEnum, r["payment_method"]),
            payment_terms=r["payment_terms"],
            breach_liability=r["breach_liability"],
            acceptance_terms=r["acceptance_terms"],
            after_sales_terms=r["after_sales_terms"],
            sla_policy=r["sla_policy"],
            start_date=r["start_date"],
            end_date=r["end_date"],
            renewal_date=r["renewal_date"],
            signed_on=r["signed_on"],
            signed_at=r["signed_at"],
            credit_override_reason=r["credit_override_reason"],
            termination_reason=r["termination_reason"],
            version=r["version"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
        )

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


@strawberry.type(name="CreditStatus", description="客户资信: limit, rating, exposure.")
class CreditStatusType:
    credit_limit: Money | None
    rating: str
    high_risk: bool
    exposure: Money = strawberry.field(
        description="Open receivables + approved contracts not yet signed"
    )
    open_receivables: Money
    overdue: Money
    unsigned_approved: Money
    available: Money | None
    paid_on_time: int
    paid_late: int
    suggested_rating: str = strawberry.field(
        description="From payment history, overdue amounts and the limit (advice only)"
    )

    @classmethod
    def of(cls, c: Any) -> "CreditStatusType":
        return cls(
            credit_limit=Money.of(c.limit),
            rating=c.rating,
            high_risk=c.high_risk,
            exposure=Money.of(c.exposure),
            open_receivables=Money.of(c.open_receivables),
            overdue=Money.of(c.overdue),
            unsigned_approved=Money.of(c.unsigned_approved),
            available=Money.of(c.available),
            paid_on_time=c.paid_on_time,
            paid_late=c.paid_late,
            suggested_rating=c.suggested_rating,
        )


@strawberry.type(name="CustomerReceivables")
class CustomerReceivablesType:
    open: Money
    overdue: Money
    credit_limit: Money | None
    rating: str
    exposure: Money


@strawberry.type(description="Contract fields added to Customer by the contracts plugin.")
class CustomerContracts:
    @strawberry.field(description="The customer's newest visible contracts.")
    async def contracts(self, info: strawberry.Info, first: int = 20) -> list[ContractRef]:
        first = max(1, min(first, 100))
        return await info.context.loader("contracts_by_customer").load((self.pk, first))

    @strawberry.field(
        description="Open and overdue receivables and credit (null without the "
        "receivable:read permission)."
    )
    async def receivables(self, info: strawberry.Info) -> CustomerReceivablesType | None:
        if not info.context.actor.can("receivable:read"):
            return None
        c = await info.context.loader("contracts_receivables").load(self.pk)
        return CustomerReceivablesType(
            open=Money.of(c.open_receivables),
            overdue=Money.of(c.overdue),
            credit_limit=Money.of(c.limit),
            rating=c.rating,
            exposure=Money.of(c.exposure),
        )


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


def _contract_conn(info: strawberry.Info, page: Any, f: services.ContractFilter) -> Any:
    actor = info.context.actor
    conn = make_connection(
        "Contract", page, contract_type().from_row, lambda: services.count_contracts(actor, f)
    )
    loader = info.context.loader("contracts_contract")
    for node in conn.nodes:
        loader.prime(node.pk, node)
    return conn


@strawberry.type
class ContractsQuery:
    @strawberry.field
    async def contract(self, info: strawberry.Info, id: strawberry.ID) -> ContractRef:
        found = await info.context.loader("contracts_contract").load(pk_of(id, "Contract"))
        if found is None:
            raise NotFound(f"Contract {id} not found")
        return found

    @strawberry.field(description="Visible contracts, newest first (keyset, first ≤ 100).")
    async def contracts(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        filter: ContractFilterInput | None = None,
    ) -> ContractConnection:
        f = (filter or ContractFilterInput()).to_filter()
        page = await services.list_contracts(info.context.actor, f, first=first, after=after)
        return _contract_conn(info, page, f)

    @strawberry.field(description="A visible customer's payments, newest first.")
    async def payments(
        self, info: strawberry.Info, customer_id: strawberry.ID, first: int = 50
    ) -> list[PaymentType]:
        rows = await services.payments_by_customer(
            info.context.actor,
            pk_of(customer_id, "Customer", "customerId"),
            max(1, min(first, 100)),
        )
        return [PaymentType.from_row(r) for r in rows]

    @strawberry.field(description="A customer's credit limit, rating and exposure.")
    async def credit_status(
        self, info: strawberry.Info, customer_id: strawberry.ID
    ) -> CreditStatusType:
        status = await services.credit_status(
            info.context.actor, pk_of(customer_id, "Customer", "customerId")
        )
        return CreditStatusType.of(status)

    @strawberry.field(description="Aging report (账龄) as of a date; buckets in days past due.")
    async def aging_report(
        self,
        info: strawberry.Info,
        as_of: dt.date | None = None,
        group_by: AgingGroup = AgingGroup.CUSTOMER,
        buckets: list[int] | None = None,
    ) -> list[AgingRowType]:
        rows = await services.aging(
            info.context.actor, as_of, group_by=group_by.value, buckets=buckets
        )
        return _aging(rows, group_by.value)

    @strawberry.field(description="Reconciliation statement (对账单) of a customer.")
    async def statement(
        self,
        info: strawberry.Info,
        customer_id: strawberry.ID,
        date_from: dt.date,
        date_to: dt.date,
        currency: str | None = None,
    ) -> StatementType:
        st = await services.statement(
            info.context.actor,
            pk_of(customer_id, "Customer", "customerId"),
            date_from,
            date_to,
            currency,
        )
        c = st.currency
        return StatementType(
            currency=c,
            date_from=st.date_from,
            date_to=st.date_to,
            opening_balance=_m(st.opening, c),
            invoices=_m(st.invoices, c),
            payments=_m(st.payments, c),
            credits=_m(st.credits, c),
            closing_balance=_m(st.closing, c),
            lines=[
                StatementLineType(
                    date=ln.on,
                    kind=ln.kind,
                    reference=ln.reference,
                    debit=_m(ln.debit, c),
                    credit=_m(ln.credit, c),
                    balance=_m(ln.balance, c),
                )
                for ln in st.lines
            ],
        )

    @strawberry.field(description="Bad-debt provision (坏账准备) as of a date.")
    async def bad_debt_provision(
        self, info: strawberry.Info, as_of: dt.date | None = None
    ) -> ProvisionType:
        rows = await services.bad_debt_provision(info.context.actor, as_of)
        customers = await info.context.loader("customer").load_many([r.customer_id for r in rows])
        totals: dict[str, int] = {}
        for r in rows:
            totals[r.currency] = totals.get(r.currency, 0) + r.provision
        return ProvisionType(
            lines=[
                ProvisionLineType(
                    customer=c,
                    rating=r.rating,
                    open=_m(sum(r.open_by_bucket.values()), r.currency),
                    provision=_m(r.provision, r.currency),
                )
                for r, c in zip(rows, customers, strict=True)
            ],
            totals=[_m(v, k) for k, v in sorted(totals.items())],
        )

    @strawberry.field(description="Collection rate, overdue amount, DSO, signing rate, aging.")
    async def receivables_metrics(
        self,
        info: strawberry.Info,
        date_from: dt.date,
        date_to: dt.date,
        currency: str | None = None,
    ) -> MetricsType:
        actor = info.context.actor
        currency = currency or services.config().default_currency
        rate = await services.collection_rate(actor, date_from, date_to, currency)
        signing = await services.signing_rate(actor, date_from, date_to)
        rows = await services.aging(actor, date_to, group_by="none")
        names = services.bucket_names(services.config().aging_buckets)
        sums = dict.fromkeys(names, 0)
        for r in rows:
            if r.currency == currency:
                for n, v in r.buckets.items():
                    sums[n] += v
        return MetricsType(
            currency=currency,
            due=Money.of(rate.due),
            collected=Money.of(rate.collected),
            collection_rate=rate.rate,
            overdue_amount=_m(sum(v for n, v in sums.items() if n != "current"), currency),
            open_amount=_m(sum(sums.values()), currency),
            dso=await services.dso(actor, date_from, date_to, currency),
            contracts_submitted=signing.submitted,
            contracts_signed=signing.signed,
            signing_rate=signing.rate,
            aging_totals=[AgingBucketType(name=n, amount=_m(v, currency)) for n, v in sums.items()],
        )

    @strawberry.field(description="What the dunning job would do as of a date (admins).")
    async def dunning_preview(
        self, info: strawberry.Info, as_of: dt.date | None = None
    ) -> list[DunningActionType]:
        actions = await services.run_dunning(as_of, dry_run=True, actor=info.context.actor)
        return [
            DunningActionType(
                installment_id=encode_id("Installment", a.installment_id),
                contract_number=a.contract_number,
                customer_id=encode_id("Customer", a.customer_id),
                step=a.step,
                days_overdue=a.days_overdue,
                open=_m(a.open_minor, a.currency),
            )
            for a in actions
        ]


# -- mutations ---------------------------------------------------------------------------------


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


@strawberry.type
class ContractPayload:
    contract: ContractRef | None
    errors: list[UserError]


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


@strawberry.type
class SchedulePayload:
    installments: list[InstallmentType] | None
    errors: list[UserError]


@strawberry.input
class SetCreditProfileInput:
    customer_id: strawberry.ID
    credit_limit: MoneyInput
    rating: str
    notes: str = ""


@strawberry.type
class CreditStatusPayload:
    credit_status: CreditStatusType | None
    errors: list[UserError]


@strawberry.input
class IssueInvoiceInput:
    contract_id: strawberry.ID
    installment_id: strawberry.ID | None = None
    amount: MoneyInput | None = None
    issued_on: dt.date | None = None


@strawberry.type
class InvoicePayload:
    invoice: InvoiceType | None
    errors: list[UserError]


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


@strawberry.type
class PaymentPayload:
    payment: PaymentType | None
    errors: list[UserError]


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


@strawberry.type
class CreditPayload:
    credit: CreditType | None
    errors: list[UserError]


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


@strawberry.type
class MilestonePayload:
    milestone: MilestoneType | None
    errors: list[UserError]


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


@strawberry.type
class DisputePayload:
    dispute: DisputeType | None
    errors: list[UserError]


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


@strawberry.type
class ContractsMutation:
    @strawberry.mutation(description="Draft a contract (contract:write).")
    async def create_contract(
        self, info: strawberry.Info, input: CreateContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.create_contract(
                actor, pk_of(input.customer_id, "Customer", "customerId"), input.to_data()
            )
        )

    @strawberry.mutation(description="Edit a draft contract (expectedVersion).")
    async def update_contract(
        self, info: strawberry.Info, input: UpdateContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.update_contract(
                actor, _cid(input.id), input.expected_version, input.to_data()
            )
        )

    @strawberry.mutation(
        description="Submit for approval; lists every missing mandatory clause (MISSING_CLAUSE)."
    )
    async def submit_contract(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(lambda: services.submit_contract(actor, _cid(input.id)))

    @strawberry.mutation(description="Approve or reject the current approval step.")
    async def decide_contract_approval(
        self, info: strawberry.Info, input: DecideContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.decide_approval(actor, _cid(input.id), input.approve, input.comment)
        )

    @strawberry.mutation(description="Withdraw a submitted or approved contract to draft.")
    async def withdraw_contract(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(lambda: services.withdraw_contract(actor, _cid(input.id)))

    @strawberry.mutation(description="Sign an approved contract (credit check).")
    async def sign_contract(
        self, info: strawberry.Info, input: SignContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.sign_contract(
                actor,
                _cid(input.id),
                signed_on=input.signed_on,
                override_reason=input.credit_override_reason,
            )
        )

    @strawberry.mutation
    async def start_contract_execution(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(lambda: services.start_execution(actor, _cid(input.id)))

    @strawberry.mutation
    async def complete_contract(
        self, info: strawberry.Info, input: ContractRefInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(lambda: services.complete_contract(actor, _cid(input.id)))

    @strawberry.mutation
    async def terminate_contract(
        self, info: strawberry.Info, input: TerminateContractInput
    ) -> ContractPayload:
        actor = info.context.actor
        return await _contract(
            lambda: services.terminate_contract(actor, _cid(input.id), input.reason)
        )

    @strawberry.mutation(description="Enter or generate the payment schedule.")
    async def set_payment_schedule(
        self, info: strawberry.Info, input: SetScheduleInput
    ) -> SchedulePayload:
        actor = info.context.actor

        async def work() -> list[InstallmentType]:
            cid = _cid(input.contract_id, "contractId")
            if input.installments is None:
                rows = await services.generate_schedule(actor, cid, input.base_date)
            else:
                rows = await services.set_schedule(
                    actor, cid, [(i.due_date, i.amount.to_value()) for i in input.installments]
                )
            return [InstallmentType.from_row(r) for r in rows]

        return await payload(SchedulePayload, "installments", work)

    @strawberry.mutation(description="Set a customer's credit limit and rating.")
    async def set_credit_profile(
        self, info: strawberry.Info, input: SetCreditProfileInput
    ) -> CreditStatusPayload:
        actor = info.context.actor

        async def work() -> CreditStatusType:
            cid = pk_of(input.customer_id, "Customer", "customerId")
            await services.set_credit_profile(
                actor,
                cid,
                limit=input.credit_limit.to_value(),
                rating=input.rating,
                notes=input.notes,
            )
            return CreditStatusType.of((await services.credit_statuses([cid]))[cid])

        return await payload(CreditStatusPayload, "credit_status", work)

    @strawberry.mutation(description="Issue an invoice (invoice:write).")
    async def issue_invoice(
        self, info: strawberry.Info, input: IssueInvoiceInput
    ) -> InvoicePayload:
        actor = info.context.actor

        async def work() -> InvoiceType:
            return InvoiceType.from_row(
                await services.issue_invoice(
                    actor,
                    _cid(input.contract_id, "contractId"),
                    installment_id=pk_of(input.installment_id, "Installment", "installmentId"),
                    amount=input.amount.to_value() if input.amount else None,
                    issued_on=input.issued_on,
                )
            )

        return await payload(InvoicePayload, "invoice", work)

    @strawberry.mutation(
        description="Record a payment and allocate it (payment:write; "
        "idempotencyKey makes retries safe)."
    )
    async def record_payment(
        self, info: strawberry.Info, input: RecordPaymentInput
    ) -> PaymentPayload:
        actor = info.context.actor

        async def work() -> PaymentType:
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

        return await payload(PaymentPayload, "payment", work)

    @strawberry.mutation(description="Allocate a payment's unallocated remainder.")
    async def allocate_payment(
        self, info: strawberry.Info, input: AllocatePaymentInput
    ) -> PaymentPayload:
        actor = info.context.actor

        async def work() -> PaymentType:
            result = await services.allocate_payment(
                actor, pk_of(input.payment_id, "Payment", "paymentId"), _allocs(input.allocations)
            )
            return PaymentType.from_row(result.payment)

        return await payload(PaymentPayload, "payment", work)

    @strawberry.mutation(description="Issue a credit note against an installment.")
    async def issue_credit_note(
        self, info: strawberry.Info, input: CreditInstallmentInput
    ) -> CreditPayload:
        actor = info.context.actor

        async def work() -> CreditType:
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

        return await payload(CreditPayload, "credit", work)

    @strawberry.mutation(description="Write off an installment's open amount (bad debt).")
    async def write_off_installment(
        self, info: strawberry.Info, input: CreditInstallmentInput
    ) -> CreditPayload:
        actor = info.context.actor

        async def work() -> CreditType:
            return CreditType.from_row(
                await services.write_off(
                    actor,
                    pk_of(input.installment_id, "Installment", "installmentId"),
                    input.reason,
                    input.amount.to_value() if input.amount else None,
                    input.issued_on,
                )
            )

        return await payload(CreditPayload, "credit", work)

    @strawberry.mutation(description="Refund part of a payment's unallocated remainder.")
    async def refund_payment(
        self, info: strawberry.Info, input: RefundPaymentInput
    ) -> CreditPayload:
        actor = info.context.actor

        async def work() -> CreditType:
            return CreditType.from_row(
                await services.refund_payment(
                    actor,
                    pk_of(input.payment_id, "Payment", "paymentId"),
                    input.amount.to_value(),
                    input.reason,
                    input.issued_on,
                )
            )

        return await payload(CreditPayload, "credit", work)

    @strawberry.mutation
    async def add_contract_milestone(
        self, info: strawberry.Info, input: AddMilestoneInput
    ) -> MilestonePayload:
        actor = info.context.actor

        async def work() -> MilestoneType:
            return MilestoneType.from_row(
                await services.add_milestone(
                    actor,
                    _cid(input.contract_id, "contractId"),
                    input.kind.value,
                    input.title,
                    input.due_date,
                )
            )

        return await payload(MilestonePayload, "milestone", work)

    @strawberry.mutation
    async def complete_contract_milestone(
        self, info: strawberry.Info, input: CompleteMilestoneInput
    ) -> MilestonePayload:
        actor = info.context.actor

        async def work() -> MilestoneType:
            return MilestoneType.from_row(
                await services.complete_milestone(actor, input.milestone_id, input.completed_on)
            )

        return await payload(MilestonePayload, "milestone", work)

    @strawberry.mutation(description="Record a dispute; the contract becomes DISPUTED.")
    async def open_contract_dispute(
        self, info: strawberry.Info, input: OpenDisputeInput
    ) -> DisputePayload:
        actor = info.context.actor

        async def work() -> DisputeType:
            return DisputeType.from_row(
                await services.open_dispute(
                    actor,
                    _cid(input.contract_id, "contractId"),
                    kind=input.kind,
                    description=input.description,
                    amount=input.amount.to_value() if input.amount else None,
                    legal_involved=input.legal_involved,
                )
            )

        return await payload(DisputePayload, "dispute", work)

    @strawberry.mutation
    async def resolve_contract_dispute(
        self, info: strawberry.Info, input: ResolveDisputeInput
    ) -> DisputePayload:
        actor = info.context.actor

        async def work() -> DisputeType:
            return DisputeType.from_row(
                await services.resolve_dispute(
                    actor, input.dispute_id, input.resolution, legal_involved=input.legal_involved
                )
            )

        return await payload(DisputePayload, "dispute", work)

    @strawberry.mutation(description="Propose a supplementary agreement (补充协议).")
    async def request_contract_amendment(
        self, info: strawberry.Info, input: RequestAmendmentInput
    ) -> AmendmentPayload:
        actor = info.context.actor

        async def work() -> AmendmentType:
            return AmendmentType.from_row(
                await services.request_amendment(
                    actor,
                    _cid(input.contract_id, "contractId"),
                    input.changes.to_data(),
                    input.reason,
                )
            )

        return await payload(AmendmentPayload, "amendment", work)

    @strawberry.mutation(description="Approve (apply, new version) or reject an amendment.")
    async def decide_contract_amendment(
        self, info: strawberry.Info, input: DecideAmendmentInput
    ) -> AmendmentPayload:
        actor = info.context.actor

        async def work() -> AmendmentType:
            return AmendmentType.from_row(
                await services.decide_amendment(
                    actor, input.amendment_id, input.approve, input.comment
                )
            )

        return await payload(AmendmentPayload, "amendment", work)


# -- loaders -------------------------------------------------------------------------------


async def load_contracts(ctx: Any, keys: list[int]) -> list[Any]:
    rows = await services.contracts_by_ids(ctx.actor, keys)
    make = contract_type().from_row
    return [make(rows[k]) if k in rows else None for k in keys]


def _children(fn: Any) -> Any:
    async def load(ctx: Any, keys: list[int]) -> list[list[dict[str, Any]]]:
        found = await fn(keys)
        return [found[k] for k in keys]

    return load


async def load_by_customer(ctx: Any, keys: list[tuple[int, int]]) -> list[list[Any]]:
    limit = max(k[1] for k in keys)
    found = await services.contracts_by_customer(ctx.actor, [k[0] for k in keys], limit)
    loader = ctx.loader("contracts_contract")
    out = []
    for customer_id, first in keys:
        nodes = [contract_type().from_row(r) for r in found[customer_id][:first]]
        for n in nodes:
            loader.prime(n.pk, n)
        out.append(nodes)
    return out


async def load_receivables(ctx: Any, keys: list[int]) -> list[Any]:
    found = await services.receivable_summaries(keys)
    return [found[k] for k in keys]


async def load_risk(ctx: Any, keys: list[int]) -> list[list[str]]:
    found = await services.risk_flags(keys)
    return [found[k] for k in keys]


LOADERS = {
    "contracts_contract": load_contracts,
    "contracts_lines": _children(services.lines_by_contract),
    "contracts_approvals": _children(services.approvals_by_contract),
    "contracts_installments": _children(services.installments_by_contract),
    "contracts_milestones": _children(services.milestones_by_contract),
    "contracts_disputes": _children(services.disputes_by_contract),
    "contracts_versions": _children(services.versions_by_contract),
    "contracts_amendments": _children(services.amendments_by_contract),
    "contracts_allocations": _children(services.allocations_by_payment),
    "contracts_invoices": _children(services.invoices_by_contract),
    "contracts_by_customer": load_by_customer,
    "contracts_receivables": load_receivables,
    "contracts_risk": load_risk,
}

NODE_TYPES = [InstallmentType, InvoiceType, PaymentType]  # Contract: composed (extensible)
