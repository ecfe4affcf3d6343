"""An opportunity's team members, line items and needs, and activities logged on it."""

from typing import Any

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor
from kehu.core.services.common import raise_if
from kehu.core.validation import require_text
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.editing import _check_user, _lock
from kehu.plugins.pipeline.services.opportunities import get_opportunity


async def add_team_member(actor: Actor, opportunity_id: int, user_id: int, role: str) -> dict:
    errors: list[FieldError] = []
    if role not in {r.value for r in t.TeamRole}:
        errors.append(FieldError("role", "role must be one of am, ts, sc, bd", "INVALID_CHOICE"))
    await _check_user(user_id, "userId", errors)
    raise_if(errors)
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        m = t.TeamMember
        if await m.exists().where(m.opportunity == opportunity_id, m.user == user_id):
            await m.update({m.role: role}).where(m.opportunity == opportunity_id, m.user == user_id)
        else:
            await m.insert(m(opportunity=opportunity_id, user=user_id, role=role))
        await record(
            actor,
            "team_member_set",
            "opportunity",
            opportunity_id,
            None,
            {"user": user_id, "role": role},
            customer_id=row["customer"],
        )
    return row


async def remove_team_member(actor: Actor, opportunity_id: int, user_id: int) -> dict:
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        m = t.TeamMember
        await m.delete().where(m.opportunity == opportunity_id, m.user == user_id)
        await record(
            actor,
            "team_member_removed",
            "opportunity",
            opportunity_id,
            {"user": user_id},
            None,
            customer_id=row["customer"],
        )
    return row


async def add_line_item(
    actor: Actor, opportunity_id: int, product: str, quantity: int, unit_price: Money
) -> dict[str, Any]:
    errors: list[FieldError] = []
    product, err = require_text(product, "product", 255)
    errors += [err] if err else []
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        errors.append(FieldError("quantity", "quantity must be a positive integer", "INVALID"))
    if unit_price.minor < 0:
        errors.append(FieldError("unitPrice", "unitPrice must not be negative", "INVALID"))
    raise_if(errors)
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        if unit_price.currency != row["currency"]:
            raise ValidationFailed(
                FieldError(
                    "unitPrice",
                    f"Line items are in the opportunity's currency {row['currency']}",
                    "CURRENCY_MISMATCH",
                )
            )
        position = await t.LineItem.count().where(t.LineItem.opportunity == opportunity_id)
        item = (
            await t.LineItem.insert(
                t.LineItem(
                    opportunity=opportunity_id,
                    product=product,
                    quantity=quantity,
                    unit_price_minor=unit_price.minor,
                    currency=unit_price.currency,
                    position=position,
                )
            ).returning(*t.LineItem.all_columns())
        )[0]
        await record(
            actor,
            "line_item_added",
            "opportunity",
            opportunity_id,
            None,
            item,
            customer_id=row["customer"],
        )
    return item


def line_total(item: dict[str, Any]) -> Money:
    return Money(item["unit_price_minor"] * item["quantity"], item["currency"])


async def remove_line_item(actor: Actor, item_id: int) -> dict[str, Any]:
    item = await t.LineItem.select().where(t.LineItem.id == item_id).first()
    if item is None:
        raise NotFound(f"Line item {item_id} not found")
    async with unit_of_work():
        row = await _lock(actor, item["opportunity"], None)
        await t.LineItem.delete().where(t.LineItem.id == item_id)
        await record(
            actor,
            "line_item_removed",
            "opportunity",
            row["id"],
            item,
            None,
            customer_id=row["customer"],
        )
    return row


async def add_need(
    actor: Actor,
    opportunity_id: int,
    description: str,
    impact: int,
    difficulty: int,
    urgency: int,
) -> dict[str, Any]:
    errors: list[FieldError] = []
    description, err = require_text(description, "description", 4000)
    errors += [err] if err else []
    for name, value in (
        ("impact", impact),
        ("difficulty", difficulty),
        ("urgency", urgency),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            errors.append(FieldError(name, f"{name} is scored 1..5", "INVALID"))
    raise_if(errors)
    async with unit_of_work():
        row = await _lock(actor, opportunity_id, None)
        need = (
            await t.Need.insert(
                t.Need(
                    opportunity=opportunity_id,
                    description=description,
                    impact=impact,
                    difficulty=difficulty,
                    urgency=urgency,
                )
            ).returning(*t.Need.all_columns())
        )[0]
        await record(
            actor,
            "need_added",
            "opportunity",
            opportunity_id,
            None,
            need,
            customer_id=row["customer"],
        )
    return need


async def remove_need(actor: Actor, need_id: int) -> dict[str, Any]:
    need = await t.Need.select().where(t.Need.id == need_id).first()
    if need is None:
        raise NotFound(f"Need {need_id} not found")
    async with unit_of_work():
        row = await _lock(actor, need["opportunity"], None)
        await t.Need.delete().where(t.Need.id == need_id)
        await record(
            actor,
            "need_removed",
            "opportunity",
            row["id"],
            need,
            None,
            customer_id=row["customer"],
        )
    return row


async def log_opportunity_activity(
    actor: Actor, opportunity_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    """Log (or plan) an activity on a visible opportunity's customer, linked to the deal
    (core's ``related_type="opportunity"``)."""
    from kehu.core.services.activities import log_activity

    async with unit_of_work():
        row = await get_opportunity(actor, opportunity_id)
        return await log_activity(
            actor,
            row["customer"],
            {**data, "related_type": "opportunity", "related_id": opportunity_id},
        )
