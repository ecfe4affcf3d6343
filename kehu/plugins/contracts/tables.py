"""Contracts tables (all prefixed ``contracts_``). Core tables stay untouched.

Money columns are ``BigInt`` minor units next to a ``Varchar(3)`` ISO 4217 currency: a contract
and everything hanging off it (installments, invoices, payments, credits) share the contract's
currency.
"""

from enum import StrEnum

from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from kehu.core.tables import Customer, Team, User


class ContractStatus(StrEnum):
    draft = "draft"
    pending_approval = "pending_approval"
    approved = "approved"
    signed = "signed"
    in_execution = "in_execution"
    completed = "completed"
    terminated = "terminated"
    disputed = "disputed"


class PaymentMethod(StrEnum):
    cash = "cash"
    bank_transfer = "bank_transfer"
    cheque = "cheque"
    other = "other"


class ApprovalDecision(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"


class CreditKind(StrEnum):
    credit_note = "credit_note"
    write_off = "write_off"
    refund = "refund"


class MilestoneKind(StrEnum):
    delivery = "delivery"
    acceptance = "acceptance"


class DisputeStatus(StrEnum):
    open = "open"
    resolved = "resolved"


class AmendmentStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Contract(Table, tablename="contracts_contract"):
    number = Varchar(length=40, unique=True)
    title = Varchar(length=255, default="")
    customer = ForeignKey(references=Customer, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=20, choices=ContractStatus, default=ContractStatus.draft, index=True)
    currency = Varchar(length=3)
    total_minor = BigInt(default=0)
    delivery_deadline = Date(null=True, default=None)
    payment_method = Varchar(length=20, default="")
    payment_terms = Varchar(length=100, default="")
    breach_liability = Text(default="")
    acceptance_terms = Text(default="")
    after_sales_terms = Text(default="")
    sla_policy = Varchar(length=50, default="")  # service entitlement (tickets SLA policy)
    start_date = Date(null=True, default=None)
    end_date = Date(null=True, default=None)
    renewal_date = Date(null=True, default=None)
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.set_null, index=True)
    approval_step = Integer(default=0)
    submitted_at = Timestamptz(null=True, default=None)
    signed_at = Timestamptz(null=True, default=None)
    signed_on = Date(null=True, default=None)
    credit_override_reason = Text(default="")
    termination_reason = Text(default="")
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class ContractLine(Table, tablename="contracts_line"):
    contract = ForeignKey(references=Contract, on_delete=OnDelete.cascade, index=True)
    position = Integer(default=0)
    product = Varchar(length=255, default="")
    specification = Varchar(length=255, default="")
    quantity = Integer(default=0)
    unit_price_minor = BigInt(default=0)
    amount_minor = BigInt(default=0)


class ContractApproval(Table, tablename="contracts_approval"):
    contract = ForeignKey(references=Contract, on_delete=OnDelete.cascade, index=True)
    round = Integer(default=1)
    step = Integer(default=0)
    name = Varchar(length=50, default="")
    role = Varchar(length=20)
    decision = Varchar(length=20, choices=ApprovalDecision, default=ApprovalDecision.pending)
    decided_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    comment = Text(default="")
    decided_at = Timestamptz(null=True, default=None)


class ContractVersion(Table, tablename="contracts_version"):
    contract = ForeignKey(references=Contract, on_delete=OnDelete.cascade, index=True)
    number = Integer()
    snapshot = JSON(default="{}")
    changes = JSON(default="{}")
    amendment = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Amendment(Table, tablename="contracts_amendment"):
    contract = ForeignKey(references=Contract, on_delete=OnDelete.cascade, index=True)
    number = Integer()
    reason = Text(default="")
    changes = JSON(default="{}")
    status = Varchar(length=20, choices=AmendmentStatus, default=AmendmentStatus.pending)
    requested_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    decided_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    comment = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    decided_at = Timestamptz(null=True, default=None)


class Milestone(Table, tablename="contracts_milestone"):
    contract = ForeignKey(references=Contract, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20, choices=MilestoneKind, default=MilestoneKind.delivery)
    title = Varchar(length=255, default="")
    due_date = Date()
    completed_on = Date(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Dispute(Table, tablename="contracts_dispute"):
    contract = ForeignKey(references=Contract, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=50, default="")
    description = Text(default="")
    amount_minor = BigInt(default=0)
    currency = Varchar(length=3)
    status = Varchar(length=20, choices=DisputeStatus, default=DisputeStatus.open)
    resolution = Text(default="")
    legal_involved = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    resolved_at = Timestamptz(null=True, default=None)


class CreditProfile(Table, tablename="contracts_credit_profile"):
    customer = ForeignKey(references=Customer, on_delete=OnDelete.cascade, unique=True, index=True)
    limit_minor = BigInt(default=0)
    currency = Varchar(length=3)
    rating = Varchar(length=10, default="B")
    notes = Text(default="")
    version = Integer(default=1)
    updated_at = Timestamptz(default=TimestamptzNow())


class Installment(Table, tablename="contracts_installment"):
    """A scheduled receivable. Open = amount − paid − credited (never negative)."""

    contract = ForeignKey(references=Contract, on_delete=OnDelete.cascade, index=True)
    customer = ForeignKey(references=Customer, on_delete=OnDelete.restrict, index=True)
    seq = Integer(default=1)
    due_date = Date(index=True)
    amount_minor = BigInt()
    paid_minor = BigInt(default=0)
    credited_minor = BigInt(default=0)
    currency = Varchar(length=3)
    label = Varchar(length=100, default="")


class Invoice(Table, tablename="contracts_invoice"):
    number = Varchar(length=40, unique=True)
    contract = ForeignKey(references=Contract, on_delete=OnDelete.cascade, index=True)
    customer = ForeignKey(references=Customer, on_delete=OnDelete.restrict, index=True)
    installment = ForeignKey(references=Installment, null=True, on_delete=OnDelete.set_null)
    amount_minor = BigInt()
    currency = Varchar(length=3)
    issued_on = Date(index=True)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class Payment(Table, tablename="contracts_payment"):
    customer = ForeignKey(references=Customer, on_delete=OnDelete.restrict, index=True)
    contract = ForeignKey(references=Contract, null=True, on_delete=OnDelete.set_null)
    amount_minor = BigInt()
    allocated_minor = BigInt(default=0)
    refunded_minor = BigInt(default=0)
    currency = Varchar(length=3)
    method = Varchar(length=20, choices=PaymentMethod, default=PaymentMethod.bank_transfer)
    received_on = Date(index=True)
    reference = Varchar(length=100, default="")
    idempotency_key = Varchar(length=100, null=True, default=None, unique=True)
    request_hash = Varchar(length=64, default="")
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class Allocation(Table, tablename="contracts_allocation"):
    payment = ForeignKey(references=Payment, on_delete=OnDelete.cascade, index=True)
    installment = ForeignKey(references=Installment, on_delete=OnDelete.cascade, index=True)
    amount_minor = BigInt()
    applied_on = Date(index=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Credit(Table, tablename="contracts_credit"):
    """Credit notes and write-offs reduce an installment; refunds pay back a payment's
    unallocated remainder."""

    kind = Varchar(length=20, choices=CreditKind)
    customer = ForeignKey(references=Customer, on_delete=OnDelete.restrict, index=True)
    installment = ForeignKey(references=Installment, null=True, on_delete=OnDelete.set_null)
    payment = ForeignKey(references=Payment, null=True, on_delete=OnDelete.set_null)
    amount_minor = BigInt()
    currency = Varchar(length=3)
    issued_on = Date(index=True)
    reason = Text(default="")
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class DunningStep(Table, tablename="contracts_dunning_step"):
    """A dunning step done for an installment (unique: never repeated)."""

    installment = ForeignKey(references=Installment, on_delete=OnDelete.cascade, index=True)
    step = Varchar(length=30)
    key = Varchar(length=60, unique=True)  # "<installment>:<step>"
    activity = Integer(null=True, default=None)
    run_on = Date()
    created_at = Timestamptz(default=TimestamptzNow())


class Sequence(Table, tablename="contracts_sequence"):
    """Counters for generated numbers (``HT-2026-00001``)."""

    name = Varchar(length=50, unique=True)
    value = BigInt(default=0)


CONTRACTS_TABLES = [
    Contract,
    ContractLine,
    ContractApproval,
    ContractVersion,
    Amendment,
    Milestone,
    Dispute,
    CreditProfile,
    Installment,
    Invoice,
    Payment,
    Allocation,
    Credit,
    DunningStep,
    Sequence,
]
