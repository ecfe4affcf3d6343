"""Changing points: awards, redemptions (oldest points first), expiry, merges and the points
for a logged activity. Each change locks the customer's account row and runs in one
``unit_of_work()`` with an audit row and a ``loyalty.*`` event (``record``)."""

from datetime import datetime, timedelta
from typing import Any

from kehu import Kehu
from kehu.sdk import (
    Actor,
    FieldError,
    NotFound,
    ValidationFailed,
    current,
    current_engine,
    get_customer,
    is_sqlite,
    now,
    raise_if,
    record,
    require_text,
    system_actor,
    unit_of_work,
)
from kehu_loyalty.services.common import ACTIONS, PLUGIN, PointsChange, config
from kehu_loyalty.tables import EntryKind, LoyaltyAccount, LoyaltyLedger


def _clean(points: int, reason: str | None, key: str | None) -> str:
    errors: list[FieldError] = []
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        errors.append(FieldError("points", "points must be a positive whole number", "INVALID"))
    elif points > config().max_points_per_transaction:
        limit = config().max_points_per_transaction
        errors.append(FieldError("points", f"points must be at most {limit}", "TOO_LARGE"))
    reason, err = require_text(reason, "reason", 255)
    errors += [err] if err else []
    if key is not None and not 1 <= len(key) <= 100:
        errors.append(FieldError("idempotencyKey", "idempotencyKey must be 1..100 characters"))
    raise_if(errors)
    return reason


async def _lock_account(customer_id: int) -> dict[str, Any]:
    """The customer's account, created if missing and locked until the transaction ends
    (SQLite: ``BEGIN IMMEDIATE`` already serialises writers; PostgreSQL: ``FOR UPDATE``)."""
    await LoyaltyAccount.raw(
        "INSERT INTO loyalty_account (customer) VALUES ({}) ON CONFLICT (customer) DO NOTHING",
        customer_id,
    )
    query = LoyaltyAccount.select().where(LoyaltyAccount.customer == customer_id)
    if not is_sqlite(current_engine()):
        query = query.lock_rows()
    return await query.first()


async def _replayed(
    key: str | None, customer_id: int, kind: EntryKind, points: int
) -> dict[str, Any] | None:
    """The ledger row an earlier request with this idempotency key wrote, if any."""
    if key is None:
        return None
    row = await LoyaltyLedger.select().where(LoyaltyLedger.idempotency_key == key).first()
    if row is not None and (row["customer"], row["kind"], row["points"]) != (
        customer_id,
        kind.value,
        points,
    ):
        raise ValidationFailed(
            FieldError(
                "idempotencyKey",
                "idempotencyKey was already used for a different request",
                "IDEMPOTENCY_KEY_REUSED",
            )
        )
    return row


async def _apply(
    actor: Actor,
    account: dict[str, Any],
    kind: EntryKind,
    points: int,
    *,
    reason: str,
    source: str,
    key: str | None = None,
) -> tuple[dict[str, Any], int]:
    """Change the balance by ``points``, write the ledger and audit rows and tell the
    ``kehu_loyalty_points_changed`` implementations. Returns ``(ledger row, balance)``."""
    customer_id = account["customer"]
    new_balance = account["balance"] + points
    await LoyaltyAccount.update(
        {
            LoyaltyAccount.balance: new_balance,
            LoyaltyAccount.lifetime_points: account["lifetime_points"] + max(points, 0),
            LoyaltyAccount.version: LoyaltyAccount.version + 1,
            LoyaltyAccount.updated_at: now(),
        }
    ).where(LoyaltyAccount.id == account["id"])
    entry = LoyaltyLedger(
        customer=customer_id,
        kind=kind.value,
        points=points,
        remaining=max(points, 0),
        balance_after=new_balance,
        reason=reason,
        source=source,
        actor=actor.user_id,
        idempotency_key=key,
        created_at=now(),
    )
    row = (await LoyaltyLedger.insert(entry).returning(*LoyaltyLedger.all_columns()))[0]
    await record(
        actor,
        ACTIONS[kind],
        PLUGIN,
        customer_id,
        after={
            "entry_id": row["id"],
            "points": points,
            "balance": new_balance,
            "reason": reason,
            "source": source,
        },
    )
    await current().acall(
        "kehu_loyalty_points_changed", customer_id=customer_id, delta=points, balance=new_balance
    )
    return row, new_balance


async def _consume(customer_id: int, points: int) -> None:
    """Use up ``points`` from the customer's award lots, oldest first."""
    lots = (
        await LoyaltyLedger.select(LoyaltyLedger.id, LoyaltyLedger.remaining)
        .where(LoyaltyLedger.customer == customer_id, LoyaltyLedger.remaining > 0)
        .order_by(LoyaltyLedger.created_at, LoyaltyLedger.id)
    )
    for lot in lots:
        if points <= 0:
            break
        take = min(points, lot["remaining"])
        await LoyaltyLedger.update({LoyaltyLedger.remaining: LoyaltyLedger.remaining - take}).where(
            LoyaltyLedger.id == lot["id"]
        )
        points -= take
    if points:
        raise RuntimeError(f"Loyalty lots of customer {customer_id} do not cover the balance")


async def award_points(
    actor: Actor,
    customer_id: int,
    points: int,
    reason: str,
    *,
    source: str = "manual",
    idempotency_key: str | None = None,
) -> PointsChange:
    """Give a visible customer ``points``. A repeated ``idempotency_key`` returns the first
    result without awarding again."""
    actor.require("loyalty:award")
    reason = _clean(points, reason, idempotency_key)
    async with unit_of_work():
        customer = await get_customer(actor, customer_id)
        account = await _lock_account(customer_id)
        done = await _replayed(idempotency_key, customer_id, EntryKind.award, points)
        if done is not None:
            return PointsChange(customer, done, account["balance"])
        entry, new_balance = await _apply(
            actor,
            account,
            EntryKind.award,
            points,
            reason=reason,
            source=source,
            key=idempotency_key,
        )
    return PointsChange(customer, entry, new_balance)


async def redeem_points(
    actor: Actor,
    customer_id: int,
    points: int,
    reason: str,
    *,
    source: str = "manual",
    idempotency_key: str | None = None,
) -> PointsChange:
    """Spend ``points`` of a visible customer's balance; more than the balance is a
    ``ValidationFailed`` (code ``INSUFFICIENT_POINTS``) and changes nothing."""
    actor.require("loyalty:redeem")
    reason = _clean(points, reason, idempotency_key)
    async with unit_of_work():
        customer = await get_customer(actor, customer_id)
        account = await _lock_account(customer_id)
        done = await _replayed(idempotency_key, customer_id, EntryKind.redeem, -points)
        if done is not None:
            return PointsChange(customer, done, account["balance"])
        if points > account["balance"]:
            raise ValidationFailed(
                FieldError(
                    "points",
                    f"Cannot redeem {points} points: the balance is {account['balance']}",
                    "INSUFFICIENT_POINTS",
                )
            )
        await _consume(customer_id, points)
        entry, new_balance = await _apply(
            actor,
            account,
            EntryKind.redeem,
            -points,
            reason=reason,
            source=source,
            key=idempotency_key,
        )
    return PointsChange(customer, entry, new_balance)


async def expire_points(older_than: datetime, actor: Actor | None = None) -> tuple[int, int]:
    """Expire what is left of awards made before ``older_than``, one unit of work per
    customer. Returns ``(points expired, customers affected)``."""
    actor = actor or system_actor()
    actor.require("loyalty:expire")
    expired = (LoyaltyLedger.remaining > 0) & (LoyaltyLedger.created_at < older_than)
    rows = await LoyaltyLedger.select(LoyaltyLedger.customer).where(expired).distinct()
    total = customers = 0
    for customer_id in sorted({r["customer"] for r in rows}):
        async with unit_of_work():
            account = await _lock_account(customer_id)
            lots = await LoyaltyLedger.select(LoyaltyLedger.id, LoyaltyLedger.remaining).where(
                expired, LoyaltyLedger.customer == customer_id
            )
            points = sum(lot["remaining"] for lot in lots)
            if not points:
                continue
            await LoyaltyLedger.update({LoyaltyLedger.remaining: 0}).where(
                LoyaltyLedger.id.is_in([lot["id"] for lot in lots])
            )
            reason = f"Points awarded before {older_than:%Y-%m-%d} expired"
            await _apply(actor, account, EntryKind.expire, -points, reason=reason, source="job")
        total += points
        customers += 1
    return total, customers


async def merge_accounts(actor: Actor, survivor_id: int, merged_id: int) -> None:
    """Move the merged customer's ledger and balance to the survivor (runs inside the
    merge's unit of work, see ``kehu_customers_merged``)."""
    if not await LoyaltyAccount.exists().where(LoyaltyAccount.customer == merged_id):
        return
    survivor = await _lock_account(survivor_id)
    merged = await _lock_account(merged_id)
    await LoyaltyLedger.update({LoyaltyLedger.customer: survivor_id}).where(
        LoyaltyLedger.customer == merged_id
    )
    new_balance = survivor["balance"] + merged["balance"]
    await LoyaltyAccount.update(
        {
            LoyaltyAccount.balance: new_balance,
            LoyaltyAccount.lifetime_points: survivor["lifetime_points"] + merged["lifetime_points"],
            LoyaltyAccount.version: LoyaltyAccount.version + 1,
            LoyaltyAccount.updated_at: now(),
        }
    ).where(LoyaltyAccount.id == survivor["id"])
    await LoyaltyAccount.delete().where(LoyaltyAccount.id == merged["id"])
    await record(
        actor,
        "merged",
        PLUGIN,
        survivor_id,
        after={"merged_id": merged_id, "points": merged["balance"], "balance": new_balance},
    )
    if merged["balance"]:
        await current().acall(
            "kehu_loyalty_points_changed",
            customer_id=survivor_id,
            delta=merged["balance"],
            balance=new_balance,
        )


async def award_for_activity(activity_id: int, data: dict[str, Any]) -> PointsChange | None:
    """Points for a logged activity (``activity.created``), once per activity: the ledger row's
    idempotency key ``activity:<id>`` is unique. A delivery of the event after the first one
    does nothing (``None``), also when ``points_per_activity`` changed or the customer was
    merged into another since (its points moved with the ledger row); two deliveries at once
    are serialised by the account lock in ``award_points``, which finds the key."""
    points = config().points_per_activity
    customer_id = data.get("customer")
    if not points or customer_id is None:
        return None
    key = f"activity:{activity_id}"
    if await LoyaltyLedger.exists().where(LoyaltyLedger.idempotency_key == key):
        return None
    subject = str(data.get("subject") or "activity")
    try:
        return await award_points(
            system_actor(),
            customer_id,
            points,
            f"Activity: {subject}"[:255],
            source="activity",
            idempotency_key=key,
        )
    except NotFound:  # the customer was deleted since (with its activities)
        return None


async def expire_due(kehu: Kehu) -> str | None:
    """The ``loyalty.expire`` job: expire points older than ``expire_after_days`` (0: never)."""
    days = kehu.plugin_settings(PLUGIN).expire_after_days
    if not days:
        return None
    points, customers = await expire_points(now() - timedelta(days=days))
    return f"expired {points} points of {customers} customer(s)"
