"""Contacts: people at a customer, with a buying role."""

from typing import Any

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import Actor
from kehu.core.services.common import check_choice, raise_if
from kehu.core.services.customers import customer_scope, get_customer
from kehu.core.services.records import update_versioned
from kehu.core.tables import BuyingRole, Contact, Customer
from kehu.core.validation import clean_email, clean_phone, require_text

FIELDS = {"name", "title", "buying_role", "email", "phone", "is_primary", "notes"}


def clean_contact(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown contact field(s): {', '.join(sorted(unknown))}")
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        out["name"], err = require_text(data.get("name"), "name", 200)
        errors += [err] if err else []
    if "title" in data:
        out["title"] = (data["title"] or "").strip()
        if len(out["title"]) > 100:
            errors.append(FieldError("title", "title is longer than 100 characters", "TOO_LONG"))
    if "notes" in data:
        out["notes"] = data["notes"] or ""
    if "buying_role" in data:
        out["buying_role"] = check_choice(data["buying_role"], BuyingRole, "buyingRole", errors)
    if "email" in data:
        out["email"], err = clean_email(data["email"])
        errors += [err] if err else []
    if "phone" in data:
        out["phone"], err = clean_phone(data["phone"])
        errors += [err] if err else []
    if "is_primary" in data:
        out["is_primary"] = bool(data["is_primary"])
    raise_if(errors)
    return out


def _scoped(query: Any, actor: Actor) -> Any:
    scope = customer_scope(actor)
    if scope is None:
        return query
    return query.where(Contact.customer.is_in(Customer.select(Customer.id).where(scope)))


async def get_contact(actor: Actor, contact_id: int) -> dict[str, Any]:
    actor.require("customer:read")
    row = await _scoped(Contact.select().where(Contact.id == contact_id), actor).first()
    if row is None:
        raise NotFound(f"Contact {contact_id} not found")
    return row


async def contacts_by_customer(customer_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Contacts of already-visible customers, primary first."""
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in customer_ids}
    if customer_ids:
        rows = (
            await Contact.select()
            .where(Contact.customer.is_in(list(set(customer_ids))))
            .order_by(Contact.is_primary, ascending=False)
            .order_by(Contact.name, Contact.id)
        )
        for row in rows:
            out[row["customer"]].append(row)
    return out


async def mail_recipient(customer_id: int, role: str | None = None) -> tuple[str, str] | None:
    """``(address, name)`` to write to about a customer: its contact with buying role
    ``role`` (e.g. ``finance`` for payment reminders), else the primary contact, else any
    contact with an address, else the customer's own address. For notifications."""
    contacts = [c for c in (await contacts_by_customer([customer_id]))[customer_id] if c["email"]]
    for wanted in ([role] if role else []) + [None]:
        for contact in contacts:
            if wanted is None or contact["buying_role"] == wanted:
                return contact["email"], contact["name"]
    customer = (
        await Customer.select(Customer.email, Customer.name)
        .where(Customer.id == customer_id)
        .first()
    )
    if customer and customer["email"]:
        return customer["email"], customer["name"]
    return None


async def contacts_by_ids(actor: Actor, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await _scoped(Contact.select().where(Contact.id.is_in(list(set(ids)))), actor)
    return {r["id"]: r for r in rows}


async def _clear_other_primary(customer_id: int, keep_id: int) -> None:
    await Contact.update({Contact.is_primary: False}).where(
        Contact.customer == customer_id, Contact.id != keep_id, Contact.is_primary.eq(True)
    )


async def create_contact(actor: Actor, customer_id: int, data: dict[str, Any]) -> dict:
    actor.require("customer:write")
    values = clean_contact(data, partial=False)
    async with unit_of_work():
        customer = await get_customer(actor, customer_id)
        if customer["archived_at"] is not None:
            raise ValidationFailed("Customer is archived", field="customerId")
        row = (
            await Contact.insert(Contact(customer=customer_id, **values)).returning(
                *Contact.all_columns()
            )
        )[0]
        if row["is_primary"]:
            await _clear_other_primary(customer_id, row["id"])
        await record(actor, "created", "contact", row["id"], after=row)
    return row


async def update_contact(
    actor: Actor, contact_id: int, expected_version: int, data: dict[str, Any]
) -> dict[str, Any]:
    actor.require("customer:write")
    values = clean_contact(data, partial=True)
    async with unit_of_work():
        await get_contact(actor, contact_id)  # NotFound unless the actor may see it
        after = await update_versioned(
            actor, Contact, contact_id, expected_version, values, entity="contact"
        )
        if values.get("is_primary"):
            await _clear_other_primary(after["customer"], contact_id)
    return after


async def delete_contact(actor: Actor, contact_id: int) -> int:
    """Delete a contact; its activities stay on the customer (contact link cleared)."""
    actor.require("customer:write")
    async with unit_of_work():
        before = await get_contact(actor, contact_id)
        await Contact.delete().where(Contact.id == contact_id)
        await record(actor, "deleted", "contact", contact_id, before=before)
    return contact_id
