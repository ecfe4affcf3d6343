"""``contracts.renewal_rate`` (续约率): contracts in force ending in the period, and whether
their customer has another contract in force starting within the grace window of the end."""

from datetime import UTC, date, datetime

import pytest

from kehu.plugins.contracts import services as r
from kehu.plugins.contracts import services as s

from .test_report_metrics import graphql, run

JUNE = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core", "contracts", "reporting"]


@pytest.fixture
async def renewals(kehu, system, make_user, make_customer, make_contract):
    """ana (North) owns ACME (East) and BETA (North); bo (South) owns GAMMA (South).

    R1 ACME  ends 2026-06-10, renewed by N1 starting 06-20 (10 days after)
    R2 BETA  ends 2026-06-20; N2 starts 09-15 (87 days after: outside 60 days); N4 starting
             06-21 is only a draft
    R3 GAMMA ends 2026-06-30, renewed by N3 starting 05-05 (56 days before)
    R4 ACME  ends 2026-07-15 (July), renewed by N1 (25 days before)
    R5 BETA  ends 2026-06-15 but was never signed; R6 GAMMA ends 06-05 but was terminated
    """
    ana = await make_user("sales", team="North", username="ana")
    bo = await make_user("sales", team="South", username="bo")
    acme = await make_customer("ACME", owner=ana, region="East", tier="gold")
    beta = await make_customer("BETA", owner=ana, region="North", tier="silver")
    gamma = await make_customer("GAMMA", owner=bo, region="South", tier="gold")

    async def contract(customer, owner, start, end=None, state="signed"):
        return await make_contract(
            customer, state, signed_on=start, actor=owner.actor, start_date=start, end_date=end
        )

    await contract(acme, ana, date(2025, 6, 11), date(2026, 6, 10))  # R1
    await contract(acme, ana, date(2026, 6, 20))  # N1
    await contract(beta, ana, date(2025, 6, 21), date(2026, 6, 20))  # R2
    await contract(beta, ana, date(2026, 9, 15))  # N2
    await contract(beta, ana, date(2026, 6, 21), state="draft")  # N4
    await contract(gamma, bo, date(2025, 7, 1), date(2026, 6, 30))  # R3
    await contract(gamma, bo, date(2026, 5, 5))  # N3
    await contract(acme, ana, date(2025, 7, 16), date(2026, 7, 15))  # R4
    await contract(beta, ana, date(2025, 6, 16), date(2026, 6, 15), state="approved")  # R5
    r6 = await contract(gamma, bo, date(2025, 6, 6), date(2026, 6, 5))
    await s.terminate_contract(system, r6["id"], "Cancelled")
    return ana, bo, await make_user("admin")


async def test_renewal_rate_by_owner_region_and_period(renewals, gql):
    *_, admin = renewals
    # June: R1, R2, R3 expiring, R1 and R3 renewed → 2 / 3 = 66.67%
    assert await run(admin.actor, "contracts.renewal_rate") == [
        {"value": "66.67", "expiring": "3", "renewed": "2"}
    ]
    # ana: R1 renewed, R2 not → 50.00%; bo: R3 renewed → 100.00% (R6 terminated: not counted)
    assert await graphql(gql, admin, "contracts.renewal_rate", "owner") == [
        {"owner": "ana", "value": "50.00", "expiring": "2", "renewed": "1"},
        {"owner": "bo", "value": "100.00", "expiring": "1", "renewed": "1"},
    ]
    rows = await run(admin.actor, "contracts.renewal_rate", "region", "tier")
    assert [(x["region"], x["tier"], x["value"]) for x in rows] == [
        ("East", "gold", "100.00"),
        ("North", "silver", "0.00"),
        ("South", "gold", "100.00"),
    ]
    # June and July by month of the end date: July has R4 only, renewed → 100.00%
    summer = (JUNE[0], datetime(2026, 8, 1, tzinfo=UTC))
    rows = await graphql(gql, admin, "contracts.renewal_rate", "period", period=summer)
    assert [(x["period"], x["value"], x["expiring"]) for x in rows] == [
        ("2026-06", "66.67", "3"),
        ("2026-07", "100.00", "1"),
    ]


async def test_the_grace_window_decides(renewals):
    _, _, admin = renewals
    # with 100 days of grace N2 (87 days after R2's end) renews R2 too: 3 / 3
    (row,) = await r.renewal_counts(
        admin.actor, date(2026, 6, 1), date(2026, 6, 30), grace_days=100
    )
    assert row.values == {"expiring": 3, "renewed": 3}
    # with 5 days none of them is renewed
    (row,) = await r.renewal_counts(admin.actor, date(2026, 6, 1), date(2026, 6, 30), grace_days=5)
    assert row.values == {"expiring": 3, "renewed": 0}


async def test_a_rep_of_another_team_sees_only_their_renewals(renewals):
    ana, bo, _ = renewals
    assert await run(bo.actor, "contracts.renewal_rate", "owner") == [
        {"owner": "bo", "value": "100.00", "expiring": "1", "renewed": "1"}
    ]
    assert await run(bo.actor, "contracts.renewal_rate", team="North") == []
    assert await run(ana.actor, "contracts.renewal_rate") == [
        {"value": "50.00", "expiring": "2", "renewed": "1"}
    ]
