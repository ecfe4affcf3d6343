"""Other incentives recorded as events: bonuses, allowances (差旅补贴), honours (service_star
服务明星, service_model 服务标兵) and penalties (pay_cut 减薪, reassignment 岗位调整). Anyone with
``incentive:propose`` proposes; a manager (``incentive:approve``) approves or rejects; only
approved events appear on statements."""

from typing import Any

from kehu.core.context import current
from kehu.core.errors import FieldError, Forbidden, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.pagination import Page, keyset_page
from kehu.core.permissions import Actor
from kehu.core.services.common import now, raise_if
from kehu.core.tables import User
from kehu.plugins.incentives.services import periods
from kehu.plugins.incentives.services.access import require_manages, users_condition
from kehu.plugins.incentives.tables import EventKind, EventStatus, IncentiveEvent

SUBTYPES = {
    "bonus": {"bonus", "spot", "team"},
    "allowance": {"travel", "meal", "communication", "other"},
    "honour": {"service_star", "service_model", "top_seller"},
    "penalty": {"pay_cut", "reassignment", "warning"},
}
NEEDS_AMOUNT = {"bonus", "allowance"}


async def propose(actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    actor.require("incentive:propose")
    errors: list[FieldError] = []
    kind, subtype = data.get("kind", ""), (data.get("subtype") or "").strip()
    if kind not in {k.value for k in EventKind}:
        errors.append(
            FieldError("kind", "kind must be bonus, allowance, honour or penalty", "INVALID_CHOICE")
        )
    elif subtype not in SUBTYPES[kind]:
        errors.append(
            FieldError(
                "subtype",
                f"subtype of {kind} must be one of {', '.join(sorted(SUBTYPES[kind]))}",
                "INVALID_CHOICE",
            )
        )
    amount: Money | None = data.get("amount")
    if kind in NEEDS_AMOUNT and (amount is None or amount.minor <= 0):
        errors.append(FieldError("amount", f"a {kind} needs a positive amount", "REQUIRED"))
    if subtype == "pay_cut" and (amount is None or amount.minor <= 0):
        errors.append(FieldError("amount", "a pay cut needs a positive amount", "REQUIRED"))
    if amount is not None and amount.minor < 0:
        errors.append(FieldError("amount", "amount must not be negative", "INVALID"))
    user = data.get("user")
    if user is None or not await User.exists().where(User.id == user):
        errors.append(FieldError("userId", "userId must name an existing user", "NOT_FOUND"))
    reason = (data.get("reason") or "").strip()
    if not reason:
        errors.append(FieldError("reason", "reason is required", "REQUIRED"))
    try:
        period = periods.parse(data.get("period", ""))
    except ValidationFailed as exc:
        errors += exc.errors
    key = data.get("idempotency_key")
    if key is not None and not 1 <= len(key) <= 100:
        errors.append(FieldError("idempotencyKey", "idempotencyKey must be 1..100 characters"))
    raise_if(errors)
    await require_manages(actor, user_id=user, team_id=None, scope="incentive:propose")
    async with unit_of_work():
        if key is not None:
            earlier = (
                await IncentiveEvent.select().where(IncentiveEvent.idempotency_key == key).first()
            )
            if earlier is not None:
                same = (
                    earlier["kind"],
                    earlier["subtype"],
                    earlier["user"],
                    earlier["period"],
                    earlier["amount_minor"],
                ) == (kind, subtype, user, period.key, amount.minor if amount else None)
                if not same:
                    raise ValidationFailed(
                        FieldError(
                            "idempotencyKey",
                            "idempotencyKey was already used for a different request",
                            "IDEMPOTENCY_KEY_REUSED",
                        )
                    )
                return earlier
        row = (
            await IncentiveEvent.insert(
                IncentiveEvent(
                    kind=kind,
                    subtype=subtype,
                    user=user,
                    period=period.key,
                    amount_minor=amount.minor if amount else None,
                    currency=amount.currency if amount else "",
                    reason=reason,
                    requested_by=actor.user_id,
                    idempotency_key=key,
                )
            ).returning(*IncentiveEvent.all_columns())
        )[0]
        await record(actor, "proposed", "incentive_event", row["id"], after=row)
    return row


async def decide(actor: Actor, event_id: int, approve: bool, note: str = "") -> dict[str, Any]:
    """Approve or reject a pending event; nobody approves their own proposal or reward."""
    actor.require("incentive:approve")
    async with unit_of_work():
        row = await IncentiveEvent.select().where(IncentiveEvent.id == event_id).first()
        if row is None:
            raise NotFound(f"Incentive event {event_id} not found")
        await require_manages(actor, user_id=row["user"], team_id=None, scope="incentive:approve")
        if not actor.is_system and actor.user_id in (row["user"], row["requested_by"]):
            raise Forbidden("An incentive event is approved by another manager")
        if row["status"] != EventStatus.pending:
            raise ValidationFailed(
                FieldError("id", f"the event is already {row['status']}", "INVALID_STATE")
            )
        status = EventStatus.approved if approve else EventStatus.rejected
        values = {"status": status.value, "decided_by": actor.user_id, "decided_at": now()}
        await IncentiveEvent.update(values).where(IncentiveEvent.id == event_id)
        after = {**row, **values, "note": note}
        await record(actor, status.value, "incentive_event", event_id, before=row, after=after)
    return {**row, **values}


async def list_events(
    actor: Actor,
    *,
    period: str | None = None,
    user_id: int | None = None,
    status: str | None = None,
    first: int = 20,
    after: str | None = None,
) -> tuple[Page, Any]:
    """Incentive events you may see (your own, or all with ``commission:read_all``), newest
    first: a keyset page (``first`` ≤ 100) and a counter."""
    actor.require("incentive:read")
    conditions = []
    if (visible := users_condition(actor, IncentiveEvent.user)) is not None:
        conditions.append(visible)
    if period:
        conditions.append(IncentiveEvent.period == periods.parse(period).key)
    if user_id is not None:
        conditions.append(IncentiveEvent.user == user_id)
    if status:
        conditions.append(IncentiveEvent.status == status)
    query, count = IncentiveEvent.select(), IncentiveEvent.count()
    for condition in conditions:
        query, count = query.where(condition), count.where(condition)
    page = await keyset_page(
        query,
        sort=IncentiveEvent.id,
        pk=IncentiveEvent.id,
        descending=True,
        first=first,
        after=after,
        maximum=current().settings.page_size_max,
    )

    async def counter() -> int:
        return await count

    return page, counter
