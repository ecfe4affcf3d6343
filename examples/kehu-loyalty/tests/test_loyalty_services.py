"""Service rules: oldest points are spent first, expiry job, merges, permissions, demo data."""

import asyncio
from datetime import timedelta

import pytest
from kehu_loyalty import services
from kehu_loyalty.tables import LoyaltyAccount, LoyaltyLedger

from kehu.core.errors import Forbidden, ValidationFailed
from kehu.core.services import activities, customers
from kehu.core.services.common import now
from kehu.core.tables import AuditLog


async def _backdate(entry_id: int, days: int) -> None:
    await LoyaltyLedger.update({LoyaltyLedger.created_at: now() - timedelta(days=days)}).where(
        LoyaltyLedger.id == entry_id
    )


async def _remaining(customer_id: int) -> list[int]:
    rows = (
        await LoyaltyLedger.select(LoyaltyLedger.remaining)
        .where(LoyaltyLedger.customer == customer_id, LoyaltyLedger.kind == "award")
        .order_by(LoyaltyLedger.id)
    )
    return [r["remaining"] for r in rows]


async def test_redemptions_use_oldest_points_first(kehu, system, make_customer):
    acme = await make_customer()
    for points in (100, 50):
        await services.award_points(system, acme["id"], points, "Order")
    change = await services.redeem_points(system, acme["id"], 120, "Bike")
    assert change.balance == 30 and change.entry["points"] == -120
    assert await _remaining(acme["id"]) == [0, 30]
    with pytest.raises(ValidationFailed) as exc:
        await services.redeem_points(system, acme["id"], 31, "Car")
    assert exc.value.errors[0].code == "INSUFFICIENT_POINTS"
    assert await services.balance(system, acme["id"]) == 30
    assert await _remaining(acme["id"]) == [0, 30]


async def test_expire_job(kehu, system, make_customer):
    acme, beta = await make_customer("ACME"), await make_customer("Beta")
    old = await services.award_points(system, acme["id"], 100, "Old order")
    await services.award_points(system, acme["id"], 50, "New order")
    await services.redeem_points(system, acme["id"], 30, "Mug")  # spends old points
    beta_old = await services.award_points(system, beta["id"], 10, "Old order")
    await _backdate(old.entry["id"], 400)
    await _backdate(beta_old.entry["id"], 400)

    job = kehu.jobs()["loyalty.expire"]
    assert job.every == timedelta(days=1)
    assert await job.func(kehu) == "expired 80 points of 2 customer(s)"
    assert await services.balance(system, acme["id"]) == 50
    assert await services.balance(system, beta["id"]) == 0
    entries = await services.ledger(system, acme["id"])
    latest = entries[0]
    assert (latest["kind"], latest["points"], latest["source"]) == ("expire", -70, "job")
    assert await job.func(kehu) == "expired 0 points of 0 customer(s)"
    assert await AuditLog.count().where(AuditLog.action == "expired") == 2


async def test_merge_moves_points_to_survivor(kehu, system, make_customer):
    survivor, merged = await make_customer("ACME"), await make_customer("ACME Ltd")
    await services.award_points(system, survivor["id"], 10, "Order")
    await services.award_points(system, merged["id"], 25, "Order")
    await customers.merge_customers(system, survivor["id"], merged["id"])
    assert await services.balance(system, survivor["id"]) == 35
    assert await LoyaltyAccount.count().where(LoyaltyAccount.customer == merged["id"]) == 0
    assert len(await services.ledger(system, survivor["id"])) == 2
    account = await LoyaltyAccount.select().where(LoyaltyAccount.customer == survivor["id"]).first()
    assert account["lifetime_points"] == 35


async def test_permissions(kehu, make_user, make_customer):
    support = await make_user("support", team="North")
    viewer = await make_user("viewer", team="North")
    acme = await make_customer("ACME", owner=support)
    with pytest.raises(Forbidden):
        await services.award_points(support.actor, acme["id"], 5, "Nice")
    with pytest.raises(Forbidden):
        await services.redeem_points(viewer.actor, acme["id"], 5, "Nice")
    assert await services.balance(viewer.actor, acme["id"]) == 0
    assert "loyalty:award" in kehu.permissions()


async def test_demo_data_is_idempotent(kehu, system, make_customer):
    for name in ("A", "B", "C", "D"):
        customer = await make_customer(name)
    await activities.log_activity(system, customer["id"], {"subject": "Call"})  # 1 point
    await kehu.acall("kehu_demo_data", actor=system, users={})
    demo = LoyaltyLedger.count().where(LoyaltyLedger.source == "demo")
    assert await demo == 6  # four bonuses, two redemptions
    await kehu.acall("kehu_demo_data", actor=system, users={})
    assert await demo == 6


async def test_balance_equals_unspent_lots(kehu, system, make_customer):
    acme = await make_customer()
    for points in (7, 3, 40, 1):
        await services.award_points(system, acme["id"], points, "Order")
    for points in (5, 6, 30):
        await services.redeem_points(system, acme["id"], points, "Gift")
    assert sum(await _remaining(acme["id"])) == await services.balance(system, acme["id"]) == 10


async def test_concurrent_changes_neither_overdraw_nor_lose_points(kehu, system, make_customer):
    acme = await make_customer()
    awards = [services.award_points(system, acme["id"], 20, "Order") for _ in range(5)]
    await asyncio.gather(*awards)  # the first ones race to create the account
    assert await services.balance(system, acme["id"]) == 100

    redeems = [services.redeem_points(system, acme["id"], 30, "Gift") for _ in range(5)]
    results = await asyncio.gather(*redeems, return_exceptions=True)
    failed = [r for r in results if isinstance(r, ValidationFailed)]
    assert len(failed) == 2 and all(e.errors[0].code == "INSUFFICIENT_POINTS" for e in failed)
    assert await services.balance(system, acme["id"]) == 10
    assert sum(await _remaining(acme["id"])) == 10


async def test_timeline_pages_through_every_entry(kehu, system, make_customer):
    from kehu.core.services.timeline import customer_timeline

    acme = await make_customer()
    for points in (1, 2, 3):
        await services.award_points(system, acme["id"], points, f"Order {points}")
    same = now() - timedelta(hours=1)  # ties on the timestamp must not lose entries
    await LoyaltyLedger.update({LoyaltyLedger.created_at: same}).where(
        LoyaltyLedger.customer == acme["id"]
    )
    seen, after = [], None
    while True:
        page = await customer_timeline(system, acme["id"], first=1, after=after)
        seen += [e.title for e in page.entries]
        if not page.has_next:
            break
        after = page.cursors[-1]
    assert sorted(seen) == ["+1 loyalty points", "+2 loyalty points", "+3 loyalty points"]
