"""Incentives metrics of the reporting registry: ``incentives.commission`` (ledger lines
summed in SQL per currency) and ``incentives.target_attainment`` (actual ÷ target of the
leaf targets in the period) on small hand-made data: values computed by hand, grouping by
owner, team, kind, metric and period, visibility, GraphQL; actuals of contract money are SQL
sums equal to the ledger's sources."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.plugins.incentives.services import actuals, periods, sources, targets
from kehu.plugins.incentives.tables import CommissionLine
from kehu.plugins.pipeline.tables import Opportunity
from kehu.plugins.reporting.services.registry import MetricQuery, registry, run

from .conftest import cny

UTC_ = ZoneInfo("UTC")
H2 = {"start": datetime(2026, 7, 1, tzinfo=UTC_), "end": datetime(2027, 1, 1, tzinfo=UTC_)}
Q3 = {"start": datetime(2026, 7, 1, tzinfo=UTC_), "end": datetime(2026, 10, 1, tzinfo=UTC_)}
D = Decimal


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["pipeline", "incentives", "reporting"]


async def rows_of(
    kehu: Any, name: str, user: Any, dims: tuple[str, ...] = (), **kw: Any
) -> dict[tuple[str, ...], tuple]:
    """``{dimension values: (value, currency, measures)}`` of a metric run as ``user``."""
    found = await run(registry(kehu)[name], MetricQuery(user.actor, dims, **kw))
    return {tuple(r.dimensions.values()): (r.value, r.currency, r.measures) for r in found}


async def values_of(
    kehu: Any, name: str, user: Any, dims: tuple[str, ...] = (), **kw: Any
) -> dict[tuple[str, ...], tuple[Decimal, str | None]]:
    return {k: (v, c) for k, (v, c, _) in (await rows_of(kehu, name, user, dims, **kw)).items()}


# -- commission ---------------------------------------------------------------------------


@pytest.fixture
async def ledger(kehu, make_user) -> dict[str, Any]:
    """Lines (amount, currency, kind, source date):
    ann (North): 1000.00 CNY commission 08-10, 50.25 CNY adjustment 09-01,
                 −200.00 CNY clawback 10-05
    bob (North): 300.10 CNY commission 08-20, 100.00 USD commission 08-20
    cai (South): 500.00 CNY commission 10-15, −50.00 CNY cap 10-15"""
    users = {
        name: await make_user("sales", team=team, username=name)
        for name, team in (("ann", "North"), ("bob", "North"), ("cai", "South"))
    }
    lines = [
        ("ann", 100000, "CNY", "commission", date(2026, 8, 10)),
        ("ann", 5025, "CNY", "adjustment", date(2026, 9, 1)),
        ("ann", -20000, "CNY", "clawback", date(2026, 10, 5)),
        ("bob", 30010, "CNY", "commission", date(2026, 8, 20)),
        ("bob", 10000, "USD", "commission", date(2026, 8, 20)),
        ("cai", 50000, "CNY", "commission", date(2026, 10, 15)),
        ("cai", -5000, "CNY", "cap", date(2026, 10, 15)),
    ]
    for n, (who, minor, currency, kind, day) in enumerate(lines):
        period = periods.containing(day, "quarter").key
        await CommissionLine.insert(
            CommissionLine(
                line_key=f"{period}|s{n}|{who}|am",
                period=period,
                source_period=period,
                user=users[who].id,
                role="am",
                kind=kind,
                source_key=f"s{n}",
                source_date=day,
                amount_minor=minor,
                currency=currency,
            )
        )
    users["admin"] = await make_user("admin")
    users["manager"] = await make_user("manager", team="South")
    return users


async def test_commission(kehu, ledger):
    admin = ledger["admin"]
    # CNY 1000 + 50.25 − 200 + 300.10 + 500 − 50 = 1600.35; USD 100 (never added to CNY)
    rows = await run(registry(kehu)["incentives.commission"], MetricQuery(admin.actor, **H2))
    assert [(r.dimensions, r.value, r.currency) for r in rows] == [
        ({}, D("1600.35"), "CNY"),
        ({}, D("100.00"), "USD"),
    ]
    # ann 1000 + 50.25 − 200 = 850.25; bob 300.10 and USD 100; cai 500 − 50 = 450
    assert await values_of(kehu, "incentives.commission", admin, ("owner", "currency"), **H2) == {
        ("ann", "CNY"): (D("850.25"), "CNY"),
        ("bob", "CNY"): (D("300.10"), "CNY"),
        ("bob", "USD"): (D("100.00"), "USD"),
        ("cai", "CNY"): (D("450.00"), "CNY"),
    }
    # North CNY 850.25 + 300.10 = 1150.35; by quarter: Q3 1000 + 50.25 + 300.10 = 1350.35
    # (+ USD 100), Q4 −200 + 500 − 50 = 250
    assert await values_of(kehu, "incentives.commission", admin, ("team", "currency"), **H2) == {
        ("North", "CNY"): (D("1150.35"), "CNY"),
        ("North", "USD"): (D("100.00"), "USD"),
        ("South", "CNY"): (D("450.00"), "CNY"),
    }
    assert await values_of(
        kehu, "incentives.commission", admin, ("period", "currency"), granularity="quarter", **H2
    ) == {
        ("2026-Q3", "CNY"): (D("1350.35"), "CNY"),
        ("2026-Q3", "USD"): (D("100.00"), "USD"),
        ("2026-Q4", "CNY"): (D("250.00"), "CNY"),
    }
    # kinds in CNY: commission 1000 + 300.10 + 500 = 1800.10
    found = await values_of(
        kehu, "incentives.commission", admin, ("kind",), **H2, filters={"currency": "CNY"}
    )
    assert found == {
        ("adjustment",): (D("50.25"), "CNY"),
        ("cap",): (D("-50.00"), "CNY"),
        ("clawback",): (D("-200.00"), "CNY"),
        ("commission",): (D("1800.10"), "CNY"),
    }


async def test_commission_days_count_at_midnight_utc(kehu, ledger):
    """from 2026-10-01 00:00 in Shanghai is 09-30 16:00 UTC: the first day is 10-01."""
    sh = ZoneInfo("Asia/Shanghai")
    q4 = {"start": datetime(2026, 10, 1, tzinfo=sh), "end": datetime(2027, 1, 1, tzinfo=sh)}
    assert await values_of(kehu, "incentives.commission", ledger["admin"], **q4) == {
        (): (D("250.00"), "CNY")
    }
    # to 10-15 00:00 UTC leaves out cai's lines of that day: ann's −200 only
    assert await values_of(
        kehu,
        "incentives.commission",
        ledger["admin"],
        start=q4["start"],
        end=datetime(2026, 10, 15, tzinfo=UTC_),
    ) == {(): (D("-200.00"), "CNY")}


async def test_commission_visibility(kehu, ledger):
    """A rep sees their own lines only (whatever the team); a manager (commission:read_all,
    team visibility) their team's; admins and finance everyone's."""
    assert await values_of(kehu, "incentives.commission", ledger["cai"], ("owner",), **H2) == {
        ("cai",): (D("450.00"), "CNY")
    }
    assert await values_of(kehu, "incentives.commission", ledger["ann"], ("team",), **H2) == {
        ("North",): (D("850.25"), "CNY")
    }
    assert (
        await values_of(
            kehu, "incentives.commission", ledger["cai"], filters={"owner": "ann"}, **H2
        )
        == {}
    )
    south = await values_of(
        kehu, "incentives.commission", ledger["manager"], ("owner", "currency"), **H2
    )
    assert south == {("cai", "CNY"): (D("450.00"), "CNY")}
    everyone = await values_of(
        kehu, "incentives.commission", ledger["admin"], ("owner", "currency"), **H2
    )
    assert len(everyone) == 4


async def test_commission_over_graphql(kehu, ledger, gql):
    query = """query($start: DateTime, $end: DateTime) {
      metric(name: "incentives.commission", dimensions: ["owner"], from: $start, to: $end) {
        rows { dimensions { value } value currency } } }"""
    variables = {k: v.isoformat() for k, v in H2.items()}

    async def rows(user: Any) -> list[tuple[str, str, str]]:
        body = await gql(query, variables, user=user)
        return [
            (r["dimensions"][0]["value"], r["value"], r["currency"])
            for r in body["data"]["metric"]["rows"]
        ]

    assert await rows(ledger["admin"]) == [
        ("ann", "850.25", "CNY"),
        ("bob", "300.10", "CNY"),
        ("bob", "100.00", "USD"),
        ("cai", "450.00", "CNY"),
    ]
    assert await rows(ledger["bob"]) == [("bob", "300.10", "CNY"), ("bob", "100.00", "USD")]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    dims=st.lists(st.sampled_from(["owner", "team", "kind", "period"]), unique=True, max_size=3),
    granularity=st.sampled_from(["day", "month", "quarter", "year"]),
)
async def test_commission_groups_add_up_per_currency(kehu, ledger, dims, granularity):
    metric = registry(kehu)["incentives.commission"]
    total = await run(metric, MetricQuery(ledger["admin"].actor, **H2))
    groups = await run(
        metric, MetricQuery(ledger["admin"].actor, tuple(dims), **H2, granularity=granularity)
    )
    for row in total:
        assert sum(g.value for g in groups if g.currency == row.currency) == row.value


# -- target attainment --------------------------------------------------------------------


@pytest.fixture
async def goals(kehu, system, make_user, won_deal) -> dict[str, Any]:
    """Won deals (closed in 2026): ann 600.00 (Q3) + 200.00 (Q4) and one lost (Q3),
    bob 750.00 (Q3), cai 100.00 (Q3). Targets (CNY):
    company won revenue 2026 4000.00 decomposed into four quarters of 1000.00;
    team North won revenue Q3 2000.00; ann won revenue Q3 1000.00 and Q4 800.00;
    bob Q3 500.00; cai Q3 400.00; conversion rate Q3: ann 0.4, bob 0.5."""
    users = {
        name: await make_user("sales", team=team, username=name)
        for name, team in (("ann", "North"), ("bob", "North"), ("cai", "South"))
    }
    for who, amount, day in (
        ("ann", "600.00", date(2026, 8, 10)),
        ("ann", "200.00", date(2026, 11, 5)),
        ("bob", "750.00", date(2026, 9, 1)),
        ("cai", "100.00", date(2026, 7, 20)),
    ):
        await won_deal(users[who], amount, closed_on=day)
    lost = await won_deal(users["ann"], "999.00", closed_on=date(2026, 8, 11))
    await Opportunity.update({Opportunity.status: "lost"}).where(Opportunity.id == lost["id"])
    company = await targets.create_target(
        system,
        {"metric": "won_revenue", "scope": "company", "period": "2026", "amount": cny("4000.00")},
    )
    await targets.decompose(system, company["id"], by="period")
    await targets.create_target(
        system,
        {
            "metric": "won_revenue",
            "scope": "team",
            "team": users["ann"].team_id,
            "period": "2026-Q3",
            "amount": cny("2000.00"),
        },
    )
    for who, metric, period, goal in (
        ("ann", "won_revenue", "2026-Q3", "1000.00"),
        ("ann", "won_revenue", "2026-Q4", "800.00"),
        ("bob", "won_revenue", "2026-Q3", "500.00"),
        ("cai", "won_revenue", "2026-Q3", "400.00"),
        ("ann", "conversion_rate", "2026-Q3", "0.4"),
        ("bob", "conversion_rate", "2026-Q3", "0.5"),
    ):
        money = {"amount": cny(goal)} if metric == "won_revenue" else {"value": D(goal)}
        await targets.create_target(
            system, {"metric": metric, "user": users[who].id, "period": period, **money}
        )
    users["admin"] = await make_user("admin")
    return users


ATTAIN = "incentives.target_attainment"


async def test_target_attainment_by_owner(kehu, goals):
    rows = await rows_of(kehu, ATTAIN, goals["admin"], ("owner",), **Q3)
    assert rows == {
        # company Q3 part: 600 + 750 + 100 = 1450 of 1000 = 145 %
        ("", "won_revenue", "company"): (
            D("145.00"),
            "CNY",
            {"target": D("1000.00"), "actual": D("1450.00"), "targets": 1},
        ),
        # team North: ann 600 + bob 750 = 1350 of 2000 = 67.5 %
        ("", "won_revenue", "team"): (
            D("67.50"),
            "CNY",
            {"target": D("2000.00"), "actual": D("1350.00"), "targets": 1},
        ),
        # ann: won 1 of 2 closed = 0.5 of 0.4 = 125 %; 600 of 1000 = 60 %
        ("ann", "conversion_rate", "user"): (
            D("125.00"),
            None,
            {"target": D("0.4000"), "actual": D("0.5000"), "targets": 1},
        ),
        ("ann", "won_revenue", "user"): (
            D("60.00"),
            "CNY",
            {"target": D("1000.00"), "actual": D("600.00"), "targets": 1},
        ),
        # bob: 1 of 1 = 1.0 of 0.5 = 200 %; 750 of 500 = 150 %
        ("bob", "conversion_rate", "user"): (
            D("200.00"),
            None,
            {"target": D("0.5000"), "actual": D("1.0000"), "targets": 1},
        ),
        ("bob", "won_revenue", "user"): (
            D("150.00"),
            "CNY",
            {"target": D("500.00"), "actual": D("750.00"), "targets": 1},
        ),
        ("cai", "won_revenue", "user"): (
            D("25.00"),
            "CNY",
            {  # 100 of 400
                "target": D("400.00"),
                "actual": D("100.00"),
                "targets": 1,
            },
        ),
    }


async def test_target_attainment_by_team_adds_targets_up(kehu, goals):
    rows = await rows_of(
        kehu, ATTAIN, goals["admin"], ("team",), **Q3, filters={"team": str(goals["ann"].team_id)}
    )  # by id or name
    assert rows == {
        # rates average: (0.5 + 1.0) / 2 = 0.75 against (0.4 + 0.5) / 2 = 0.45 → 166.67 %
        ("North", "conversion_rate", "user"): (
            D("166.67"),
            None,
            {"target": D("0.4500"), "actual": D("0.7500"), "targets": 2},
        ),
        ("North", "won_revenue", "team"): (
            D("67.50"),
            "CNY",
            {"target": D("2000.00"), "actual": D("1350.00"), "targets": 1},
        ),
        # money adds up: (600 + 750) / (1000 + 500) = 90 %
        ("North", "won_revenue", "user"): (
            D("90.00"),
            "CNY",
            {"target": D("1500.00"), "actual": D("1350.00"), "targets": 2},
        ),
    }


async def test_target_attainment_by_period(kehu, goals):
    """Without from/to every leaf target counts (the company's year only through its
    quarters): Q1 and Q2 nothing won (0 %), Q3 1450 of 1000, Q4 200 of 1000; users Q3
    (600 + 750 + 100) of (1000 + 500 + 400) = 76.315… %, Q4 ann 200 of 800 = 25 %."""
    found = await values_of(
        kehu,
        ATTAIN,
        goals["admin"],
        ("period",),
        granularity="quarter",
        filters={"metric": "won_revenue"},
    )
    assert found == {
        ("2026-Q1", "won_revenue", "company"): (D("0.00"), "CNY"),
        ("2026-Q2", "won_revenue", "company"): (D("0.00"), "CNY"),
        ("2026-Q3", "won_revenue", "company"): (D("145.00"), "CNY"),
        ("2026-Q3", "won_revenue", "team"): (D("67.50"), "CNY"),
        ("2026-Q3", "won_revenue", "user"): (D("76.32"), "CNY"),
        ("2026-Q4", "won_revenue", "company"): (D("20.00"), "CNY"),
        ("2026-Q4", "won_revenue", "user"): (D("25.00"), "CNY"),
    }
    # a year: the company's four quarters 1650 of 4000 = 41.25 %
    year = await values_of(
        kehu, ATTAIN, goals["admin"], ("period",), granularity="year", filters={"scope": "company"}
    )
    assert year == {("2026", "won_revenue", "company"): (D("41.25"), "CNY")}


async def test_target_attainment_visibility(kehu, goals):
    """A rep sees their own targets, their team's and the company's: cai (South) sees neither
    ann's, bob's nor North's."""
    assert await values_of(kehu, ATTAIN, goals["cai"], ("owner", "team"), **Q3) == {
        ("", "", "won_revenue", "company"): (D("145.00"), "CNY"),
        ("cai", "South", "won_revenue", "user"): (D("25.00"), "CNY"),
    }
    assert await values_of(
        kehu, ATTAIN, goals["ann"], ("owner",), **Q3, filters={"metric": "won_revenue"}
    ) == {
        ("", "won_revenue", "company"): (D("145.00"), "CNY"),
        ("", "won_revenue", "team"): (D("67.50"), "CNY"),
        ("ann", "won_revenue", "user"): (D("60.00"), "CNY"),
    }


async def test_target_attainment_over_graphql(kehu, goals, gql):
    query = """query($start: DateTime, $end: DateTime) {
      metric(name: "incentives.target_attainment", dimensions: ["owner"],
             filters: [{name: "scope", value: "user"}, {name: "metric", value: "won_revenue"}],
             from: $start, to: $end) {
        rows { dimensions { name value } value currency measures { name value } } } }"""
    body = await gql(query, {k: v.isoformat() for k, v in Q3.items()}, user=goals["bob"])
    assert body["data"]["metric"]["rows"] == [
        {
            "dimensions": [
                {"name": "owner", "value": "bob"},
                {"name": "metric", "value": "won_revenue"},
                {"name": "scope", "value": "user"},
            ],
            "value": "150.00",
            "currency": "CNY",
            "measures": [
                {"name": "target", "value": "500.00"},
                {"name": "actual", "value": "750.00"},
                {"name": "targets", "value": "1"},
            ],
        }
    ]


# -- contract money actuals ---------------------------------------------------------------


class TestContractActuals:
    @pytest.fixture
    def kehu_plugins(self) -> list[str]:
        return ["pipeline", "contracts", "incentives"]

    async def test_sql_sums_equal_the_ledger_sources(self, kehu, system, make_user, make_customer):
        """Invoices − credit notes and payments + allocations − refunds, per contract owner,
        team and the company, equal the sums over ``sources`` (what commissions use)."""
        from kehu.plugins.contracts import services as r

        from .test_contracts import Q3_DAY, signed_contract

        ann = await make_user("sales", team="North")
        cai = await make_user("sales", team="South")
        for rep, total in ((ann, "1000.00"), (cai, "400.00")):
            customer = await make_customer(f"C{rep.id}", owner=rep)
            contract, inst = await signed_contract(system, customer, total)
            await r.issue_invoice(
                system, contract["id"], installment_id=inst[0]["id"], issued_on=Q3_DAY
            )
            await r.issue_credit_note(
                system, inst[0]["id"], cny("10.00"), "discount", issued_on=Q3_DAY
            )
            pay = await r.record_payment(
                system,
                customer["id"],
                cny("150.00"),
                received_on=Q3_DAY,
                contract_id=contract["id"],
                allocations=[(inst[0]["id"], cny("100.00"))],
            )
            await r.refund_payment(
                system, pay.payment["id"], cny("20.00"), "overpaid", issued_on=Q3_DAY
            )
            await r.record_payment(
                system,
                customer["id"],
                cny("5.00"),
                received_on=Q3_DAY,
                allocations=[(inst[0]["id"], cny("5.00"))],
            )
        q3 = periods.parse("2026-Q3")
        for metric, basis in (("invoiced_amount", "invoiced"), ("collected_amount", "collected")):
            items = await sources.for_basis(basis, q3)
            for group, key in (("user", "owner"), ("team", "team"), ("company", None)):
                expected: dict[Any, int] = {}
                for s in items:
                    k = getattr(s, key) if key else 0
                    expected[k] = expected.get(k, 0) + s.base_minor
                got = await actuals.actuals(metric, q3, group)
                assert {k: v.minor for k, v in got.items()} == expected, (metric, group)
        got = await actuals.actuals("collected_amount", q3, "user")
        assert got[ann.id].minor == 150_00 - 20_00 + 5_00
