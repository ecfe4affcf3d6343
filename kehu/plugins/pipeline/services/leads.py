"""Leads: fields and score, cleaning, duplicate detection, reading, creating, updating,
qualifying and disqualifying, and listing them."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kehu.core.context import current
from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor
from kehu.core.services import customers as customer_service
from kehu.core.services.common import load_json, now, raise_if
from kehu.core.services.records import stale
from kehu.core.validation import clean_email, clean_phone, name_key, require_text
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import config, lead_scope
from kehu.plugins.pipeline.services.editing import _check_user

LEAD_FIELDS = {
    "name",
    "company",
    "email",
    "phone",
    "title",
    "source",
    "industry",
    "size",
    "notes",
    "factors",
    "owner",
}


def lead_score(factors: dict[str, int], weights: dict[str, Decimal] | None = None) -> int:
    """Σ weight × factor score (factor scores 0..100), ROUND_HALF_UP to an integer."""
    weights = weights if weights is not None else config().lead_scoring_weights
    total = sum(
        (Decimal(str(weights[k])) * int(v) for k, v in factors.items() if k in weights),
        Decimal(0),
    )
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def clean_lead(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - LEAD_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown lead field(s): {', '.join(sorted(unknown))}")
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        out["name"], err = require_text(data.get("name"), "name", 200)
        errors += [err] if err else []
    for name, limit in (
        ("company", 255),
        ("title", 100),
        ("source", 50),
        ("industry", 100),
        ("size", 50),
    ):
        if name in data:
            out[name] = (data[name] or "").strip()
            if len(out[name]) > limit:
                errors.append(
                    FieldError(name, f"{name} is longer than {limit} characters", "TOO_LONG")
                )
    if "notes" in data:
        out["notes"] = data["notes"] or ""
    if "email" in data:
        out["email"], err = clean_email(data["email"])
        errors += [err] if err else []
    if "phone" in data:
        out["phone"], err = clean_phone(data["phone"])
        errors += [err] if err else []
    if "factors" in data:
        factors = data["factors"] or {}
        weights = config().lead_scoring_weights
        if not isinstance(factors, dict):
            errors.append(FieldError("factors", "factors must be an object", "INVALID"))
            factors = {}
        for key, value in factors.items():
            if key not in weights:
                errors.append(
                    FieldError(
                        "factors",
                        f"Unknown scoring factor {key!r}; configured: {', '.join(weights)}",
                        "INVALID",
                    )
                )
            elif isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                errors.append(FieldError("factors", f"Factor {key!r} is scored 0..100", "INVALID"))
        out["factors"] = {k: v for k, v in factors.items() if k in weights}
    if "owner" in data:
        out["owner"] = data["owner"]
    raise_if(errors)
    if "company" in out or "name" in out:
        pass
    return out


def _lead_key(values: dict[str, Any]) -> str:
    return name_key(values.get("company") or values.get("name") or "")


@dataclass
class LeadDuplicates:
    leads: list[dict[str, Any]]
    customers: list[customer_service.Duplicate]

    def __bool__(self) -> bool:
        return bool(self.leads or self.customers)


async def find_lead_duplicates(
    values: dict[str, Any], exclude_id: int | None = None
) -> LeadDuplicates:
    """Open leads and active customers matching by normalised company/name, e-mail or phone
    (core's normalisation: ``name_key``, ``clean_email``, ``clean_phone``)."""
    probe = {
        "name_key": values.get("name_key"),
        "email": values.get("email"),
        "phone": values.get("phone"),
    }
    customers = await customer_service.find_duplicates(probe)
    checks = [
        (t.Lead.name_key, probe["name_key"]),
        (t.Lead.email, probe["email"]),
        (t.Lead.phone, probe["phone"]),
    ]
    checks = [(c, v) for c, v in checks if v]
    leads: list[dict[str, Any]] = []
    if checks:
        condition = checks[0][0] == checks[0][1]
        for column, value in checks[1:]:
            condition = condition | (column == value)
        query = t.Lead.select(t.Lead.id, t.Lead.name, t.Lead.company, t.Lead.owner).where(
            condition,
            t.Lead.status.is_in([t.LeadStatus.new.value, t.LeadStatus.qualified.value]),
        )
        if exclude_id is not None:
            query = query.where(t.Lead.id != exclude_id)
        leads = await query.order_by(t.Lead.id).limit(20)
    return LeadDuplicates(leads, customers)


async def _lead_dup_error(actor: Actor, dups: LeadDuplicates) -> ValidationFailed:
    if dups.leads:
        lead = dups.leads[0]
        what = f"lead {lead['id']} ({lead['company'] or lead['name']})"
    else:
        first = dups.customers[0]
        visible = await customer_service.visible_customer_ids(actor, [first.customer_id])
        what = (
            f"customer {first.customer_id} ({first.name})"
            if visible
            else "a customer of another owner"
        )
    return ValidationFailed(
        FieldError(
            "name",
            f"Possible duplicate of {what}; pass allowDuplicate to create anyway",
            "DUPLICATE",
        )
    )


async def get_lead(actor: Actor, lead_id: int) -> dict[str, Any]:
    actor.require("lead:read")
    query = t.Lead.select().where(t.Lead.id == lead_id)
    scope = lead_scope(actor)
    if scope is not None:
        query = query.where(scope)
    row = await query.first()
    if row is None:
        raise NotFound(f"Lead {lead_id} not found")
    row["factors"] = load_json(row["factors"])
    return row


async def create_lead(
    actor: Actor, data: dict[str, Any], *, allow_duplicate: bool = False
) -> dict[str, Any]:
    actor.require("lead:write")
    values = clean_lead(data, partial=False)
    values["name_key"] = _lead_key(values)
    values["score"] = lead_score(values.get("factors", {}))
    errors: list[FieldError] = []
    owner_id = values.pop("owner", None) or actor.user_id
    if owner_id != actor.user_id:
        actor.require("opportunity:assign")
    owner = await _check_user(owner_id, "ownerId", errors)
    raise_if(errors)
    async with unit_of_work():
        if not allow_duplicate:
            dups = await find_lead_duplicates(values)
            if dups:
                raise await _lead_dup_error(actor, dups)
        row = (
            await t.Lead.insert(
                t.Lead(
                    **values,
                    owner=owner_id,
                    team=owner["team"] if owner else None,
                )
            ).returning(*t.Lead.all_columns())
        )[0]
        await record(actor, "created", "lead", row["id"], after=row)
    row["factors"] = load_json(row["factors"])
    return row


async def _lead_save(
    lead: dict[str, Any], values: dict[str, Any], expected_version: int | None
) -> dict[str, Any]:
    query = t.Lead.update(
        {**values, t.Lead.version: t.Lead.version + 1, t.Lead.updated_at: now()}
    ).where(t.Lead.id == lead["id"])
    query = query.where(
        t.Lead.version == (expected_version if expected_version is not None else lead["version"])
    )
    rows = await query.returning(*t.Lead.all_columns())
    if not rows:
        raise stale("lead", lead["id"], expected_version)
    rows[0]["factors"] = load_json(rows[0]["factors"])
    return rows[0]


def _require_workable(lead: dict[str, Any]) -> None:
    if lead["status"] in (
        t.LeadStatus.converted.value,
        t.LeadStatus.disqualified.value,
    ):
        raise ValidationFailed(FieldError("id", f"The lead is {lead['status']}", "LEAD_CLOSED"))


async def update_lead(
    actor: Actor, lead_id: int, expected_version: int, data: dict[str, Any]
) -> dict[str, Any]:
    actor.require("lead:write")
    values = clean_lead(data, partial=True)
    async with unit_of_work():
        lead = await get_lead(actor, lead_id)
        _require_workable(lead)
        if "owner" in values and values["owner"] != lead["owner"]:
            actor.require("opportunity:assign")
            errors: list[FieldError] = []
            owner = await _check_user(values["owner"], "ownerId", errors)
            raise_if(errors)
            values["team"] = owner["team"] if owner else None
        if {"name", "company"} & set(values):
            values["name_key"] = _lead_key({**lead, **values})
        if "factors" in values:
            values["score"] = lead_score(values["factors"])
        after = await _lead_save(lead, values, expected_version)
        changed = [k for k in values if after[k] != lead[k]]
        await record(
            actor,
            "updated",
            "lead",
            lead_id,
            {k: lead[k] for k in changed},
            {k: after[k] for k in changed},
        )
    return after


async def qualify_lead(actor: Actor, lead_id: int) -> dict[str, Any]:
    actor.require("lead:write")
    async with unit_of_work():
        lead = await get_lead(actor, lead_id)
        _require_workable(lead)
        after = await _lead_save(
            lead,
            {"status": t.LeadStatus.qualified.value, "disqualify_reason": ""},
            None,
        )
        await record(
            actor,
            "qualified",
            "lead",
            lead_id,
            {"status": lead["status"]},
            {"status": after["status"]},
        )
    return after


async def disqualify_lead(actor: Actor, lead_id: int, reason: str) -> dict[str, Any]:
    actor.require("lead:write")
    reason, err = require_text(reason, "reason", 255)
    raise_if([err] if err else [])
    async with unit_of_work():
        lead = await get_lead(actor, lead_id)
        _require_workable(lead)
        after = await _lead_save(
            lead,
            {"status": t.LeadStatus.disqualified.value, "disqualify_reason": reason},
            None,
        )
        await record(
            actor,
            "disqualified",
            "lead",
            lead_id,
            {"status": lead["status"]},
            {"status": after["status"], "reason": reason},
        )
    return after


async def list_leads(
    actor: Actor,
    *,
    status: str | None = None,
    first: int = 20,
    after: str | None = None,
    customer_id: int | None = None,
) -> Page:
    actor.require("lead:read")
    query = t.Lead.select()
    scope = lead_scope(actor)
    if scope is not None:
        query = query.where(scope)
    if status is not None:
        query = query.where(t.Lead.status == status)
    if customer_id is not None:
        query = query.where(t.Lead.customer == customer_id)
    page = await keyset_page(
        query,
        sort=t.Lead.created_at,
        pk=t.Lead.id,
        descending=True,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )
    for r in page.rows:
        r["factors"] = load_json(r["factors"])
    return page


async def leads_by_customer(
    actor: Actor, customer_ids: list[int]
) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in customer_ids}
    if not customer_ids or not actor.can("lead:read"):
        return out
    query = t.Lead.select().where(t.Lead.customer.is_in(list(set(customer_ids))))
    scope = lead_scope(actor)
    if scope is not None:
        query = query.where(scope)
    for r in await query.order_by(t.Lead.created_at, t.Lead.id, ascending=False):
        r["factors"] = load_json(r["factors"])
        out[r["customer"]].append(r)
    return out
