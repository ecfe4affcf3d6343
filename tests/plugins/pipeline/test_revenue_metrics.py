"""Revenue and customer-value metrics (won deals are purchases), checked against values worked
out by hand on a small shop, through GraphQL and the service, with visibility.

The shop: customers A (nora, East, gold, source referral), B (nora, North, silver, website),
C (sam, South, gold, ads), D (sam, South, bronze, no source); won deals (CNY unless noted, owner
= the customer's, ``src`` = the deal's source):

| deal | customer | closed     | amount     | src   | lines                          |
|------|----------|------------|------------|-------|--------------------------------|
| d0   | B        | 2024-12-20 | 150.00     |       | —                              |
| d1   | A        | 2025-01-10 | 1000.00    |       | Licence 2×300, Support 1×400   |
| d2   | B        | 2025-01-20 | 200.00     |       | —                              |
| d3   | C        | 2025-01-05 | 800.00     | web   | Licence 2×300, Training 2×100  |
| d4   | A        | 2025-02-15 | 500.00     | event | Licence 1×300, Training 2×100  |
| d5   | C        | 2025-02-03 | 300.00     | web   | Support 1×300                  |
| d6   | C        | 2025-02-25 | 100.00 USD | web   | Licence 1×100 USD              |
| d7   | D        | 2025-02-10 | 250.50     |       | —                              |

plus an open deal (B, 999.00) and a lost one (D, 777.00) that count nowhere. nora (North) and
sam (South) are sales reps: each sees only their own customers' deals.
"""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core.errors import ValidationFailed
from kehu.core.money import Money
from kehu.core.permissions import system_actor
from kehu.core.services import customers, users
from kehu.core.testing import truncate_all
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.report_metrics import revenue as rm
from kehu.plugins.reporting import services as reporting
from kehu.plugins.reporting.services.registry import MetricQuery

JAN, FEB, MAR = (datetime(2025, m, 1, tzinfo=UTC) for m in (1, 2, 3))

QUERY = """query($name: String!, $d: [String!], $f: [MetricFilterInput!], $from: DateTime,
  $to: DateTime, $g: Granularity) {
  metric(name: $name, dimensions: $d, filters: $f, from: $from, to: $to, granularity: $g) {
    rows { dimensions { name value } value currency measures { name value } } } }"""


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["pipeline", "reporting"]


async def _won(
    pipeline: dict,
    customer: dict,
    amount: str,
    closed: datetime,
    currency: str = "CNY",
    source: str = "",
    lines: tuple[tuple[str, int, str], ...] = (),
) -> dict:
    """A deal of ``customer``'s owner, won at ``closed``, with line items."""
    system = system_actor()
    deal = await services.create_opportunity(
        system,
        {
            "name": f"Deal {amount}",
            "customer": customer["id"],
            "pipeline": pipeline["id"],
            "amount": Money.from_decimal(amount, currency),
            "owner": customer["owner"],
            "source": source,
        },
    )
    for product, quantity, price in lines:
        await services.add_line_item(
            system, deal["id"], product, quantity, Money.from_decimal(price, currency)
        )
    await services.win_opportunity(system, deal["id"])
    o = t.Opportunity
    await o.update({o.closed_at: closed}).where(o.id == deal["id"])
    return deal


async def _customer(name: str, owner: Any, **data: Any) -> dict:
    return await customers.create_customer(
        system_actor(), {"name": name, "owner": owner.id, **data}
    )


@pytest.fixture
async def shop(kehu, make_user) -> dict[str, Any]:
    nora = await make_user("sales", team="North", username="nora")
    sam = await make_user("sales", team="South", username="sam")
    system = system_actor()
    flow = await services.create_pipeline(system, "Shop", template="online")
    a = await _customer(
        "A", nora, region="East", industry="software", tier="gold", source="referral"
    )
    b = await _customer(
        "B", nora, region="North", industry="retail", tier="silver", source="website"
    )
    c = await _customer("C", sam, region="South", industry="software", tier="gold", source="ads")
    d = await _customer("D", sam, region="South", industry="food", tier="bronze")
    await _won(flow, b, "150.00", datetime(2024, 12, 20, tzinfo=UTC))
    await _won(
        flow,
        a,
        "1000.00",
        datetime(2025, 1, 10, tzinfo=UTC),
        lines=(("Licence", 2, "300"), ("Support", 1, "400")),
    )
    await _won(flow, b, "200.00", datetime(2025, 1, 20, tzinfo=UTC))
    await _won(
        flow,
        c,
        "800.00",
        datetime(2025, 1, 5, tzinfo=UTC),
        source="web",
        lines=(("Licence", 2, "300"), ("Training", 2, "100")),
    )
    await _won(
        flow,
        a,
        "500.00",
        datetime(2025, 2, 15, tzinfo=UTC),
        source="event",
        lines=(("Licence", 1, "300"), ("Training", 2, "100")),
    )
    await _won(
        flow,
        c,
        "300.00",
        datetime(2025, 2, 3, tzinfo=UTC),
        source="web",
        lines=(("Support", 1, "300"),),
    )
    await _won(
        flow, c, "100.00", datetime(2025, 2, 25, tzinfo=UTC), "USD", "web", (("Licence", 1, "100"),)
    )
    await _won(flow, d, "250.50", datetime(2025, 2, 10, tzinfo=UTC))
    await services.create_opportunity(
        system,
        {
            "name": "Open",
            "customer": b["id"],
            "pipeline": flow["id"],
            "owner": nora.id,
            "amount": Money(999_00, "CNY"),
        },
    )
    lost = await services.create_opportunity(
        system,
        {
            "name": "Lost",
            "customer": d["id"],
            "pipeline": flow["id"],
            "owner": sam.id,
            "amount": Money(777_00, "CNY"),
        },
    )
    await services.lose_opportunity(system, lost["id"], "price")
    return {"nora": nora, "sam": sam, "admin": await make_user("admin")}


async def _gql(
    gql, user, name: str, dimensions=(), start=None, end=None, granularity="MONTH", filters=None
) -> list[dict[str, Any]]:
    """Rows as ``{dimension: value, ..., "value", "currency", measure: value}``."""
    body = await gql(
        QUERY,
        {
            "name": name,
            "d": list(dimensions),
            "g": granularity,
            "f": [{"name": k, "value": v} for k, v in (filters or {}).items()],
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
        },
        user=user,
    )
    return [
        {
            **{x["name"]: x["value"] for x in r["dimensions"]},
            "value": Decimal(r["value"]),
            "currency": r["currency"],
            **{
                m["name"]: None if m["value"] is None else Decimal(m["value"])
                for m in r["measures"]
            },
        }
        for r in body["data"]["metric"]["rows"]
    ]


async def _rows(
    user, name: str, dimensions=(), start=None, end=None, granularity="month", filters=None
) -> list:
    _, rows = await reporting.run_metric(
        user.actor,
        name,
        dimensions=tuple(dimensions),
        filters=filters,
        start=start,
        end=end,
        granularity=granularity,
    )
    return rows


def _values(rows, *dims: str) -> dict[tuple, tuple[Decimal, str | None]]:
    return {tuple(r.dimensions[d] for d in dims): (r.value, r.currency) for r in rows}


D = Decimal


# -- pipeline.revenue: channel ----------------------------------------------------------------


async def test_revenue_by_channel_falls_back_to_the_customer_source(shop, gql):
    rows = await _gql(gql, shop["admin"], "pipeline.revenue", ["channel"], JAN, MAR)
    # d1 (no source → A's "referral"), d4 event, d2 (→ B's "website"), d3+d5 web = 800+300,
    # d7 (no source, D has none → ""), d6 web in USD
    assert {(r["channel"], r["currency"]): r["value"] for r in rows} == {
        ("referral", "CNY"): D("1000.00"),
        ("event", "CNY"): D("500.00"),
        ("website", "CNY"): D("200.00"),
        ("web", "CNY"): D("1100.00"),
        ("", "CNY"): D("250.50"),
        ("web", "USD"): D("100.00"),
    }


async def test_revenue_channel_and_period_filter_obey_visibility(shop):
    rows = await _rows(shop["sam"], "pipeline.revenue", ["channel", "period"], JAN, MAR)
    # sam sees C and D only: web Jan 800, web Feb 300 (+100 USD), "" Feb 250.50
    assert {
        (r.dimensions["channel"], r.dimensions["period"], r.currency): r.value for r in rows
    } == {
        ("web", "2025-01", "CNY"): D("800.00"),
        ("web", "2025-02", "CNY"): D("300.00"),
        ("web", "2025-02", "USD"): D("100.00"),
        ("", "2025-02", "CNY"): D("250.50"),
    }
    feb = await _rows(shop["nora"], "pipeline.revenue", ["channel"], filters={"period": "2025-02"})
    assert _values(feb, "channel") == {("event",): (D("500.00"), "CNY")}  # nora: d4 only


# -- pipeline.product_revenue --------------------------------------------------------------------


async def test_product_revenue_by_product_and_month(shop, gql):
    rows = await _gql(
        gql, shop["admin"], "pipeline.product_revenue", ["product", "period"], JAN, MAR
    )
    got = {(r["product"], r["period"], r["currency"]): r["value"] for r in rows}
    assert got == {
        ("", "2025-01", "CNY"): D("200.00"),  # d2 without lines
        ("Licence", "2025-01", "CNY"): D("1200.00"),  # d1 2×300 + d3 2×300
        ("Support", "2025-01", "CNY"): D("400.00"),  # d1 1×400
        ("Training", "2025-01", "CNY"): D("200.00"),  # d3 2×100
        ("", "2025-02", "CNY"): D("250.50"),  # d7 without lines
        ("Licence", "2025-02", "CNY"): D("300.00"),  # d4 1×300
        ("Support", "2025-02", "CNY"): D("300.00"),  # d5 1×300
        ("Training", "2025-02", "CNY"): D("200.00"),  # d4 2×100
        ("Licence", "2025-02", "USD"): D("100.00"),  # d6
    }
    # the lines match the deal amounts here, so the products add up to pipeline.revenue:
    # Jan 200 + 1200 + 400 + 200 = 2000 = 1000 + 200 + 800
    revenue = await _rows(shop["admin"], "pipeline.revenue", ["period"], JAN, MAR)
    for (period,), (value, currency) in _values(revenue, "period").items():
        assert value == sum(v for (_, p, c), v in got.items() if (p, c) == (period, currency))


async def test_product_revenue_visibility(shop):
    rows = await _rows(shop["sam"], "pipeline.product_revenue", ["product"], JAN, MAR)
    # C: d3 Licence 600 + Training 200, d5 Support 300, d6 Licence 100 USD; D: d7 "" 250.50
    assert {(r.dimensions["product"], r.currency): r.value for r in rows} == {
        ("Licence", "CNY"): D("600.00"),
        ("Training", "CNY"): D("200.00"),
        ("Support", "CNY"): D("300.00"),
        ("", "CNY"): D("250.50"),
        ("Licence", "USD"): D("100.00"),
    }
    rows = await _rows(
        shop["nora"],
        "pipeline.product_revenue",
        ["product"],
        JAN,
        MAR,
        filters={"product": "Licence"},
    )
    assert _values(rows, "product") == {("Licence",): (D("900.00"), "CNY")}  # d1 600 + d4 300


# -- pipeline.sales_growth -----------------------------------------------------------------------


async def test_sales_growth_by_month(shop, gql):
    rows = await _gql(gql, shop["admin"], "pipeline.sales_growth", ["period"], JAN, MAR)
    assert [
        (r["period"], r["currency"], r["value"], r["current"], r["previous"]) for r in rows
    ] == [
        # Jan 2000 vs Dec 150: (2000 − 150) ÷ 150 × 100 = 1233.333… → 1233.33
        ("2025-01", "CNY", D("1233.33"), D("2000.00"), D("150.00")),
        # Feb 1050.50 vs Jan 2000: −949.50 ÷ 2000 × 100 = −47.475 → −47.48 (half up)
        ("2025-02", "CNY", D("-47.48"), D("1050.50"), D("2000.00")),
    ]  # no USD before February: growth undefined, the USD group is left out


async def test_sales_growth_of_a_window_by_owner_and_visibility(shop, gql):
    # February against January (whole months: the previous calendar month)
    rows = await _gql(gql, shop["admin"], "pipeline.sales_growth", ["owner"], FEB, MAR)
    assert {(r["owner"], r["currency"]): (r["value"], r["previous"]) for r in rows} == {
        # nora: Feb d4 500 vs Jan d1 + d2 1200: −700 ÷ 1200 × 100 = −58.333… → −58.33
        ("nora", "CNY"): (D("-58.33"), D("1200.00")),
        # sam: Feb d5 + d7 550.50 vs Jan d3 800: −249.50 ÷ 800 × 100 = −31.1875 → −31.19
        ("sam", "CNY"): (D("-31.19"), D("800.00")),
    }
    mine = await _gql(gql, shop["sam"], "pipeline.sales_growth", [], FEB, MAR)
    assert [(r["currency"], r["value"]) for r in mine] == [("CNY", D("-31.19"))]


# -- pipeline.retention_rate / pipeline.churn_rate ------------------------------------------------
# buyers per month: Dec {B}, Jan {A, B, C}, Feb {A, C, D}


async def test_retention_and_churn_by_month(shop, gql):
    rows = await _gql(gql, shop["admin"], "pipeline.retention_rate", ["period"], JAN, MAR)
    assert [(r["period"], r["value"], r["previous_customers"], r["retained"]) for r in rows] == [
        ("2025-01", D("100.00"), 1, 1),  # Dec {B} → B bought again: 1 ÷ 1
        ("2025-02", D("66.67"), 3, 2),  # Jan {A, B, C} → A, C: 2 ÷ 3 = 66.666… → 66.67
    ]
    churn = await _gql(gql, shop["admin"], "pipeline.churn_rate", [], FEB, MAR)
    # the window February against January: lost B, 1 ÷ 3 = 33.33 = 100 − 66.67
    assert [(r["value"], r["lost"]) for r in churn] == [(D("33.33"), 1)]


async def test_retention_by_owner_and_undefined_groups(shop, gql):
    rows = await _gql(gql, shop["admin"], "pipeline.retention_rate", ["owner", "period"], JAN, MAR)
    assert {(r["owner"], r["period"]): (r["value"], r["previous_customers"]) for r in rows} == {
        ("nora", "2025-01"): (D("100.00"), 1),  # Dec {B} → B
        ("nora", "2025-02"): (D("50.00"), 2),  # Jan {A, B} → A
        ("sam", "2025-02"): (D("100.00"), 1),  # Jan {C} → C
    }  # sam in January: nobody bought in December, undefined, left out
    churn = await _rows(shop["admin"], "pipeline.churn_rate", ["tier"], FEB, MAR)
    # January buyers by tier: gold {A, C} both back, silver {B} lost; bronze D is new
    assert {r.dimensions["tier"]: (r.value, r.measures["lost"]) for r in churn} == {
        "gold": (D("0.00"), 0),
        "silver": (D("100.00"), 1),
    }


async def test_retention_and_churn_visibility(shop):
    # sam sees C and D: Jan {C} → Feb {C, D}: retained 1 of 1; nora's B is not counted
    rows = await _rows(shop["sam"], "pipeline.retention_rate", [], FEB, MAR)
    assert [(r.value, r.measures["previous_customers"]) for r in rows] == [(D("100.00"), 1)]
    rows = await _rows(shop["nora"], "pipeline.churn_rate", ["owner"], FEB, MAR)
    assert [(r.dimensions["owner"], r.value) for r in rows] == [("nora", D("50.00"))]


# -- pipeline.repurchase_rate --------------------------------------------------------------------


async def test_repurchase_rate_by_month_and_tier(shop, gql):
    rows = await _gql(gql, shop["admin"], "pipeline.repurchase_rate", ["period"], JAN, MAR)
    assert [(r["period"], r["value"], r["buyers"], r["repeat_buyers"]) for r in rows] == [
        ("2025-01", D("0.00"), 3, 0),  # A, B, C one deal each
        ("2025-02", D("33.33"), 3, 1),  # A 1, C 2 (d5 + d6 in USD), D 1: 1 ÷ 3
    ]
    rows = await _gql(gql, shop["admin"], "pipeline.repurchase_rate", ["tier"], JAN, MAR)
    # Jan–Feb: gold A (d1, d4) and C (d3, d5, d6) both repeat; silver B once (d0 is in
    # December); bronze D once
    assert {r["tier"]: (r["value"], r["buyers"]) for r in rows} == {
        "gold": (D("100.00"), 2),
        "silver": (D("0.00"), 1),
        "bronze": (D("0.00"), 1),
    }


async def test_repurchase_rate_visibility(shop):
    rows = await _rows(shop["nora"], "pipeline.repurchase_rate", [], JAN, MAR)
    assert [(r.value, r.measures["buyers"]) for r in rows] == [(D("50.00"), 2)]  # A of A, B
    rows = await _rows(shop["sam"], "pipeline.repurchase_rate", ["owner"], JAN, MAR)
    assert [(r.dimensions["owner"], r.value) for r in rows] == [("sam", D("50.00"))]  # C of C, D


# -- pipeline.customer_lifetime_value ------------------------------------------------------------


async def test_customer_lifetime_value(shop, gql):
    rows = await _gql(gql, shop["admin"], "pipeline.customer_lifetime_value", [], end=MAR)
    assert [
        (
            r["currency"],
            r["value"],
            r["customers"],
            r["deals"],
            r["average_deal"],
            r["purchase_frequency"],
        )
        for r in rows
    ] == [
        # 150 + 1000 + 200 + 800 + 500 + 300 + 250.50 = 3200.50 over A, B, C, D:
        # 3200.50 ÷ 4 = 800.125 → 800.13; ÷ 7 deals = 457.214… → 457.21; 7 ÷ 4 = 1.75
        ("CNY", D("800.13"), 4, 7, D("457.21"), D("1.75")),
        ("USD", D("100.00"), 1, 1, D("100.00"), D("1.00")),
    ]
    rows = await _gql(gql, shop["admin"], "pipeline.customer_lifetime_value", ["region"], end=FEB)
    # before February: East A 1000; North B 150 + 200; South C 800
    assert {(r["region"], r["currency"]): r["value"] for r in rows} == {
        ("East", "CNY"): D("1000.00"),
        ("North", "CNY"): D("350.00"),
        ("South", "CNY"): D("800.00"),
    }


async def test_customer_lifetime_value_by_channel_and_visibility(shop):
    rows = await _rows(
        shop["admin"],
        "pipeline.customer_lifetime_value",
        ["channel"],
        end=MAR,
        filters={"currency": "CNY"},
    )
    # website: B's d0 + d2 = 350 over one customer (2 deals)
    assert _values(rows, "channel") == {
        ("",): (D("250.50"), "CNY"),
        ("event",): (D("500.00"), "CNY"),
        ("referral",): (D("1000.00"), "CNY"),
        ("web",): (D("1100.00"), "CNY"),
        ("website",): (D("350.00"), "CNY"),
    }
    rows = await _rows(shop["nora"], "pipeline.customer_lifetime_value", ["owner"], end=MAR)
    # nora: A 1500 + B 350 = 1850 ÷ 2 = 925
    assert _values(rows, "owner") == {("nora",): (D("925.00"), "CNY")}


# -- windows and periods -------------------------------------------------------------------------


def test_period_index_and_labels_round_trip():
    moment = datetime(2025, 11, 30, 23, 59, tzinfo=UTC)
    for granularity, label in (
        ("day", "2025-11-30"),
        ("month", "2025-11"),
        ("quarter", "2025-Q4"),
        ("year", "2025"),
    ):
        index = rm.period_index(moment, granularity)
        assert rm.period_label(index, granularity) == label
        assert rm.period_index(rm.period_start(index + 1, granularity), granularity) == index + 1
    assert rm.period_label(rm.period_index(moment, "quarter") + 1, "quarter") == "2026-Q1"


async def test_day_quarter_and_year_periods(shop):
    admin = shop["admin"]
    rows = await _rows(
        admin,
        "pipeline.retention_rate",
        ["period"],
        datetime(2024, 10, 1, tzinfo=UTC),
        MAR,
        "quarter",
    )
    # 2024-Q4 {B} (nobody in Q3: left out); 2025-Q1 {A, B, C, D} with B back: 1 ÷ 1
    assert [(r.dimensions["period"], r.value) for r in rows] == [("2025-Q1", D("100.00"))]
    rows = await _rows(admin, "pipeline.sales_growth", ["period"], JAN, MAR, "year")
    # 2025 (Jan–Feb) 2000 + 1050.50 = 3050.50 vs 2024 150: 2900.50 ÷ 150 × 100 = 1933.666…
    assert [(r.dimensions["period"], r.currency, r.value) for r in rows] == [
        ("2025", "CNY", D("1933.67"))
    ]
    rows = await _rows(
        admin,
        "pipeline.sales_growth",
        ["period"],
        FEB,
        datetime(2025, 2, 5, tzinfo=UTC),
        "day",
        {"currency": "CNY"},
    )
    # d5 300 on Feb 3 (nothing the day before: left out), nothing on Feb 4: −100 %
    assert [(r.dimensions["period"], r.value, r.measures["current"]) for r in rows] == [
        ("2025-02-04", D("-100.00"), D("0.00"))
    ]
    rows = await _rows(admin, "pipeline.repurchase_rate", ["period"], FEB, MAR, "day")
    assert [(r.dimensions["period"], r.measures["buyers"]) for r in rows] == [
        ("2025-02-03", 1),
        ("2025-02-10", 1),
        ("2025-02-15", 1),
        ("2025-02-25", 1),
    ]


def test_default_window_is_the_last_12_months():
    system = system_actor()
    w = rm.window(MetricQuery(system))
    months = [m.year * 12 + m.month for m in (w.previous, w.start, w.end)]
    assert w.end.day == 1 and months[2] - months[1] == months[1] - months[0] == 12
    assert w.start <= datetime.now(UTC) < w.end
    # with periods, from moves back to its period's start; the one before is compared too
    quarters = rm.window(
        MetricQuery(
            system,
            ("period",),
            start=datetime(2025, 2, 10, tzinfo=UTC),
            end=MAR,
            granularity="quarter",
        )
    )
    assert (quarters.previous, quarters.start) == (datetime(2024, 10, 1, tzinfo=UTC), JAN)
    # a window not made of whole months is compared with the same duration before it
    days = rm.window(
        MetricQuery(
            system, start=datetime(2025, 1, 11, tzinfo=UTC), end=datetime(2025, 1, 21, tzinfo=UTC)
        )
    )
    assert days.previous == datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationFailed):  # from after the default to
        rm.window(MetricQuery(system, start=datetime(2999, 1, 1, tzinfo=UTC)))


# -- invariants ----------------------------------------------------------------------------------

DEALS = st.lists(
    st.tuples(
        st.integers(0, 3),  # customer
        st.integers(0, 5),  # month of 2025 (0 = January)
        st.integers(1, 10**9),  # amount in minor units
        st.sampled_from(["CNY", "USD"]),
        st.lists(st.sampled_from(["P1", "P2", "P3"]), max_size=3),  # products of the lines
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(deals=DEALS)
async def test_grouped_figures_add_up(kehu, deals):
    """Per-product revenue sums to the revenue when lines split each amount exactly; per-region
    and per-period revenue sum to the total; retention + churn = 100 for every group."""
    await truncate_all(kehu)
    system = system_actor()
    rep = await users.create_user(system, {"username": "rep", "role": "sales"})
    flow = await services.create_pipeline(system, "P", template="online")
    people = [
        await customers.create_customer(
            system, {"name": f"C{i}", "owner": rep["id"], "region": "East" if i % 2 else "West"}
        )
        for i in range(4)
    ]
    for customer, month, minor, currency, products in deals:
        parts = Money(minor, currency).allocate([1] * len(products)) if products else []
        amount = str(Money(minor, currency).amount)
        await _won(
            flow,
            people[customer],
            amount,
            datetime(2025, month + 1, 9, tzinfo=UTC),
            currency,
            lines=tuple((p, 1, str(m.amount)) for p, m in zip(products, parts, strict=True)),
        )
    admin = users.actor_for(await users.create_user(system, {"username": "a", "role": "admin"}))
    span = {"start": JAN, "end": datetime(2025, 7, 1, tzinfo=UTC)}

    async def total(name: str, *dims: str) -> dict[str, Decimal]:
        _, rows = await reporting.run_metric(admin, name, dimensions=dims, **span)
        out: dict[str, Decimal] = {}
        for row in rows:
            out[row.currency] = out.get(row.currency, Decimal(0)) + row.value
        return out

    revenue = await total("pipeline.revenue")
    assert revenue == await total("pipeline.product_revenue", "product")
    assert revenue == await total("pipeline.revenue", "region", "period")
    assert sum(revenue.values()) == sum(Decimal(m) for *_, m, _, _ in deals) / 100
    retention = await reporting.run_metric(
        admin, "pipeline.retention_rate", dimensions=("region", "period"), **span
    )
    churn = await reporting.run_metric(
        admin, "pipeline.churn_rate", dimensions=("region", "period"), **span
    )
    for kept, lost in zip(retention[1], churn[1], strict=True):
        assert kept.dimensions == lost.dimensions and kept.value + lost.value == 100
        assert (
            lost.measures["lost"] + kept.measures["retained"]
            == kept.measures["previous_customers"]
            > 0
        )
