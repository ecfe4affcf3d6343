"""Contracts: reading them (visibility, filters, batch loads for DataLoaders) and drafting them
(lines, mandatory fields, updates)."""

from dataclasses import dataclass, field
from typing import Any

from kehu.core.context import current
from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money, check_currency
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor, require_assign
from kehu.core.services.common import as_date, now, raise_if
from kehu.core.services.customers import get_customer
from kehu.core.services.records import stale
from kehu.core.tables import User
from kehu.plugins.contracts.services.common import (
    DATE_FIELDS,
    EDITABLE,
    TEXT_FIELDS,
    S,
    _visible,
    config,
    get_contract,
    next_number,
)
from kehu.plugins.contracts.services.schedules import parse_terms
from kehu.plugins.contracts.tables import (
    Amendment,
    Contract,
    ContractApproval,
    ContractLine,
    ContractVersion,
    Dispute,
    Milestone,
    PaymentMethod,
)


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
        require_assign(actor, values.get("owner"), "contract:assign")
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
            raise stale("contract", contract_id, expected_version)
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
        if values.get("owner") != row["owner"]:
            require_assign(actor, values.get("owner"), "contract:assign")
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
