"""What every contracts service shares: settings, states, row locks, dates, visibility,
numbering."""

from datetime import date
from decimal import Decimal
from typing import Any

from piccolo.columns.combination import Where

from kehu.core.context import current
from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import NotFound
from kehu.core.money import Money
from kehu.core.permissions import Actor, owner_team_scope
from kehu.core.services.common import now
from kehu.core.services.customers import customer_scope
from kehu.core.tables import Customer
from kehu.plugins.contracts.settings import ContractsSettings
from kehu.plugins.contracts.tables import Contract, ContractStatus, CreditProfile, Sequence

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


async def credit_profiles(customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not customer_ids:
        return {}
    rows = await CreditProfile.select().where(CreditProfile.customer.is_in(list(set(customer_ids))))
    return {r["customer"]: r for r in rows}


def as_decimal(minor: int, currency: str) -> Decimal:
    return Money(minor, currency).amount


_STATES_SQL = ", ".join(f"'{s.value}'" for s in RECEIVABLE_STATES)
