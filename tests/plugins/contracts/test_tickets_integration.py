"""With tickets enabled: a contract's SLA policy entitles its customer, and overdue
receivables and near renewals feed the churn early warning."""

from datetime import UTC, date, datetime, timedelta

import pytest

from kehu.core.money import Money
from kehu.plugins.contracts import services
from kehu.plugins.tickets.services import churn, slas, tickets
from kehu.plugins.tickets.tables import Ticket


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["contracts", "tickets"]


async def test_signed_contract_carries_the_sla_policy(
    kehu, system, make_user, make_customer, make_contract
):
    admin = await make_user("admin")
    gold, plain = await make_customer("Gold Co"), await make_customer("Plain Co")
    await slas.set_policy(admin.actor, "gold", "urgent", 15, 120)
    await make_contract(gold, "signed", sla_policy="gold")
    await make_contract(plain, "draft", sla_policy="gold")  # not signed: no entitlement
    now = datetime(2026, 11, 16, 2, tzinfo=UTC)  # Monday 10:00 in Shanghai
    made = [
        await tickets.create_ticket(
            admin.actor,
            c["id"],
            {"subject": "Down", "channel": "phone", "priority": "urgent"},
            now=now,
        )
        for c in (gold, plain)
    ]
    rows = await Ticket.select().where(Ticket.id.is_in([t["id"] for t in made]))
    found = await slas.sla_of(rows, now)
    assert found[made[0]["id"]].policy == "gold"
    assert found[made[0]["id"]].first_response.due_at == now + timedelta(minutes=15)
    assert found[made[1]["id"]].policy == "default"


async def test_overdue_receivables_and_renewals_raise_churn_risk(
    kehu, system, make_customer, make_contract
):
    late, renewing, fine = (
        await make_customer("Late Co"),
        await make_customer("Renewing Co"),
        await make_customer("Fine Co"),
    )
    contract = await make_contract(late, "signed", prices=("1000.00",))
    today = date.today()
    await services.set_schedule(
        system, contract["id"], [(today - timedelta(days=45), Money(100_000, "CNY"))]
    )
    await make_contract(renewing, "signed", renewal_date=today + timedelta(days=15))
    await make_contract(fine, "signed", renewal_date=today + timedelta(days=200))
    found = await churn.risks([late["id"], renewing["id"], fine["id"]], datetime.now(UTC))
    late_signals = [s for s in found[late["id"]].signals if s.source == "contracts"]
    assert [s.reason for s in late_signals] == ["Receivable 45 days overdue"]
    assert late_signals[0].points == pytest.approx(25 * 45 / 60)

    def renewals(customer):  # (their schedules from the payment terms are overdue, too)
        return [s for s in found[customer["id"]].signals if "renews" in s.reason]

    (soon,) = renewals(renewing)
    assert "renews in 15 days" in soon.reason and soon.points == pytest.approx(15 * 0.75)
    assert renewals(fine) == []
