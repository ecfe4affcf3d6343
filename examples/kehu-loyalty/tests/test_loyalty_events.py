"""The ``kehu_event`` handler: points for committed activities only."""

import pytest
from kehu_loyalty import services
from kehu_loyalty.tables import LoyaltyLedger

from kehu.core.events import unit_of_work
from kehu.core.services import activities


async def test_activity_created_awards_points(kehu, make_user, make_customer):
    sales = await make_user("sales")
    acme = await make_customer("ACME", owner=sales)
    activity = await activities.log_activity(sales.actor, acme["id"], {"subject": "Call"})
    assert kehu.plugin_settings("loyalty").points_per_activity == 1
    assert await services.balance(sales.actor, acme["id"]) == 1
    entry = (await services.ledger(sales.actor, acme["id"]))[0]
    assert (entry["source"], entry["reason"]) == ("activity", "Activity: Call")
    assert entry["actor"] is None  # the system actor
    assert entry["idempotency_key"] == f"activity:{activity['id']}"
    # a redelivered event does not pay twice
    await services.award_for_activity(activity["id"], {"customer": acme["id"]})
    assert await services.balance(sales.actor, acme["id"]) == 1


async def test_rolled_back_activity_awards_nothing(kehu, make_user, make_customer):
    sales = await make_user("sales")
    acme = await make_customer("ACME", owner=sales)
    with pytest.raises(RuntimeError):
        async with unit_of_work():
            await activities.log_activity(sales.actor, acme["id"], {"subject": "Call"})
            raise RuntimeError("abort")
    assert await services.balance(sales.actor, acme["id"]) == 0
    assert await LoyaltyLedger.count() == 0
