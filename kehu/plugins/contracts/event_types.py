"""The events the contracts plugin emits (its part of the catalogue in ``docs/events.md``).

Money is an integer of minor units (``*_minor``, e.g. fen) next to an ISO 4217 ``currency``.

Contracts have their own visibility (owner/team scope on the contract AND the customer's, see
:func:`kehu.plugins.contracts.services.contract_scope`), stricter than the customer's: events
about a contract or anything hanging off it (approvals, amendments, milestones, disputes,
installments, invoices, credit notes, allocations) carry a ``visible`` rule that checks the
contract, in one query for any number of events. Payments and credit profiles are visible
with their customer (core's default rule).
"""

from collections.abc import Callable, Iterable
from typing import Any

from kehu.core.event_types import EventType
from kehu.core.permissions import Actor
from kehu.plugins.contracts.services import contract_scope
from kehu.plugins.contracts.tables import (
    Amendment,
    Contract,
    CreditProfile,
    Dispute,
    Installment,
    Invoice,
    Milestone,
)
from kehu.plugins.contracts.tables import Credit as CreditRow

READ = "contract:read"
CREDIT_READ = "credit:read"
CHANGED = "the changed columns, new values (the audit row has the old ones)"
MONEY = "in minor units (e.g. fen) of ``currency``"


# -- visibility rules --------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def visible_contract_ids(actor: Actor, ids: Iterable[int]) -> set[int]:
    """The contracts among ``ids`` that ``actor`` may see (one query)."""
    wanted = sorted(set(ids))
    if not wanted or not actor.can(READ):
        return set()
    query = Contract.select(Contract.id).where(Contract.id.is_in(wanted))
    scope = contract_scope(actor)
    if scope is not None:
        query = query.where(scope)
    return {r["id"] for r in await query}


def _by_contract(contract_of: Callable[[Any], Any]) -> Callable[[Actor, list[Any]], Any]:
    async def rule(actor: Actor, events: list[Any]) -> set[str]:
        keys = {e.id: _int(contract_of(e)) for e in events}
        seen = await visible_contract_ids(actor, [k for k in keys.values() if k is not None])
        return {event_id for event_id, k in keys.items() if k in seen}

    return rule


visible_contract = _by_contract(lambda e: e.entity_id)
"""Events whose entity is the contract (``entity_id``)."""

visible_contract_child = _by_contract(lambda e: e.data.get("contract"))
"""Events about something of a contract (``data["contract"]``)."""


async def visible_installment(actor: Actor, events: list[Any]) -> set[str]:
    """Events whose entity is an installment: visible with its contract (one query)."""
    ids = sorted({i for e in events if (i := _int(e.entity_id)) is not None})
    if not ids or not actor.can(READ):
        return set()
    query = Installment.select(Installment.id).where(Installment.id.is_in(ids))
    scope = contract_scope(actor)
    if scope is not None:
        query = query.where(Installment.contract.is_in(Contract.select(Contract.id).where(scope)))
    seen = {r["id"] for r in await query}
    return {e.id for e in events if e.entity_id in seen}


# -- the catalogue -----------------------------------------------------------------------------

CONTRACT_FIELDS = {
    "id": "contract id",
    "number": "contract number (HT-<year>-<00001>)",
    "customer": "id of the customer the contract is with",
    "status": "lifecycle state (draft, pending_approval, approved, signed, in_execution, "
    "completed, terminated, disputed)",
    "currency": "ISO 4217 currency code of the contract and its receivables",
    "total_minor": f"contract total (sum of the lines) {MONEY}",
    "owner": "user id of the owner",
    "team": "team id of the owner's team",
    "title": "contract title",
    "delivery_deadline": "delivery deadline (ISO date), a mandatory clause",
    "payment_method": "cash, bank_transfer, cheque or other (empty: not set)",
    "payment_terms": "payment terms, percentages of the total with day offsets (30/70, 30@0/70@60)",
    "breach_liability": "breach liability clause (违约责任)",
    "acceptance_terms": "acceptance terms",
    "after_sales_terms": "after-sales terms",
    "sla_policy": "service level entitlement (a tickets SLA policy name)",
    "start_date": "start of the term (ISO date)",
    "end_date": "end of the term (ISO date)",
    "renewal_date": "when renewal is due (ISO date)",
    "approval_step": "index of the approval step awaiting a decision",
    "submitted_at": "when it was last submitted for approval",
    "signed_at": "when it was signed (timestamp)",
    "signed_on": "the signing date (ISO date)",
    "credit_override_reason": "why it was signed despite the credit check (empty: no override)",
    "termination_reason": "why it was terminated",
    "version": "optimistic-locking version, +1 on every change",
    "created_at": "when it was created",
    "updated_at": "when it last changed",
}
LINES = (
    "line items: position, product, specification, quantity, unit_price_minor and "
    f"amount_minor (quantity × unit price), {MONEY}"
)
TRANSITION = {
    "from": "the previous status",
    "status": "the new status",
    "number": "contract number",
    "total_minor": f"contract total {MONEY}",
    "currency": "ISO 4217 currency code",
    "note": "why (withdrawn, rejected at <step>, dispute <id>, disputes resolved, or the "
    "termination reason); absent for plain moves",
}
APPROVAL = {
    "contract": "id of the contract",
    "step": "name of the approval step",
    "role": "role that decides the step",
    "comment": "the approver's comment",
}
AMENDMENT_DECISION = {"contract": "id of the contract", "comment": "the approver's comment"}
MILESTONE = {
    "id": "milestone id",
    "contract": "id of the contract",
    "title": "what is delivered or accepted",
    "created_at": "when it was added",
    "kind": "delivery or acceptance",
    "due_date": "when it is due (ISO date)",
    "completed_on": "when it was completed (ISO date), null while open",
}
DISPUTE = {
    "id": "dispute id",
    "contract": "id of the contract",
    "description": "what the dispute is about",
    "resolution": "how it was resolved (empty while open)",
    "created_at": "when it was opened",
    "kind": "kind of dispute (free text, e.g. quality, delay)",
    "amount_minor": f"amount in dispute {MONEY}",
    "currency": "ISO 4217 currency code (the contract's)",
    "status": "open or resolved",
    "legal_involved": "whether lawyers or courts are involved",
    "resolved_at": "when it was resolved, null while open",
}
CREDIT = {
    "kind": "credit_note, write_off or refund",
    "customer": "id of the customer",
    "amount_minor": f"amount credited {MONEY}",
    "currency": "ISO 4217 currency code",
    "issued_on": "date issued (ISO date)",
    "reason": "why it was issued",
    "created_by": "user id of who issued it (null: the system)",
    "created_at": "when it was recorded",
}

CONTRACTS_EVENTS = [
    EventType(
        "contract.created",
        "A draft contract was created (by hand, the API or the demo data).",
        {**CONTRACT_FIELDS, "lines": LINES},
        table=Contract,
        scope=READ,
        node="Contract",
        visible=visible_contract,
    ),
    EventType(
        "contract.updated",
        f"Draft contract fields changed: {CHANGED}; new lines change ``total_minor``.",
        CONTRACT_FIELDS,
        table=Contract,
        scope=READ,
        node="Contract",
        visible=visible_contract,
    ),
    EventType(
        "contract.transitioned",
        "The contract moved in its lifecycle (submitted, approved, rejected or withdrawn to "
        "draft, signed, executed, disputed, completed, terminated): ``from`` → ``status``.",
        TRANSITION,
        scope=READ,
        node="Contract",
        visible=visible_contract,
    ),
    EventType(
        "contract.credit_override",
        "A customer over its credit limit or rated high risk was allowed to sign "
        "(credit:override); the contract.transitioned to signed follows.",
        {
            "reason": "the override reason given",
            "codes": "the problems overridden (HIGH_RISK_CUSTOMER, CREDIT_LIMIT_EXCEEDED)",
            "exposure_minor": "the customer's credit exposure including this contract, in "
            "minor units of the credit profile's currency",
            "limit_minor": "the credit limit in minor units of the credit profile's currency, "
            "null without a credit profile",
            "rating": "the customer's credit rating",
        },
        scope=CREDIT_READ,
        node="Contract",
        visible=visible_contract,
    ),
    EventType(
        "contract.scheduled",
        "The payment schedule (installments) was generated from the payment terms or "
        "entered by hand, replacing any earlier one.",
        {
            "source": "terms (from the payment terms) or manual",
            "installments": f"the installments as [due date (ISO), amount {MONEY}] pairs",
        },
        scope=READ,
        node="Contract",
        visible=visible_contract,
    ),
    EventType(
        "contract.reassigned",
        "An open contract moved to a new owner with a customer handover.",
        {"owner": "user id of the new owner"},
        scope=READ,
        node="Contract",
        visible=visible_contract,
    ),
    EventType(
        "contract.merged",
        "Contracts and receivables of a merged customer (``merged_id``) were moved to the "
        "surviving customer (``customer``); no single contract, so no entity id.",
        {"merged_id": "id of the customer merged away"},
        scope=READ,
    ),
    EventType(
        "contract_approval.approved",
        "An approval step of a contract was approved (the last one makes it approved).",
        APPROVAL,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "contract_approval.rejected",
        "An approval step was rejected; the contract goes back to draft.",
        APPROVAL,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "contract_amendment.requested",
        "A supplementary agreement (补充协议) changing a signed contract was proposed.",
        {
            "id": "amendment id",
            "contract": "id of the contract",
            "number": "amendment number within the contract (1, 2...)",
            "reason": "why the change is needed",
            "changes": "the proposed field values (clauses and dates)",
            "status": "pending",
            "requested_by": "user id of the requester",
            "decided_by": "null (not decided yet)",
            "comment": "empty (the decision's comment)",
            "decided_at": "null (not decided yet)",
            "created_at": "when it was requested",
        },
        table=Amendment,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "contract_amendment.approved",
        "An amendment was approved: its changes were applied and a new contract version kept.",
        AMENDMENT_DECISION,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "contract_amendment.rejected",
        "An amendment was rejected; the contract is unchanged.",
        AMENDMENT_DECISION,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "contract_milestone.created",
        "A delivery or acceptance milestone was added to a contract.",
        MILESTONE,
        table=Milestone,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "contract_milestone.completed",
        "A milestone was completed (``completed_on``).",
        MILESTONE,
        table=Milestone,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "contract_dispute.opened",
        "A dispute was recorded; a signed or executing contract moves to disputed.",
        DISPUTE,
        table=Dispute,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "contract_dispute.resolved",
        "A dispute was resolved; with none left open a disputed contract resumes execution.",
        {**DISPUTE, "resolution": "how it was resolved"},
        table=Dispute,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "credit_profile.set",
        "A customer's credit limit and rating were set or replaced (credit:manage).",
        {
            "id": "credit profile id",
            "customer": "id of the customer",
            "limit_minor": "the credit limit in minor units (e.g. fen) of ``currency``",
            "currency": "ISO 4217 currency code of the limit",
            "rating": "the credit rating (e.g. A, B, C, D)",
            "notes": "finance's notes on the customer's credit",
            "version": "version of the profile, absent when it was created",
            "updated_at": "when it was set",
        },
        table=CreditProfile,
        scope=CREDIT_READ,
    ),
    EventType(
        "installment.dunned",
        "A dunning step (reminder, collection, legal...) was taken for an installment; a "
        "planned task activity was logged for its owner.",
        {
            "step": "the dunning step (by default pre_due_reminder, reminder, collection, legal)",
            "days_overdue": "days past the due date (negative: before it is due)",
            "open_minor": f"amount still open {MONEY}",
            "currency": "ISO 4217 currency code",
            "contract_number": "number of the installment's contract",
            "activity": "id of the task activity logged",
        },
        scope=READ,
        node="Installment",
        visible=visible_installment,
    ),
    EventType(
        "invoice.issued",
        "An invoice (开票) was issued for an installment or an amount of a signed contract.",
        {
            "id": "invoice id",
            "customer": "id of the customer invoiced",
            "created_at": "when it was recorded",
            "number": "invoice number",
            "contract": "id of the contract",
            "installment": "id of the installment invoiced, null for a free amount",
            "amount_minor": f"amount invoiced {MONEY}",
            "currency": "ISO 4217 currency code",
            "issued_on": "date issued (ISO date)",
            "created_by": "user id of who issued it (null: the system)",
        },
        table=Invoice,
        scope=READ,
        node="Invoice",
        visible=visible_contract_child,
    ),
    EventType(
        "payment.received",
        "A payment (回款) was recorded; ``payment.allocated`` events follow for the parts "
        "applied to installments.",
        {
            "id": "payment id",
            "customer": "id of the paying customer",
            "created_at": "when it was recorded",
            "contract": "id of the contract it was recorded against, or null",
            "amount_minor": f"amount received {MONEY}",
            "allocated_minor": f"amount allocated to installments so far {MONEY}",
            "refunded_minor": f"amount refunded {MONEY}",
            "currency": "ISO 4217 currency code",
            "method": "cash, bank_transfer, cheque or other",
            "received_on": "date received (ISO date)",
            "reference": "the payer's or bank's reference",
            "idempotency_key": "the client's idempotency key, or null",
            "created_by": "user id of who recorded it (null: the system)",
        },
        scope=READ,
        node="Payment",
    ),
    EventType(
        "payment.allocated",
        "Part of a payment was applied to an installment of a contract.",
        {
            "installment": "id of the installment",
            "contract": "id of the installment's contract",
            "allocation": "id of the allocation",
            "amount_minor": f"amount applied {MONEY}",
            "currency": "ISO 4217 currency code",
            "applied_on": "date applied (ISO date)",
            "open_after_minor": f"the installment's open amount afterwards {MONEY}",
        },
        scope=READ,
        node="Payment",
        visible=visible_contract_child,
    ),
    EventType(
        "payment.refunded",
        "Part of a payment's unallocated remainder was paid back (a refund credit).",
        {
            **CREDIT,
            "id": "id of the refund credit",
            "credit": "id of the refund credit",
            "kind": "refund",
            "payment": "id of the payment refunded",
            "installment": "null (refunds concern a payment)",
        },
        table=CreditRow,
        scope=READ,
        node="Payment",
    ),
    EventType(
        "credit.credit_note",
        "A credit note (红字发票/折让) reduced an installment's open amount.",
        {
            **CREDIT,
            "id": "id of the credit",
            "kind": "credit_note",
            "installment": "id of the installment credited",
            "payment": "null",
            "contract": "id of the installment's contract",
        },
        table=CreditRow,
        scope=READ,
        visible=visible_contract_child,
    ),
    EventType(
        "credit.write_off",
        "An installment's open amount (or part of it) was written off as bad debt (核销坏账).",
        {
            **CREDIT,
            "id": "id of the credit",
            "kind": "write_off",
            "installment": "id of the installment written off",
            "payment": "null",
            "contract": "id of the installment's contract",
        },
        table=CreditRow,
        scope=READ,
        visible=visible_contract_child,
    ),
]
