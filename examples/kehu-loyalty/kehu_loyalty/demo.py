"""Demo data (``kehu demo``): welcome bonuses and a few redemptions, once."""

from kehu.sdk import Actor, Customer
from kehu_loyalty.services.points import award_points, redeem_points
from kehu_loyalty.tables import LoyaltyLedger


async def load_demo_data(actor: Actor) -> int:
    """Welcome bonuses (and a few redemptions) for the first demo customers; does nothing
    when they exist already. Returns the number of customers given points."""
    if await LoyaltyLedger.exists().where(LoyaltyLedger.source == "demo"):
        return 0
    rows = (
        await Customer.select(Customer.id)
        .where(Customer.archived_at.is_null())
        .order_by(Customer.id)
        .limit(20)
    )
    for i, row in enumerate(rows):
        await award_points(actor, row["id"], 50 + 25 * (i % 5), "Welcome bonus", source="demo")
        if i % 3 == 0:
            await redeem_points(actor, row["id"], 30, "Gift voucher", source="demo")
    return len(rows)
