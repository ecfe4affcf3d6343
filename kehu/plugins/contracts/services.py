"""Contract business logic: drafting, mandatory clauses, the lifecycle state machine,
approval chains, credit evaluation, signing, milestones, disputes, amendments and versions.

No HTTP or GraphQL here: GraphQL, CLI, jobs and event handlers call these functions, so
permissions (``actor.require``) and visibility apply everywhere alike. Receivables (schedules,
invoices, payments, aging...) live in :mod:`kehu.plugins.contracts.receivables`.
"""

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from piccolo.columns.combination import Where, WhereRaw

from kehu.core.context import current
from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money, check_currency
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor, owner_team_scope
from kehu.core.services.common import as_date, now, raise_if
from kehu.core.services.customers import customer_scope, get_customer
from kehu.core.tables import Customer, User
from kehu.plugins.contracts.settings import ContractsSettings
from kehu.plugins.contracts.tables import (
    Amendment,
    AmendmentStatus,
    ApprovalDecision,
    Contract,
    ContractApproval,
    ContractLine,
    ContractStatus,
    ContractVersion,
    CreditProfile,
    Dispute,
    DisputeStatus,
    Installment,
    Milestone,
    MilestoneKind,
    PaymentMethod,
    Sequence,
)

PLUGIN = "contracts"
S = ContractStatus

TRANSITIONS: dict[str, set[str]] = {
    S.draft: {S.pending_approval, S.terminated},
    S.pending_approval: {S.approved, S.draft, S.terminated},
    S.approved: {S.signed, S.draft, S.terminated},
    S.signed: {S.in_execution, S.disputed, S.terminated},
    S.in_execution: {S.completed, S.disputed, S.terminated},
    S.disputed: {S.in_execution, S.completed, S.terminated},
    S.completed: set(),
    S.terminated: set(),
}
RECEIVABLE_STATES = (S.signed, S.in_execution, S.completed, S.disputed, S.terminated)
SIGNED_STATES = (S.signed, S.in_execution, S.disputed)

TEXT_FIELDS = {
    "title": 255,
    "payment_terms": 100,
    "breach_liability": 20000,
    "acceptance_terms": 20000,
    "after_sales_terms": 20000,
    "sla_policy": 50,
}
DATE_FIELDS = ("delivery_deadline", "start_date", "end_date", "renewal_date")
EDITABLE = {*TEXT_FIELDS, *DATE_FIELDS, "payment_method", "currency", "owner", "lines"}
AMENDABLE = {*TEXT_FIELDS, *DATE_FIELDS, "payment_method"}
CLAUSES = ("delivery_deadline", "payment_method", "breach_liability")


def config() -> ContractsSettings:
    return current().plugin_settings(PLUGIN)


def lock(query: Any) -> Any:
    """``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
    serialises writers, so the query is returned unchanged there."""
    return query if is_sqlite(current_engine()) else query.lock_rows()


def sql_date(value: date) -> Any:
    """A date parameter for raw SQL (ISO text on SQLite, where dates are stored as text)."""
    return value.isoformat() if is_sqlite(current_engine()) else value


def today() -> date:
    return now().date()


# -- visibility ------------------------------------------------------------------------------


def contract_scope(actor: Actor) -> Where | None:
    """Contracts ``actor`` may see: owner/team scope on the contract AND the customer's
    visibility (``None`` = all)."""
    own = owner_team_scope(actor, Contract.owner, Contract.team)
    customers = customer_scope(actor)
    if customers is None:
        return own
    visible = Contract.customer.is_in(Customer.select(Customer.id).where(customers))
    return visible if own is None else own & visible


def raw_scope(actor: Actor, contract: str = "k", customer: str = "cu") -> tuple[str, list]:
    """The same rule as :func:`contract_scope` as a raw SQL condition with ``{}`` parameters,
    for aggregate queries joining ``contracts_contract`` and ``core_customer``."""
    if actor.visibility == "all" or actor.is_system:
        return "1 = 1", []
    if actor.visibility == "team" and actor.team_id is not None:
        return (
            f"({contract}.owner = {{}} OR {contract}.team = {{}}) AND "
            f"({customer}.owner = {{}} OR {customer}.team = {{}})",
            [actor.user_id, actor.team_id, actor.user_id, actor.team_id],
        )
    return f"{contract}.owner = {{}} AND {customer}.owner = {{}}", [actor.user_id, actor.user_id]


def _visible(query: Any, actor: Actor) -> Any:
    scope = contract_scope(actor)
    return query if scope is None else query.where(scope)


async def get_contract(actor: Actor, contract_id: int, *, for_update: bool = False) -> dict:
    """A contract ``actor`` may see, or ``NotFound``; ``for_update`` locks the row."""
    actor.require("contract:read")
    query = _visible(Contract.select().where(Contract.id == contract_id), actor)
    row = await (lock(query) if for_update else query).first()
    if row is None:
        raise NotFound(f"Contract {contract_id} not found")
    return row


async def contracts_by_ids(actor: Actor, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids or not actor.can("contract:read"):
        return {}
    rows = await _visible(Contract.select().where(Contract.id.is_in(list(set(ids)))), actor)
    return {r["id"]: r for r in rows}


async def contracts_by_customer(
    actor: Actor, customer_ids: list[int], limit: int = 20
) -> dict[int, list[dict[str, Any]]]:
    """The newest ``limit`` visible contracts of each customer, in one query."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in customer_ids}
    if not customer_ids or not actor.can("contract:read"):
        return out
    rows = await _visible(
        Contract.select().where(Contract.customer.is_in(list(set(customer_ids)))), actor
    ).order_by(Contract.created_at, Contract.id, ascending=False)
    for row in rows:
        if len(out[row["customer"]]) < limit:
            out[row["customer"]].append(row)
    return out


@dataclass
class ContractFilter:
    customer_id: int | None = None
    status: str | None = None
    owner_id: int | None = None
    statuses: list[str] | None = field(default=None)


def _filtered(query: Any, actor: Actor, f: ContractFilter) -> Any:
    query = _visible(query, actor)
    if f.customer_id is not None:
        query = query.where(Contract.customer == f.customer_id)
    if f.status is not None:
        query = query.where(Contract.status == f.status)
    if f.statuses:
        query = query.where(Contract.status.is_in(f.statuses))
    if f.owner_id is not None:
        query = query.where(Contract.owner == f.owner_id)
    return query


async def list_contracts(
    actor: Actor, f: ContractFilter | None = None, *, first: int = 20, after: str | None = None
) -> Page:
    """Visible contracts, newest first (keyset pagination)."""
    actor.require("contract:read")
    return await keyset_page(
        _filtered(Contract.select(), actor, f or ContractFilter()),
        sort=Contract.id,
        pk=Contract.id,
        descending=True,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )


async def count_contracts(actor: Actor, f: ContractFilter | None = None) -> int:
    actor.require("contract:read")
    return await _filtered(Contract.count(), actor, f or ContractFilter())


async def lines_by_contract(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        rows = (
            await ContractLine.select()
            .where(ContractLine.contract.is_in(list(set(ids))))
            .order_by(ContractLine.contract, ContractLine.position, ContractLine.id)
        )
        for r in rows:
            out[r["contract"]].append(r)
    return out


async def _children(table: Any, ids: list[int], *order: Any) -> dict[int, list[dict]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        query = table.select().where(table.contract.is_in(list(set(ids))))
        rows = await query.order_by(*(order or (table.id,)))
        for r in rows:
            out[r["contract"]].append(r)
    return out


async def approvals_by_contract(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    return await _children(ContractApproval, ids, ContractApproval.round, ContractApproval.step)


async def milestones_by_contract(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    return await _children(Milestone, ids, Milestone.due_date, Milestone.id)


async def disputes_by_contract(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    return await _children(Dispute, ids)


async def versions_by_contract(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    return await _children(ContractVersion, ids, ContractVersion.number)


async def amendments_by_contract(ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    return await _children(Amendment, ids, Amendment.number)


# -- numbers ---------------------------------------------------------------------------------


async def next_number(prefix: str, on: date | None = None) -> str:
    """``<prefix>-<year>-<00001>``: a locked counter row per prefix and year (call inside a
    unit of work)."""
    year = (on or today()).year
    name = f"{prefix}-{year}"
    await Sequence.raw(
        "INSERT INTO contracts_sequence (name, value) VALUES ({}, 0) ON CONFLICT (name) DO NOTHING",
        name,
    )
    rows = await Sequence.raw(
        "UPDATE contracts_sequence SET value = value + 1 WHERE name = {} RETURNING value", name
    )
    return f"{name}-{rows[0]['value']:05d}"


# -- drafting --------------------------------------------------------------------------------


def _clean_lines(raw: Any, currency: str, errors: list[FieldError]) -> list[dict[str, Any]]:
    lines = []
    for i, item in enumerate(raw or []):
        where = f"lines[{i}]"
        product = str(item.get("product") or "").strip()
        spec = str(item.get("specification") or "").strip()
        quantity = item.get("quantity") or 0
        price = item.get("unit_price")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            errors.append(FieldError(f"{where}.quantity", "quantity must be a whole number ≥ 0"))
            quantity = 0
        if price is None:
            price = Money.zero(currency)
        elif not isinstance(price, Money):
            errors.append(FieldError(f"{where}.unitPrice", "unitPrice must be money"))
            price = Money.zero(currency)
        if price.currency != currency:
            errors.append(
                FieldError(
                    f"{where}.unitPrice",
                    f"unitPrice is in {price.currency}, the contract in {currency}",
                    "CURRENCY_MISMATCH",
                )
            )
        if price.minor < 0:
            errors.append(FieldError(f"{where}.unitPrice", "unitPrice must not be negative"))
        if len(product) > 255 or len(spec) > 255:
            errors.append(FieldError(where, "product and specification ≤ 255 characters"))
        lines.append(
            {
                "position": i,
                "product": product,
                "specification": spec,
                "quantity": quantity,
                "unit_price_minor": price.minor,
                "amount_minor": price.minor * quantity,
            }
        )
    return lines


async def _clean(data: dict[str, Any], current_row: dict[str, Any] | None) -> dict[str, Any]:
    unknown = set(data) - EDITABLE
    if unknown:
        raise ValidationFailed(f"Unknown contract field(s): {', '.join(sorted(unknown))}")
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for name, limit in TEXT_FIELDS.items():
        if name in data:
            value = str(data[name] or "").strip()
            if len(value) > limit:
                errors.append(FieldError(name, f"{name} is longer than {limit} characters"))
            out[name] = value
    for name in DATE_FIELDS:
        if name in data:
            out[name] = as_date(data[name], name, errors)
    if "payment_method" in data:
        method = getattr(data["payment_method"], "value", data["payment_method"]) or ""
        if method and method not in {m.value for m in PaymentMethod}:
            errors.append(FieldError("paymentMethod", "Unknown payment method", "INVALID_CHOICE"))
        out["payment_method"] = method
    currency = (current_row or {}).get("currency") or config().default_currency
    if data.get("currency"):
        try:
            currency = check_currency(data["currency"])
        except ValidationFailed as exc:
            errors += exc.errors
        out["currency"] = currency
    if out.get("payment_terms"):
        from kehu.plugins.contracts.receivables import parse_terms

        try:
            parse_terms(out["payment_terms"])
        except ValidationFailed as exc:
            errors += exc.errors
    if data.get("owner") is not None:
        user = await User.select(User.active, User.team).where(User.id == data["owner"]).first()
        if user is None or not user["active"]:
            errors.append(FieldError("ownerId", "Owner must be an active user", "NOT_FOUND"))
        else:
            out["owner"], out["team"] = data["owner"], user["team"]
    start = out.get("start_date", (current_row or {}).get("start_date"))
    end = out.get("end_date", (current_row or {}).get("end_date"))
    if start and end and end < start:
        errors.append(FieldError("endDate", "endDate is before startDate", "INVALID_RANGE"))
    if "lines" in data:
        out["lines"] = _clean_lines(data["lines"], currency, errors)
    elif (
        "currency" in out
        and current_row
        and out["currency"] != current_row["currency"]
        and await ContractLine.exists().where(ContractLine.contract == current_row["id"])
    ):
        errors.append(FieldError("currency", "Give the lines again to change the currency"))
    raise_if(errors)
    return out


async def _write_lines(contract_id: int, lines: list[dict[str, Any]]) -> int:
    await ContractLine.delete().where(ContractLine.contract == contract_id)
    if lines:
        await ContractLine.insert(*[ContractLine(contract=contract_id, **ln) for ln in lines])
    return sum(ln["amount_minor"] for ln in lines)


async def create_contract(actor: Actor, customer_id: int, data: dict[str, Any]) -> dict:
    """A draft contract for a visible customer; ``lines`` are
    ``{product, specification, quantity, unit_price: Money}``; the total is computed."""
    actor.require("contract:write")
    async with unit_of_work():
        customer = await get_customer(actor, customer_id)
        values = await _clean(data, None)
        values.setdefault("currency", config().default_currency)
        lines = values.pop("lines", [])
        if "owner" not in values:
            if actor.user_id is not None:
                values["owner"], values["team"] = actor.user_id, actor.team_id
            else:
                values["owner"], values["team"] = customer["owner"], customer["team"]
        values["number"] = await next_number(config().number_prefix)
        row = (
            await Contract.insert(Contract(customer=customer_id, **values)).returning(
                *Contract.all_columns()
            )
        )[0]
        total = await _write_lines(row["id"], lines)
        if total:
            await Contract.update({Contract.total_minor: total}).where(Contract.id == row["id"])
            row["total_minor"] = total
        await record(actor, "created", "contract", row["id"], after=_audit(row, lines))
    return row


def _audit(row: dict[str, Any], lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in {"created_at", "updated_at"}}
    if lines is not None:
        out["lines"] = [{k: v for k, v in ln.items() if k != "contract"} for ln in lines]
    return out


async def update_contract(
    actor: Actor, contract_id: int, expected_version: int, data: dict[str, Any]
) -> dict:
    """Edit a draft (after signing, use an amendment)."""
    actor.require("contract:write")
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        if row["version"] != expected_version:
            raise Conflict(
                f"Contract {contract_id} changed (version {row['version']}, "
                f"expected {expected_version})"
            )
        if row["status"] != S.draft:
            raise ValidationFailed(
                FieldError(
                    "status",
                    f"Only draft contracts can be edited (this one is {row['status']}); "
                    "use an amendment after signing",
                    "NOT_EDITABLE",
                )
            )
        values = await _clean(data, row)
        lines = values.pop("lines", None)
        if lines is not None:
            values["total_minor"] = await _write_lines(contract_id, lines)
        values.update(version=row["version"] + 1, updated_at=now())
        await Contract.update(values).where(Contract.id == contract_id)
        after = {**row, **values}
        changed_before = {k: row.get(k) for k in values if k in row}
        await record(
            actor,
            "updated",
            "contract",
            contract_id,
            before=changed_before,
            after={**{k: after[k] for k in values}, "customer": row["customer"]},
        )
    return after


# -- the state machine -------------------------------------------------------------------------


def check_transition(current_status: str, target: str) -> None:
    """``ValidationFailed`` (code ``INVALID_TRANSITION``) unless the move is allowed."""
    if target not in TRANSITIONS.get(current_status, set()):
        raise ValidationFailed(
            FieldError(
                "status",
                f"Cannot move a contract from {current_status} to {target}",
                "INVALID_TRANSITION",
            )
        )


async def _transition(
    actor: Actor,
    row: dict[str, Any],
    target: str,
    values: dict[str, Any] | None = None,
    *,
    note: str = "",
) -> dict[str, Any]:
    """Move a locked contract row to ``target`` and audit it (action ``transitioned``)."""
    check_transition(row["status"], target)
    changes = {
        "status": target,
        "version": row["version"] + 1,
        "updated_at": now(),
        **(values or {}),
    }
    await Contract.update(changes).where(Contract.id == row["id"])
    after = {**row, **changes}
    data = {
        "from": row["status"],
        "status": target,
        "number": row["number"],
        "customer": row["customer"],
        "total_minor": row["total_minor"],
        "currency": row["currency"],
    }
    if note:
        data["note"] = note
    await record(
        actor,
        "transitioned",
        "contract",
        row["id"],
        before={"status": row["status"]},
        after=data,
    )
    return after


def missing_clauses(row: dict[str, Any], lines: list[dict[str, Any]]) -> list[FieldError]:
    """Every mandatory clause the contract lacks (code ``MISSING_CLAUSE``)."""
    errors = []

    def miss(f: str, what: str) -> None:
        errors.append(FieldError(f, f"Mandatory clause missing: {what}", "MISSING_CLAUSE"))

    if not lines:
        miss("lines", "at least one line item (product, specification, quantity, price)")
    for i, ln in enumerate(lines):
        if not ln["product"]:
            miss(f"lines[{i}].product", "product")
        if not ln["specification"]:
            miss(f"lines[{i}].specification", "specification")
        if ln["quantity"] <= 0:
            miss(f"lines[{i}].quantity", "quantity")
        if ln["unit_price_minor"] <= 0:
            miss(f"lines[{i}].unitPrice", "price")
    if row.get("delivery_deadline") is None:
        miss("deliveryDeadline", "delivery deadline")
    if not row.get("payment_method"):
        miss("paymentMethod", "payment method")
    if not (row.get("breach_liability") or "").strip():
        miss("breachLiability", "breach liability (违约责任)")
    return errors


async def submit_contract(actor: Actor, contract_id: int) -> dict:
    """draft → pending_approval, after checking the mandatory clauses; opens the approval
    chain of the contract's amount tier."""
    actor.require("contract:write")
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        check_transition(row["status"], S.pending_approval)
        lines = (await lines_by_contract([contract_id]))[contract_id]
        raise_if(missing_clauses(row, lines))
        total = Money(row["total_minor"], row["currency"]).amount
        tier = config().tier_for(total)
        last = (
            await ContractApproval.select(ContractApproval.round)
            .where(ContractApproval.contract == contract_id)
            .order_by(ContractApproval.round, ascending=False)
            .first()
        )
        round_no = (last["round"] + 1) if last else 1
        await ContractApproval.insert(
            *[
                ContractApproval(
                    contract=contract_id, round=round_no, step=i, name=s.name, role=s.role
                )
                for i, s in enumerate(tier.steps)
            ]
        )
        row = await _transition(
            actor, row, S.pending_approval, {"approval_step": 0, "submitted_at": now()}
        )
    return row


async def decide_approval(actor: Actor, contract_id: int, approve: bool, comment: str = "") -> dict:
    """Approve or reject the current approval step. Only a user with the step's role (or an
    admin) may decide; rejection sends the contract back to draft, the last approval makes
    it ``approved``."""
    actor.require("contract:approve")
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationFailed(FieldError("comment", "A rejection needs a comment", "REQUIRED"))
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        if row["status"] != S.pending_approval:
            raise ValidationFailed(
                FieldError(
                    "status",
                    f"Contract is {row['status']}, not pending_approval",
                    "INVALID_TRANSITION",
                )
            )
        steps = (
            await ContractApproval.select()
            .where(
                ContractApproval.contract == contract_id,
                ContractApproval.decision == ApprovalDecision.pending,
            )
            .order_by(ContractApproval.step)
        )
        if not steps:
            raise ValidationFailed("No pending approval step", field="status")
        step = steps[0]
        if actor.role != step["role"] and actor.role != "admin":
            raise ValidationFailed(
                FieldError(
                    "approval",
                    f"Step {step['name']} must be decided by a {step['role']}",
                    "WRONG_APPROVER",
                )
            )
        decision = ApprovalDecision.approved if approve else ApprovalDecision.rejected
        await ContractApproval.update(
            {
                ContractApproval.decision: decision,
                ContractApproval.decided_by: actor.user_id,
                ContractApproval.comment: comment,
                ContractApproval.decided_at: now(),
            }
        ).where(ContractApproval.id == step["id"])
        await record(
            actor,
            decision.value,
            "contract_approval",
            step["id"],
            after={
                "contract": contract_id,
                "step": step["name"],
                "role": step["role"],
                "comment": comment,
                "customer": row["customer"],
            },
        )
        if not approve:
            await ContractApproval.update(
                {ContractApproval.decision: ApprovalDecision.cancelled}
            ).where(
                ContractApproval.contract == contract_id,
                ContractApproval.decision == ApprovalDecision.pending,
            )
            row = await _transition(actor, row, S.draft, note=f"rejected at {step['name']}")
        elif len(steps) == 1:
            row = await _transition(actor, row, S.approved, {"approval_step": step["step"] + 1})
        else:
            values = {"approval_step": step["step"] + 1, "version": row["version"] + 1}
            await Contract.update(values).where(Contract.id == contract_id)
            row = {**row, **values}
    return row


# -- credit ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditStatus:
    customer_id: int
    limit: Money | None
    rating: str
    exposure: Money
    open_receivables: Money
    overdue: Money
    unsigned_approved: Money
    paid_on_time: int
    paid_late: int
    overdue_90: Money

    @property
    def suggested_rating(self) -> str:
        """A rating from payment history, overdue amounts and the limit (advice for finance;
        the profile's ``rating`` is what counts): ``D`` anything more than 90 days overdue;
        ``C`` anything overdue or more installments paid late than on time; ``B`` some paid
        late, exposure above 80% of the limit, or no history; ``A`` otherwise."""
        if self.overdue_90.minor > 0:
            return "D"
        if self.overdue.minor > 0 or self.paid_late > self.paid_on_time:
            return "C"
        over_80 = self.limit is not None and self.exposure.minor * 5 > self.limit.minor * 4
        if self.paid_late or over_80 or not self.paid_on_time:
            return "B"
        return "A"

    @property
    def high_risk(self) -> bool:
        return self.rating in config().high_risk_ratings

    @property
    def available(self) -> Money | None:
        return None if self.limit is None else self.limit - self.exposure


async def credit_profiles(customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not customer_ids:
        return {}
    rows = await CreditProfile.select().where(CreditProfile.customer.is_in(list(set(customer_ids))))
    return {r["customer"]: r for r in rows}


async def credit_statuses(customer_ids: list[int], on: date | None = None) -> dict[int, Any]:
    """Credit status per customer in a fixed number of queries; amounts in the currency of
    the credit profile (or the default currency); other currencies are not counted."""
    on = on or today()
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    profiles = await credit_profiles(ids)
    marks = ", ".join("{}" for _ in ids)
    states = ", ".join(f"'{s.value}'" for s in RECEIVABLE_STATES)
    open_rows = await Installment.raw(
        "SELECT i.customer AS customer, i.currency AS currency, "
        "SUM(i.amount_minor - i.paid_minor - i.credited_minor) AS open, "
        "SUM(CASE WHEN i.due_date < {} THEN i.amount_minor - i.paid_minor - i.credited_minor "
        "ELSE 0 END) AS overdue, "
        "SUM(CASE WHEN i.due_date < {} THEN i.amount_minor - i.paid_minor - i.credited_minor "
        "ELSE 0 END) AS overdue_90 "
        "FROM contracts_installment i JOIN contracts_contract k ON k.id = i.contract "
        f"WHERE i.customer IN ({marks}) AND k.status IN ({states}) "
        "GROUP BY i.customer, i.currency",
        sql_date(on),
        sql_date(on - timedelta(days=90)),
        *ids,
    )
    unsigned = await Contract.raw(
        "SELECT customer, currency, SUM(total_minor) AS total FROM contracts_contract "
        f"WHERE customer IN ({marks}) AND status = 'approved' GROUP BY customer, currency",
        *ids,
    )
    history = await Installment.raw(
        "SELECT i.customer AS customer, "
        "SUM(CASE WHEN last_paid <= i.due_date THEN 1 ELSE 0 END) AS on_time, "
        "SUM(CASE WHEN last_paid > i.due_date THEN 1 ELSE 0 END) AS late "
        "FROM contracts_installment i JOIN (SELECT installment, MAX(applied_on) AS last_paid "
        "FROM contracts_allocation GROUP BY installment) a ON a.installment = i.id "
        f"WHERE i.customer IN ({marks}) AND i.paid_minor + i.credited_minor >= i.amount_minor "
        "GROUP BY i.customer",
        *ids,
    )
    hist = {r["customer"]: r for r in history}
    out = {}
    cfg = config()
    for cid in ids:
        profile = profiles.get(cid)
        currency = profile["currency"] if profile else cfg.default_currency
        opened = sum(
            int(r["open"] or 0)
            for r in open_rows
            if r["customer"] == cid and r["currency"] == currency
        )
        overdue = sum(
            int(r["overdue"] or 0)
            for r in open_rows
            if r["customer"] == cid and r["currency"] == currency
        )
        overdue_90 = sum(
            int(r["overdue_90"] or 0)
            for r in open_rows
            if r["customer"] == cid and r["currency"] == currency
        )
        pending = sum(
            int(r["total"] or 0)
            for r in unsigned
            if r["customer"] == cid and r["currency"] == currency
        )
        h = hist.get(cid, {})
        out[cid] = CreditStatus(
            customer_id=cid,
            limit=Money(profile["limit_minor"], currency) if profile else None,
            rating=profile["rating"] if profile else cfg.default_rating,
            exposure=Money(opened + pending, currency),
            open_receivables=Money(opened, currency),
            overdue=Money(overdue, currency),
            unsigned_approved=Money(pending, currency),
            paid_on_time=int(h.get("on_time") or 0),
            paid_late=int(h.get("late") or 0),
            overdue_90=Money(overdue_90, currency),
        )
    return out


async def credit_status(actor: Actor, customer_id: int) -> CreditStatus:
    actor.require("credit:read")
    await get_customer(actor, customer_id)
    return (await credit_statuses([customer_id]))[customer_id]


async def set_credit_profile(
    actor: Actor,
    customer_id: int,
    *,
    limit: Money,
    rating: str,
    notes: str = "",
) -> dict[str, Any]:
    """Create or replace a customer's credit limit and rating (finance/admin)."""
    actor.require("credit:manage")
    errors = []
    if rating not in config().ratings:
        errors.append(
            FieldError(
                "rating", f"rating must be one of {', '.join(config().ratings)}", "INVALID_CHOICE"
            )
        )
    if limit.minor < 0:
        errors.append(FieldError("limit", "limit must not be negative"))
    raise_if(errors)
    async with unit_of_work():
        await get_customer(actor, customer_id)
        before = await lock(
            CreditProfile.select().where(CreditProfile.customer == customer_id)
        ).first()
        values = {
            "limit_minor": limit.minor,
            "currency": limit.currency,
            "rating": rating,
            "notes": notes or "",
            "updated_at": now(),
        }
        if before is None:
            row = (
                await CreditProfile.insert(CreditProfile(customer=customer_id, **values)).returning(
                    *CreditProfile.all_columns()
                )
            )[0]
        else:
            values["version"] = before["version"] + 1
            await CreditProfile.update(values).where(CreditProfile.id == before["id"])
            row = {**before, **values}
        await record(
            actor,
            "set",
            "credit_profile",
            row["id"],
            before=before,
            after={**values, "customer": customer_id},
        )
    return row


# -- signing and execution -------------------------------------------------------------------


async def sign_contract(
    actor: Actor,
    contract_id: int,
    *,
    signed_on: date | None = None,
    override_reason: str | None = None,
) -> dict:
    """approved → signed. A customer over its credit limit (exposure including this contract)
    or with a high-risk rating needs ``override_reason`` from a user with ``credit:override``
    (audited as ``credit_override``). Generates the payment schedule from the payment terms
    when none was entered, and keeps version 1 of the contract."""
    actor.require("contract:sign")
    override_reason = (override_reason or "").strip()
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        check_transition(row["status"], S.signed)
        signed_on = signed_on or today()
        credit = (await credit_statuses([row["customer"]], signed_on))[row["customer"]]
        problems = []
        if credit.high_risk:
            problems.append(
                FieldError(
                    "overrideReason",
                    f"Customer is rated {credit.rating} (high risk): signing needs a credit "
                    "override",
                    "HIGH_RISK_CUSTOMER",
                )
            )
        if credit.limit is not None and credit.exposure > credit.limit:
            problems.append(
                FieldError(
                    "overrideReason",
                    f"Exposure {credit.exposure} exceeds the credit limit {credit.limit}: "
                    "signing needs a credit override",
                    "CREDIT_LIMIT_EXCEEDED",
                )
            )
        if problems:
            if not override_reason:
                raise ValidationFailed(problems)
            actor.require("credit:override")
            await record(
                actor,
                "credit_override",
                "contract",
                contract_id,
                after={
                    "customer": row["customer"],
                    "reason": override_reason,
                    "codes": [p.code for p in problems],
                    "exposure_minor": credit.exposure.minor,
                    "limit_minor": credit.limit.minor if credit.limit else None,
                    "rating": credit.rating,
                },
            )
        row = await _transition(
            actor,
            row,
            S.signed,
            {
                "signed_at": now(),
                "signed_on": signed_on,
                "credit_override_reason": override_reason if problems else "",
            },
        )
        from kehu.plugins.contracts import receivables

        if row["payment_terms"] and not await Installment.exists().where(
            Installment.contract == contract_id
        ):
            await receivables.write_schedule_from_terms(actor, row, signed_on)
        await _save_version(row, None, {})
    return row


async def _save_version(row: dict[str, Any], amendment_id: int | None, changes: dict) -> None:
    last = (
        await ContractVersion.select(ContractVersion.number)
        .where(ContractVersion.contract == row["id"])
        .order_by(ContractVersion.number, ascending=False)
        .first()
    )
    lines = (await lines_by_contract([row["id"]]))[row["id"]]
    snapshot = json.loads(json.dumps(_audit(row, lines), default=str))
    await ContractVersion.insert(
        ContractVersion(
            contract=row["id"],
            number=(last["number"] + 1) if last else 1,
            snapshot=snapshot,
            changes=json.loads(json.dumps(changes, default=str)),
            amendment=amendment_id,
        )
    )


async def _simple(actor: Actor, contract_id: int, target: str, **values: Any) -> dict:
    actor.require("contract:write")
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        return await _transition(actor, row, target, values or None)


async def start_execution(actor: Actor, contract_id: int) -> dict:
    """signed → in_execution."""
    return await _simple(actor, contract_id, S.in_execution)


async def complete_contract(actor: Actor, contract_id: int) -> dict:
    """in_execution (or disputed) → completed."""
    return await _simple(actor, contract_id, S.completed)


async def withdraw_contract(actor: Actor, contract_id: int) -> dict:
    """pending_approval/approved → draft (the open approval steps are cancelled)."""
    actor.require("contract:write")
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        check_transition(row["status"], S.draft)
        await ContractApproval.update(
            {ContractApproval.decision: ApprovalDecision.cancelled}
        ).where(
            ContractApproval.contract == contract_id,
            ContractApproval.decision == ApprovalDecision.pending,
        )
        return await _transition(actor, row, S.draft, note="withdrawn")


async def terminate_contract(actor: Actor, contract_id: int, reason: str) -> dict:
    """Any open state → terminated, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(FieldError("reason", "reason is required", "REQUIRED"))
    actor.require("contract:write")
    async with unit_of_work():
        row = await get_contract(actor, contract_id, for_update=True)
        return await _transition(
            actor, row, S.terminated, {"termination_reason": reason}, note=reason
        )


# -- milestones and disputes ----------------------------------------------------------------


async def add_milestone(
    actor: Actor, contract_id: int, kind: str, title: str, due_date: date
) -> dict:
    actor.require("contract:write")
    if kind not in {k.value for k in MilestoneKind}:
        raise ValidationFailed(FieldError("kind", "kind must be delivery or acceptance"))
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        row = (
            await Milestone.insert(
                Milestone(contract=contract_id, kind=kind, title=title or kind, due_date=due_date)
            ).returning(*Milestone.all_columns())
        )[0]
        await record(
            actor,
            "created",
            "contract_milestone",
            row["id"],
            after={**row, "customer": contract["customer"]},
        )
    return row


async def complete_milestone(actor: Actor, milestone_id: int, completed_on: date) -> dict:
    actor.require("contract:write")
    async with unit_of_work():
        row = await Milestone.select().where(Milestone.id == milestone_id).first()
        if row is None:
            raise NotFound(f"Milestone {milestone_id} not found")
        contract = await get_contract(actor, row["contract"], for_update=True)
        await Milestone.update({Milestone.completed_on: completed_on}).where(
            Milestone.id == milestone_id
        )
        row["completed_on"] = completed_on
        await record(
            actor,
            "completed",
            "contract_milestone",
            milestone_id,
            after={**row, "customer": contract["customer"]},
        )
    return row


async def open_dispute(
    actor: Actor,
    contract_id: int,
    *,
    kind: str,
    description: str = "",
    amount: Money | None = None,
    legal_involved: bool = False,
) -> dict:
    """Record a dispute; a signed or executing contract moves to ``disputed``."""
    actor.require("contract:write")
    kind = (kind or "").strip()
    if not kind:
        raise ValidationFailed(FieldError("kind", "kind is required", "REQUIRED"))
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        amount = amount or Money.zero(contract["currency"])
        if amount.currency != contract["currency"]:
            raise ValidationFailed(
                FieldError("amount", "amount must be in the contract currency", "CURRENCY_MISMATCH")
            )
        row = (
            await Dispute.insert(
                Dispute(
                    contract=contract_id,
                    kind=kind[:50],
                    description=description or "",
                    amount_minor=amount.minor,
                    currency=amount.currency,
                    legal_involved=legal_involved,
                )
            ).returning(*Dispute.all_columns())
        )[0]
        await record(
            actor,
            "opened",
            "contract_dispute",
            row["id"],
            after={**row, "customer": contract["customer"]},
        )
        if contract["status"] in (S.signed, S.in_execution):
            await _transition(actor, contract, S.disputed, note=f"dispute {row['id']}")
    return row


async def resolve_dispute(
    actor: Actor, dispute_id: int, resolution: str, *, legal_involved: bool | None = None
) -> dict:
    """Close a dispute; when none is left open, a disputed contract resumes execution."""
    actor.require("contract:write")
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationFailed(FieldError("resolution", "resolution is required", "REQUIRED"))
    async with unit_of_work():
        row = await Dispute.select().where(Dispute.id == dispute_id).first()
        if row is None:
            raise NotFound(f"Dispute {dispute_id} not found")
        contract = await get_contract(actor, row["contract"], for_update=True)
        if row["status"] != DisputeStatus.open:
            raise ValidationFailed(
                FieldError("status", "Dispute is already resolved", "INVALID_TRANSITION")
            )
        values = {
            "status": DisputeStatus.resolved.value,
            "resolution": resolution,
            "resolved_at": now(),
        }
        if legal_involved is not None:
            values["legal_involved"] = legal_involved
        await Dispute.update(values).where(Dispute.id == dispute_id)
        row.update(values)
        await record(
            actor,
            "resolved",
            "contract_dispute",
            dispute_id,
            after={**row, "customer": contract["customer"]},
        )
        still_open = await Dispute.exists().where(
            Dispute.contract == contract["id"], Dispute.status == DisputeStatus.open
        )
        if contract["status"] == S.disputed and not still_open:
            await _transition(actor, contract, S.in_execution, note="disputes resolved")
    return row


# -- amendments (补充协议) --------------------------------------------------------------------


async def request_amendment(
    actor: Actor, contract_id: int, changes: dict[str, Any], reason: str
) -> dict:
    """Propose changes to a signed contract (clauses and dates; not lines or amounts)."""
    actor.require("contract:write")
    reason = (reason or "").strip()
    errors = []
    if not reason:
        errors.append(FieldError("reason", "reason is required", "REQUIRED"))
    unknown = set(changes) - AMENDABLE
    if unknown:
        errors.append(
            FieldError("changes", f"Not amendable: {', '.join(sorted(unknown))}", "NOT_AMENDABLE")
        )
    if not changes:
        errors.append(FieldError("changes", "No changes given", "REQUIRED"))
    raise_if(errors)
    async with unit_of_work():
        contract = await get_contract(actor, contract_id, for_update=True)
        if contract["status"] not in SIGNED_STATES:
            raise ValidationFailed(
                FieldError(
                    "status",
                    f"Amendments apply to signed contracts, not {contract['status']}",
                    "INVALID_TRANSITION",
                )
            )
        if await Amendment.exists().where(
            Amendment.contract == contract_id, Amendment.status == AmendmentStatus.pending
        ):
            raise ValidationFailed(
                FieldError("changes", "An amendment is already pending", "AMENDMENT_PENDING")
            )
        cleaned = await _clean(changes, contract)
        count = await Amendment.count().where(Amendment.contract == contract_id)
        row = (
            await Amendment.insert(
                Amendment(
                    contract=contract_id,
                    number=count + 1,
                    reason=reason,
                    changes=json.loads(json.dumps(cleaned, default=str)),
                    requested_by=actor.user_id,
                )
            ).returning(*Amendment.all_columns())
        )[0]
        await record(
            actor,
            "requested",
            "contract_amendment",
            row["id"],
            after={**row, "customer": contract["customer"]},
        )
    return row


async def decide_amendment(
    actor: Actor, amendment_id: int, approve: bool, comment: str = ""
) -> dict:
    """Approve (apply the changes, keep a new version with the diff) or reject."""
    actor.require("contract:approve")
    async with unit_of_work():
        row = await Amendment.select().where(Amendment.id == amendment_id).first()
        if row is None:
            raise NotFound(f"Amendment {amendment_id} not found")
        contract = await get_contract(actor, row["contract"], for_update=True)
        if row["status"] != AmendmentStatus.pending:
            raise ValidationFailed(
                FieldError("status", "Amendment was already decided", "INVALID_TRANSITION")
            )
        status = AmendmentStatus.approved if approve else AmendmentStatus.rejected
        await Amendment.update(
            {
                Amendment.status: status,
                Amendment.decided_by: actor.user_id,
                Amendment.comment: comment or "",
                Amendment.decided_at: now(),
            }
        ).where(Amendment.id == amendment_id)
        if approve:
            changes = (
                row["changes"]
                if isinstance(row["changes"], dict)
                else json.loads(row["changes"] or "{}")
            )
            values: dict[str, Any] = {}
            for k, v in changes.items():
                values[k] = date.fromisoformat(v) if k in DATE_FIELDS and v else v
            diff = {
                k: {"before": contract.get(k), "after": v}
                for k, v in values.items()
                if contract.get(k) != v
            }
            values.update(version=contract["version"] + 1, updated_at=now())
            await Contract.update(values).where(Contract.id == contract["id"])
            await _save_version({**contract, **values}, amendment_id, diff)
        await record(
            actor,
            status.value,
            "contract_amendment",
            amendment_id,
            after={
                "contract": contract["id"],
                "comment": comment or "",
                "customer": contract["customer"],
            },
        )
        row["status"] = status.value
    return row


# -- handover ------------------------------------------------------------------------------


async def reassign_contracts(
    actor: Actor, customer_ids: list[int], from_user_id: int | None, to_user_id: int
) -> int:
    """A customer handover moves the open contracts (not completed or terminated) of these
    customers owned by ``from_user_id`` (any owner when ``None``) to the new owner and team
    (runs inside the handover's unit of work). Returns the number of contracts moved."""
    if not customer_ids:
        return 0
    user = await User.select(User.team).where(User.id == to_user_id).first()
    query = Contract.select(Contract.id, Contract.customer, Contract.owner).where(
        Contract.customer.is_in(list(customer_ids)),
        Contract.status.not_in([S.completed.value, S.terminated.value]),
    )
    if from_user_id is not None:
        query = query.where(Contract.owner == from_user_id)
    rows = await query
    if not rows:
        return 0
    await Contract.update(
        {
            Contract.owner: to_user_id,
            Contract.team: user["team"] if user else None,
            Contract.version: Contract.version + 1,
            Contract.updated_at: now(),
        }
    ).where(Contract.id.is_in([r["id"] for r in rows]))
    for r in rows:
        await record(
            actor,
            "reassigned",
            "contract",
            r["id"],
            before={"owner": r["owner"]},
            after={"owner": to_user_id, "customer": r["customer"]},
        )
    return len(rows)


# -- risk flags ------------------------------------------------------------------------------


async def risk_flags(contract_ids: list[int], on: date | None = None) -> dict[int, list[str]]:
    """Flags per contract: ``overdue`` (an installment past due and open), ``delivery_delay``
    (a milestone past due and not completed), ``dispute`` (an open dispute), ``pending_change``
    (an amendment awaiting approval). Four queries for any number of contracts."""
    on = on or today()
    ids = list(set(contract_ids))
    out: dict[int, list[str]] = {i: [] for i in contract_ids}
    if not ids:
        return out
    overdue = (
        await Installment.select(Installment.contract)
        .where(
            Installment.contract.is_in(ids),
            Installment.due_date < on,
            WhereRaw("paid_minor + credited_minor < amount_minor"),
        )
        .distinct()
    )
    late = (
        await Milestone.select(Milestone.contract)
        .where(
            Milestone.contract.is_in(ids), Milestone.due_date < on, Milestone.completed_on.is_null()
        )
        .distinct()
    )
    disputes = (
        await Dispute.select(Dispute.contract)
        .where(Dispute.contract.is_in(ids), Dispute.status == DisputeStatus.open)
        .distinct()
    )
    pending = (
        await Amendment.select(Amendment.contract)
        .where(Amendment.contract.is_in(ids), Amendment.status == AmendmentStatus.pending)
        .distinct()
    )
    for flag, rows in (
        ("overdue", overdue),
        ("delivery_delay", late),
        ("dispute", disputes),
        ("pending_change", pending),
    ):
        for r in rows:
            out[r["contract"]].append(flag)
    return out


def as_decimal(minor: int, currency: str) -> Decimal:
    return Money(minor, currency).amount
