"""Activities (互动记录): calls, visits, e-mails, tasks... logged against a customer."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from kehu.core.context import current
from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.pagination import Page, check_first, encode_cursor, keyset_page
from kehu.core.permissions import Actor, require_assign
from kehu.core.services.common import as_datetime, check_choice, diff, now, raise_if
from kehu.core.services.customers import customer_scope, get_customer
from kehu.core.services.records import stale
from kehu.core.tables import Activity, ActivityKind, ActivityStatus, Contact, Customer, User
from kehu.core.validation import require_text

FIELDS = {
    "kind",
    "status",
    "subject",
    "body",
    "occurred_at",
    "due_at",
    "outcome",
    "next_action_at",
    "owner",
    "contact",
    "related_type",
    "related_id",
}


def _scoped(query: Any, actor: Actor) -> Any:
    scope = customer_scope(actor)
    if scope is None:
        return query
    return query.where(Activity.customer.is_in(Customer.select(Customer.id).where(scope)))


async def _clean(data: dict[str, Any], customer_id: int, *, partial: bool) -> dict[str, Any]:
    unknown = set(data) - FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown activity field(s): {', '.join(sorted(unknown))}")
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if "subject" in data or not partial:
        out["subject"], err = require_text(data.get("subject"), "subject", 255)
        errors += [err] if err else []
    if "kind" in data:
        out["kind"] = check_choice(data["kind"], ActivityKind, "kind", errors)
    if "status" in data:
        out["status"] = check_choice(data["status"], ActivityStatus, "status", errors)
    for name in ("body", "outcome"):
        if name in data:
            out[name] = data[name] or ""
    for name in ("occurred_at", "due_at", "next_action_at"):
        if name in data:
            out[name] = as_datetime(data[name], name, errors)
    if "related_type" in data or "related_id" in data:
        out["related_type"] = data.get("related_type") or None
        out["related_id"] = data.get("related_id")
        if (out["related_type"] is None) != (out["related_id"] is None):
            errors.append(FieldError("relatedType", "relatedType and relatedId go together"))
    if data.get("contact") is not None:
        contact = (
            await Contact.select(Contact.customer).where(Contact.id == data["contact"]).first()
        )
        if contact is None or contact["customer"] != customer_id:
            errors.append(
                FieldError("contactId", "Contact does not belong to this customer", "NOT_FOUND")
            )
        out["contact"] = data["contact"]
    elif "contact" in data:
        out["contact"] = None
    if data.get("owner") is not None:
        if not await User.exists().where(User.id == data["owner"], User.active.eq(True)):
            errors.append(FieldError("ownerId", "Owner must be an active user", "NOT_FOUND"))
        out["owner"] = data["owner"]
    raise_if(errors)
    return out


async def get_activity(actor: Actor, activity_id: int) -> dict[str, Any]:
    actor.require("customer:read")
    row = await _scoped(Activity.select().where(Activity.id == activity_id), actor).first()
    if row is None:
        raise NotFound(f"Activity {activity_id} not found")
    return row


async def activities_by_ids(actor: Actor, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = await _scoped(Activity.select().where(Activity.id.is_in(list(set(ids)))), actor)
    return {r["id"]: r for r in rows}


async def log_activity(actor: Actor, customer_id: int, data: dict[str, Any]) -> dict:
    """Log a done activity (default) or plan one (``status="planned"`` with ``due_at``)."""
    actor.require("activity:write")
    async with unit_of_work():
        await get_customer(actor, customer_id)
        values = await _clean(data, customer_id, partial=False)
        require_assign(actor, values.get("owner"), "activity:assign")
        values.setdefault("owner", actor.user_id)
        status = values.setdefault("status", ActivityStatus.done.value)
        if status == ActivityStatus.done.value:
            values.setdefault("occurred_at", None)
            values["occurred_at"] = values["occurred_at"] or now()
            values["completed_at"] = values["occurred_at"]
        row = (
            await Activity.insert(Activity(customer=customer_id, **values)).returning(
                *Activity.all_columns()
            )
        )[0]
        await record(actor, "created", "activity", row["id"], after=row)
    return row


async def update_activity(
    actor: Actor, activity_id: int, expected_version: int, data: dict[str, Any]
) -> dict[str, Any]:
    actor.require("activity:write")
    async with unit_of_work():
        before = await get_activity(actor, activity_id)
        values = await _clean(data, before["customer"], partial=True)
        if values.get("owner") != before["owner"]:
            require_assign(actor, values.get("owner"), "activity:assign")
        status = values.get("status", before["status"])
        if status == ActivityStatus.done.value and before["status"] != status:
            values["completed_at"] = now()
            values.setdefault("occurred_at", before["occurred_at"] or values["completed_at"])
        elif status != ActivityStatus.done.value:
            values["completed_at"] = None
        after = await _save(activity_id, expected_version, values)
        old, new = diff(before, after)
        await record(
            actor, "updated", "activity", activity_id, old, new, customer_id=before["customer"]
        )
    return after


async def _save(activity_id: int, expected_version: int | None, values: dict) -> dict:
    query = Activity.update(
        {**values, Activity.version: Activity.version + 1, Activity.updated_at: now()}
    ).where(Activity.id == activity_id)
    if expected_version is not None:
        query = query.where(Activity.version == expected_version)
    rows = await query.returning(*Activity.all_columns())
    if not rows:
        raise stale("activity", activity_id, expected_version)
    return rows[0]


async def complete_activity(
    actor: Actor,
    activity_id: int,
    *,
    outcome: str = "",
    next_action_at: datetime | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Mark a planned activity done, with its outcome and the next action date."""
    actor.require("activity:write")
    async with unit_of_work():
        before = await get_activity(actor, activity_id)
        if before["status"] != ActivityStatus.planned.value:
            raise ValidationFailed(
                f"Only planned activities can be completed (status is {before['status']})",
                field="id",
            )
        at = now()
        after = await _save(
            activity_id,
            expected_version,
            {
                "status": ActivityStatus.done.value,
                "completed_at": at,
                "occurred_at": before["occurred_at"] or at,
                "outcome": outcome,
                "next_action_at": next_action_at,
            },
        )
        old, new = diff(before, after)
        await record(
            actor,
            "completed",
            "activity",
            activity_id,
            old,
            new,
            customer_id=before["customer"],
        )
    return after


@dataclass
class ActivityFilter:
    customer_id: int | None = None
    owner_id: int | None = None
    contact_id: int | None = None
    kind: str | None = None
    status: str | None = None
    related_type: str | None = None
    related_id: int | None = None
    occurred_after: datetime | None = None
    occurred_before: datetime | None = None
    due_before: datetime | None = None


def _filtered(query: Any, actor: Actor, f: ActivityFilter) -> Any:
    query = _scoped(query, actor)
    pairs = (
        (Activity.customer, f.customer_id),
        (Activity.owner, f.owner_id),
        (Activity.contact, f.contact_id),
        (Activity.kind, f.kind),
        (Activity.status, f.status),
        (Activity.related_type, f.related_type),
        (Activity.related_id, f.related_id),
    )
    for column, value in pairs:
        if value is not None:
            query = query.where(column == value)
    if f.occurred_after:
        query = query.where(Activity.occurred_at >= f.occurred_after)
    if f.occurred_before:
        query = query.where(Activity.occurred_at < f.occurred_before)
    if f.due_before:
        query = query.where(Activity.due_at < f.due_before)
    return query


async def list_activities(
    actor: Actor,
    f: ActivityFilter | None = None,
    *,
    first: int = 20,
    after: str | None = None,
    descending: bool = True,
) -> Page:
    """Newest first by creation (id) order; filters narrow the visible set."""
    actor.require("customer:read")
    return await keyset_page(
        _filtered(Activity.select(), actor, f or ActivityFilter()),
        sort=Activity.created_at,
        pk=Activity.id,
        descending=descending,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )


async def count_activities(actor: Actor, f: ActivityFilter | None = None) -> int:
    actor.require("customer:read")
    return await _filtered(Activity.count(), actor, f or ActivityFilter())


async def first_pages(actor: Actor, customer_ids: list[int], first: int) -> dict[int, Page]:
    """The first page of each customer's activities — ``list_activities(customer_id=...)``
    without a cursor: newest by creation, with the actor's visibility — in one query (a
    window function), so a list of customers asking for theirs stays one statement."""
    actor.require("customer:read")
    check_first(first, current().settings.page_size_max)
    out = {i: Page([], False, []) for i in customer_ids}
    if not customer_ids:
        return out
    visible = _scoped(Activity.select(Activity.id), actor).where(
        Activity.customer.is_in(sorted(set(customer_ids)))
    )
    rows = await Activity.raw(
        "SELECT * FROM (SELECT a.*, ROW_NUMBER() OVER (PARTITION BY a.customer "
        "ORDER BY a.created_at DESC, a.id DESC) AS rn FROM core_activity a "
        "WHERE a.id IN ({})) t WHERE t.rn <= {} ORDER BY t.customer, t.rn",
        visible.querystrings[0],
        first + 1,
    )
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        row.pop("rn", None)
        grouped.setdefault(row["customer"], []).append(row)
    for customer_id, found in grouped.items():
        page = found[:first]
        cursors = [encode_cursor("created_at", r["created_at"], r["id"]) for r in page]
        out[customer_id] = Page(page, len(found) > first, cursors)
    return out


async def counts_by_customer(actor: Actor, customer_ids: list[int]) -> dict[int, int]:
    """How many activities of each customer the actor sees, in one query."""
    actor.require("customer:read")
    out = dict.fromkeys(customer_ids, 0)
    if customer_ids:
        rows = await (
            _scoped(Activity.select(Activity.customer, Count(alias="n")), actor)
            .where(Activity.customer.is_in(sorted(set(customer_ids))))
            .group_by(Activity.customer)
        )
        out.update({r["customer"]: r["n"] for r in rows})
    return out


async def recent_activities(customer_ids: list[int], limit: int) -> dict[int, list[dict]]:
    """The ``limit`` latest activities of each customer in one query (window function)."""
    out: dict[int, list[dict]] = {i: [] for i in customer_ids}
    if not customer_ids:
        return out
    ids = sorted(set(customer_ids))
    marks = ", ".join("{}" for _ in ids)
    rows = await Activity.raw(
        f"SELECT * FROM (SELECT a.*, ROW_NUMBER() OVER (PARTITION BY a.customer "
        f"ORDER BY COALESCE(a.occurred_at, a.created_at) DESC, a.id DESC) AS rn "
        f"FROM core_activity a WHERE a.customer IN ({marks})) t WHERE t.rn <= {{}} "
        f"ORDER BY t.customer, t.rn",
        *ids,
        limit,
    )
    for row in rows:
        row.pop("rn", None)
        out[row["customer"]].append(row)
    return out
