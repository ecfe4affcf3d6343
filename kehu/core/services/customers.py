"""Customers: visibility, CRUD with optimistic locking, archive/restore, tags, dedup, merge,
handover (bulk owner reassignment)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from piccolo.columns.combination import Where

from kehu.core.context import current
from kehu.core.db import text_search
from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor, owner_team_scope
from kehu.core.services.common import as_date, check_choice, diff, load_json, now, raise_if
from kehu.core.services.records import stale
from kehu.core.tables import (
    Activity,
    ActivityStatus,
    Contact,
    Customer,
    CustomerKind,
    CustomerTag,
    LifecycleStage,
    Team,
    User,
)
from kehu.core.validation import clean_email, clean_phone, name_key, require_text

TEXT_FIELDS = {
    "industry": 100,
    "region": 100,
    "size": 50,
    "source": 50,
    "tax_id": 50,
    "website": 255,
    "address": 2000,
    "credit_rating": 10,
}
EDITABLE = {
    "name",
    "kind",
    "lifecycle_stage",
    "tier",
    "email",
    "phone",
    "marketing_consent",
    "birthday",
    "anniversary",
    "custom_fields",
    "owner",
    "team",
    *TEXT_FIELDS,
}
ORDER_COLUMNS = {
    "NAME": Customer.name,
    "CREATED_AT": Customer.created_at,
    "UPDATED_AT": Customer.updated_at,
}


def customer_scope(actor: Actor) -> Where | None:
    """Where-clause of the customers ``actor`` may see (``None`` = all)."""
    return owner_team_scope(actor, Customer.owner, Customer.team)


def _visible(query: Any, actor: Actor) -> Any:
    scope = customer_scope(actor)
    return query.where(scope) if scope is not None else query


def _row(row: dict[str, Any]) -> dict[str, Any]:
    row["custom_fields"] = load_json(row.get("custom_fields"))
    return row


async def get_customer(actor: Actor, customer_id: int) -> dict[str, Any]:
    """A customer ``actor`` may see (archived included), or ``NotFound``."""
    actor.require("customer:read")
    row = await _visible(Customer.select().where(Customer.id == customer_id), actor).first()
    if row is None:
        raise NotFound(f"Customer {customer_id} not found")
    return _row(row)


async def customers_by_ids(actor: Actor, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The rows of those customers the actor may see, by id (one query; DataLoaders)."""
    if not ids or not actor.can("customer:read"):
        return {}
    rows = await _visible(Customer.select().where(Customer.id.is_in(list(set(ids)))), actor)
    return {r["id"]: _row(r) for r in rows}


async def visible_customer_ids(actor: Actor, ids: list[int]) -> set[int]:
    """The ids among ``ids`` of customers the actor may see (one query)."""
    if not ids:
        return set()
    rows = await _visible(
        Customer.select(Customer.id).where(Customer.id.is_in(list(set(ids)))), actor
    )
    return {r["id"] for r in rows}


@dataclass
class CustomerFilter:
    owner_id: int | None = None
    team_id: int | None = None
    tier: str | None = None
    lifecycle_stage: str | None = None
    tag: str | None = None
    region: str | None = None
    industry: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    search: str | None = None
    archived: bool | None = False  # False: active only, True: archived only, None: both
    ids: list[int] | None = field(default=None)


def _filtered(query: Any, actor: Actor, f: CustomerFilter) -> Any:
    query = _visible(query, actor)
    conditions: list[Any] = []
    if f.owner_id is not None:
        conditions.append(Customer.owner == f.owner_id)
    if f.team_id is not None:
        conditions.append(Customer.team == f.team_id)
    for column, value in (
        (Customer.tier, f.tier),
        (Customer.region, f.region),
        (Customer.industry, f.industry),
        (Customer.lifecycle_stage, f.lifecycle_stage),
    ):
        if value is not None:
            conditions.append(column == value)
    if f.tag:
        tagged = CustomerTag.select(CustomerTag.customer).where(CustomerTag.tag == f.tag.lower())
        conditions.append(Customer.id.is_in(tagged))
    if f.created_after:
        conditions.append(Customer.created_at >= f.created_after)
    if f.created_before:
        conditions.append(Customer.created_at < f.created_before)
    if f.search and f.search.strip():
        conditions.append(
            text_search(f.search, [Customer.name, Customer.email], phone=Customer.phone)
        )
    if f.archived is True:
        conditions.append(Customer.archived_at.is_not_null())
    elif f.archived is False:
        conditions.append(Customer.archived_at.is_null())
    if f.ids is not None:
        conditions.append(Customer.id.is_in(f.ids or [0]))
    for condition in conditions:
        query = query.where(condition)
    return query


async def list_customers(
    actor: Actor,
    f: CustomerFilter | None = None,
    *,
    order_by: str = "NAME",
    descending: bool = False,
    first: int = 20,
    after: str | None = None,
) -> Page:
    actor.require("customer:read")
    sort = ORDER_COLUMNS.get(order_by)
    if sort is None:
        raise ValidationFailed(f"Unknown order {order_by!r}", field="orderBy")
    page = await keyset_page(
        _filtered(Customer.select(), actor, f or CustomerFilter()),
        sort=sort,
        pk=Customer.id,
        descending=descending,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )
    page.rows = [_row(r) for r in page.rows]
    return page


async def count_customers(actor: Actor, f: CustomerFilter | None = None) -> int:
    actor.require("customer:read")
    return await _filtered(Customer.count(), actor, f or CustomerFilter())


async def _check_refs(data: dict[str, Any], errors: list[FieldError]) -> None:
    if data.get("owner") is not None:
        user = await User.select(User.active, User.team).where(User.id == data["owner"]).first()
        if user is None or not user["active"]:
            errors.append(FieldError("ownerId", "Owner must be an active user", "NOT_FOUND"))
        elif "team" not in data:
            data["team"] = user["team"]
    if data.get("team") is not None and not await Team.exists().where(Team.id == data["team"]):
        errors.append(FieldError("teamId", "Team not found", "NOT_FOUND"))


def clean_customer(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Validate and normalise customer fields; raise ``ValidationFailed`` listing every error."""
    unknown = set(data) - EDITABLE
    if unknown:
        raise ValidationFailed(f"Unknown customer field(s): {', '.join(sorted(unknown))}")
    settings = current().settings
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        out["name"], err = require_text(data.get("name"), "name", 255)
        errors += [err] if err else []
        out["name_key"] = name_key(out["name"])
    if "kind" in data:
        out["kind"] = check_choice(data["kind"], CustomerKind, "kind", errors)
    if "lifecycle_stage" in data:
        out["lifecycle_stage"] = check_choice(
            data["lifecycle_stage"], LifecycleStage, "lifecycleStage", errors
        )
    if data.get("tier"):
        out["tier"] = str(data["tier"]).strip().lower()
        if out["tier"] not in settings.customer_tiers:
            errors.append(
                FieldError(
                    "tier",
                    f"tier must be one of {', '.join(settings.customer_tiers)}",
                    "INVALID_CHOICE",
                )
            )
    elif "tier" in data:
        out["tier"] = ""
    if "email" in data:
        out["email"], err = clean_email(data["email"])
        errors += [err] if err else []
    if "phone" in data:
        out["phone"], err = clean_phone(data["phone"])
        errors += [err] if err else []
    for name, limit in TEXT_FIELDS.items():
        if name in data:
            out[name] = (data[name] or "").strip()
            if len(out[name]) > limit:
                errors.append(
                    FieldError(name, f"{name} is longer than {limit} characters", "TOO_LONG")
                )
    for name in ("birthday", "anniversary"):
        if name in data:
            out[name] = as_date(data[name], name, errors)
    if "marketing_consent" in data:
        out["marketing_consent"] = bool(data["marketing_consent"])
    if "custom_fields" in data:
        value = data["custom_fields"] or {}
        if not isinstance(value, dict):
            errors.append(FieldError("customFields", "customFields must be an object", "INVALID"))
        out["custom_fields"] = value
    for name in ("owner", "team"):
        if name in data:
            out[name] = data[name]
    raise_if(errors)
    return out


@dataclass
class Duplicate:
    customer_id: int
    name: str
    reasons: list[str]


async def find_duplicates(
    data: dict[str, Any], *, exclude_id: int | None = None
) -> list[Duplicate]:
    """Existing (non-archived) customers matching by normalised name, e-mail, phone or tax id.
    Matching ignores visibility: a rep must not create a second record of a colleague's
    customer."""
    checks = [
        ("name", Customer.name_key, data.get("name_key")),
        ("email", Customer.email, data.get("email")),
        ("phone", Customer.phone, data.get("phone")),
        ("tax_id", Customer.tax_id, data.get("tax_id")),
    ]
    checks = [(label, col, value) for label, col, value in checks if value]
    if not checks:
        return []
    condition: Any = checks[0][1] == checks[0][2]
    for _, col, value in checks[1:]:
        condition = condition | (col == value)
    query = Customer.select(
        Customer.id,
        Customer.name,
        Customer.name_key,
        Customer.email,
        Customer.phone,
        Customer.tax_id,
    ).where(condition)
    query = query.where(Customer.archived_at.is_null())
    if exclude_id is not None:
        query = query.where(Customer.id != exclude_id)
    found = []
    for row in await query.order_by(Customer.id).limit(20):
        reasons = [
            label
            for label, _, value in checks
            if row["name_key" if label == "name" else label] == value
        ]
        found.append(Duplicate(row["id"], row["name"], reasons))
    return found


async def _dup_error(actor: Actor, dups: list[Duplicate]) -> ValidationFailed:
    """DUPLICATE error; the other record is named only if ``actor`` may see it."""
    first = dups[0]
    visible = await visible_customer_ids(actor, [first.customer_id])
    what = (
        f"customer {first.customer_id} ({first.name})"
        if visible
        else "a customer of another owner (ask a manager to hand it over)"
    )
    return ValidationFailed(
        FieldError(
            first.reasons[0],
            f"Possible duplicate of {what} by {', '.join(first.reasons)}; pass "
            "allowDuplicate to create anyway",
            "DUPLICATE",
        )
    )


async def create_customer(
    actor: Actor,
    data: dict[str, Any],
    *,
    tags: list[str] | None = None,
    allow_duplicate: bool = False,
) -> dict[str, Any]:
    actor.require("customer:write")
    values = clean_customer(data, partial=False)
    if values.get("owner") is None and not actor.is_system:
        values["owner"] = actor.user_id
    if values.get("owner") not in (None, actor.user_id) or (
        values.get("team") not in (None, actor.team_id)
    ):
        actor.require("customer:reassign")
    errors: list[FieldError] = []
    await _check_refs(values, errors)
    raise_if(errors)
    if values.get("team") is None and not actor.is_system and values.get("owner") == actor.user_id:
        values["team"] = actor.team_id
    async with unit_of_work():
        if not allow_duplicate:
            dups = await find_duplicates(values)
            if dups:
                raise await _dup_error(actor, dups)
        row = (await Customer.insert(Customer(**values)).returning(*Customer.all_columns()))[0]
        if tags:
            await _write_tags(row["id"], tags)
        row = _row(row)
        await record(actor, "created", "customer", row["id"], after={**row, "tags": tags or []})
    return row


async def _writable(actor: Actor, customer_id: int, scope: str = "customer:write") -> dict:
    actor.require(scope)
    return await get_customer(actor, customer_id)


async def update_customer(
    actor: Actor, customer_id: int, expected_version: int | None, data: dict[str, Any]
) -> dict[str, Any]:
    values = clean_customer(data, partial=True)
    async with unit_of_work():
        before = await _writable(actor, customer_id)
        if before["archived_at"] is not None:
            raise ValidationFailed(
                "Archived customers cannot be changed; restore first", field="id"
            )
        if ("owner" in values and values["owner"] != before["owner"]) or (
            "team" in values and values["team"] != before["team"]
        ):
            actor.require("customer:reassign")
        errors: list[FieldError] = []
        await _check_refs(values, errors)
        raise_if(errors)
        if {"name_key", "email", "phone", "tax_id"} & set(values):
            probe = {
                k: values.get(k, before.get(k)) for k in ("name_key", "email", "phone", "tax_id")
            }
            # only fields that change can create a new duplicate
            probe = {k: v for k, v in probe.items() if v != before.get(k)}
            dups = await find_duplicates(probe, exclude_id=customer_id) if probe else []
            if dups:
                raise await _dup_error(actor, dups)
        after = await _versioned_update(customer_id, expected_version, values)
        old, new = diff(before, after)
        await record(actor, "updated", "customer", customer_id, old, new)
    return after


async def _versioned_update(
    customer_id: int, expected_version: int | None, values: dict[str, Any]
) -> dict[str, Any]:
    query = Customer.update(**values, version=Customer.version + 1, updated_at=now()).where(
        Customer.id == customer_id
    )
    if expected_version is not None:
        query = query.where(Customer.version == expected_version)
    rows = await query.returning(*Customer.all_columns())
    if not rows:
        raise stale("customer", customer_id, expected_version)
    return _row(rows[0])


async def archive_customer(actor: Actor, customer_id: int, expected_version: int | None = None):
    async with unit_of_work():
        before = await _writable(actor, customer_id, "customer:archive")
        if before["archived_at"] is not None:
            raise ValidationFailed("Customer is already archived", field="id")
        after = await _versioned_update(customer_id, expected_version, {"archived_at": now()})
        await record(
            actor,
            "archived",
            "customer",
            customer_id,
            {"archived_at": None},
            {"archived_at": after["archived_at"]},
        )
    return after


async def restore_customer(actor: Actor, customer_id: int, expected_version: int | None = None):
    async with unit_of_work():
        before = await _writable(actor, customer_id, "customer:archive")
        if before["archived_at"] is None:
            raise ValidationFailed("Customer is not archived", field="id")
        if before["merged_into"] is not None:
            raise ValidationFailed(
                f"Customer was merged into {before['merged_into']} and cannot be restored",
                field="id",
            )
        dups = await find_duplicates(before, exclude_id=customer_id)
        if dups:
            raise await _dup_error(actor, dups)
        after = await _versioned_update(customer_id, expected_version, {"archived_at": None})
        await record(
            actor,
            "restored",
            "customer",
            customer_id,
            {"archived_at": before["archived_at"]},
            {"archived_at": None},
        )
    return after


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = sorted({t.strip().lower() for t in tags if t and t.strip()})
    bad = [t for t in cleaned if len(t) > 50]
    if bad:
        raise ValidationFailed(f"Tag {bad[0]!r} is longer than 50 characters", field="tags")
    return cleaned


async def _write_tags(customer_id: int, tags: list[str]) -> list[str]:
    cleaned = _clean_tags(tags)
    await CustomerTag.delete().where(CustomerTag.customer == customer_id)
    if cleaned:
        await CustomerTag.insert(*[CustomerTag(customer=customer_id, tag=t) for t in cleaned])
    return cleaned


async def tags_by_customer(ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        rows = (
            await CustomerTag.select(CustomerTag.customer, CustomerTag.tag)
            .where(CustomerTag.customer.is_in(list(set(ids))))
            .order_by(CustomerTag.tag)
        )
        for r in rows:
            out[r["customer"]].append(r["tag"])
    return out


async def set_tags(
    actor: Actor,
    customer_id: int,
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    replace: list[str] | None = None,
) -> dict[str, Any]:
    """Add/remove tags, or replace the whole set."""
    async with unit_of_work():
        row = await _writable(actor, customer_id)
        if row["archived_at"] is not None:
            raise ValidationFailed(
                "Archived customers cannot be changed; restore first", field="id"
            )
        old = (await tags_by_customer([customer_id]))[customer_id]
        new = (
            replace
            if replace is not None
            else (set(old) | set(_clean_tags(list(add)))) - set(_clean_tags(list(remove)))
        )
        new = await _write_tags(customer_id, list(new))
        if new != old:
            row = await _versioned_update(customer_id, None, {})
            await record(actor, "tagged", "customer", customer_id, {"tags": old}, {"tags": new})
    return row


_MERGE_FILL = (
    "industry",
    "region",
    "size",
    "source",
    "tier",
    "email",
    "phone",
    "tax_id",
    "website",
    "address",
    "credit_rating",
    "birthday",
    "anniversary",
)


async def merge_customers(
    actor: Actor, survivor_id: int, merged_id: int, expected_version: int | None = None
) -> dict[str, Any]:
    """Merge ``merged_id`` into ``survivor_id``: contacts, activities, tags and every plugin's
    links move over; empty survivor fields are filled; the merged record is archived with
    ``merged_into`` set and the audit row explains what moved."""
    actor.require("customer:merge")
    if survivor_id == merged_id:
        raise ValidationFailed("Cannot merge a customer into itself", field="mergedId")
    async with unit_of_work():
        survivor = await get_customer(actor, survivor_id)
        merged = await get_customer(actor, merged_id)
        for row, label in ((survivor, "survivorId"), (merged, "mergedId")):
            if row["archived_at"] is not None:
                raise ValidationFailed(f"Customer {row['id']} is archived", field=label)
        fill = {k: merged[k] for k in _MERGE_FILL if not survivor[k] and merged[k]}
        fill["custom_fields"] = {**merged["custom_fields"], **survivor["custom_fields"]}
        if await Contact.exists().where(
            Contact.customer == survivor_id, Contact.is_primary.eq(True)
        ):
            await Contact.update({Contact.is_primary: False}).where(Contact.customer == merged_id)
        moved_contacts = (
            await Contact.update({Contact.customer: survivor_id})
            .where(Contact.customer == merged_id)
            .returning(Contact.id)
        )
        moved_activities = (
            await Activity.update({Activity.customer: survivor_id})
            .where(Activity.customer == merged_id)
            .returning(Activity.id)
        )
        tags = await tags_by_customer([survivor_id, merged_id])
        await _write_tags(survivor_id, tags[survivor_id] + tags[merged_id])
        await current().acall(
            "kehu_customers_merged", actor=actor, survivor_id=survivor_id, merged_id=merged_id
        )
        after = await _versioned_update(survivor_id, expected_version, fill)
        await Customer.update(
            {
                Customer.archived_at: now(),
                Customer.merged_into: survivor_id,
                Customer.version: Customer.version + 1,
                Customer.updated_at: now(),
            }
        ).where(Customer.id == merged_id)
        details = {
            "merged_id": merged_id,
            "merged_name": merged["name"],
            "filled_fields": sorted(k for k in fill if k != "custom_fields"),
            "contacts": [r["id"] for r in moved_contacts],
            "activities": [r["id"] for r in moved_activities],
            "tags": tags[merged_id],
        }
        await record(actor, "merged", "customer", survivor_id, {"merged": merged}, details)
        await record(
            actor, "merged_into", "customer", merged_id, None, {"merged_into": survivor_id}
        )
    return after


async def reassign_customers(
    actor: Actor,
    to_user_id: int,
    *,
    from_user_id: int | None = None,
    customer_ids: list[int] | None = None,
    include_open_activities: bool = True,
) -> list[int]:
    """Handover: give customers (all of ``from_user_id``'s, or the listed ones) to
    ``to_user_id``, with their open activities; history stays attached."""
    actor.require("customer:reassign")
    if from_user_id is None and not customer_ids:
        raise ValidationFailed("Give fromUserId or customerIds", field="fromUserId")
    target = await User.select(User.id, User.team, User.active).where(User.id == to_user_id).first()
    if target is None or not target["active"]:
        raise ValidationFailed("Target owner must be an active user", field="toUserId")
    async with unit_of_work():
        query = _visible(Customer.select(Customer.id, Customer.owner, Customer.team), actor)
        if from_user_id is not None:
            query = query.where(Customer.owner == from_user_id)
        if customer_ids:
            query = query.where(Customer.id.is_in(customer_ids))
        rows = await query.order_by(Customer.id)
        if customer_ids:
            missing = sorted(set(customer_ids) - {r["id"] for r in rows})
            if missing:
                raise NotFound(f"Customer {missing[0]} not found")
        ids = [r["id"] for r in rows if r["owner"] != to_user_id]
        if not ids:
            return []
        await Customer.update(
            {
                Customer.owner: to_user_id,
                Customer.team: target["team"],
                Customer.version: Customer.version + 1,
                Customer.updated_at: now(),
            }
        ).where(Customer.id.is_in(ids))
        if include_open_activities:
            moved = Activity.update({Activity.owner: to_user_id}).where(
                Activity.customer.is_in(ids), Activity.status == ActivityStatus.planned
            )
            if from_user_id is not None:
                moved = moved.where(Activity.owner == from_user_id)
            await moved
        await current().acall(
            "kehu_customers_reassigned",
            actor=actor,
            customer_ids=ids,
            from_user_id=from_user_id,
            to_user_id=to_user_id,
        )
        for r in rows:
            if r["id"] in ids:
                await record(
                    actor,
                    "reassigned",
                    "customer",
                    r["id"],
                    {"owner": r["owner"], "team": r["team"]},
                    {"owner": to_user_id, "team": target["team"]},
                )
    return ids
