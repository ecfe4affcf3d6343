"""The contracts and receivables metrics in the reporting plugin's registry: hand-computed
values on a small ledger (the arithmetic in comments), grouping by owner, team, region,
product, currency and period, visibility (a rep of another team sees only their own numbers),
and GraphQL."""

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from kehu.core.money import Money
from kehu.plugins.contracts import services as r
from kehu.plugins.contracts.tables import Contract
from kehu.plugins.reporting import services
from kehu.plugins.reporting.services import registry as reporting

from .conftest import cny


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


JUNE = (at(2026, 6, 1), at(2026, 7, 1))  # as of 2026-06-30 for the snapshot metrics
QUERY = """query($name: String!, $dims: [String!], $filters: [MetricFilterInput!],
                 $start: DateTime, $end: DateTime, $g: Granularity! = MONTH) {
  metric(name: $name, dimensions: $dims, filters: $filters, from: $start, to: $end,
         granularity: $g) {
    rows { dimensions { name value } value currency measures { name value } } } }"""
NAMES = {
    "contracts.aging",
    "contracts.collected_amount",
    "contracts.collection_rate",
    "contracts.dso",
    "contracts.open_receivables",
    "contracts.overdue_amount",
    "contracts.renewal_rate",
    "contracts.signed_amount",
    "contracts.signing_rate",
}


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core", "contracts", "reporting"]


def flat(rows: list[Any]) -> list[dict[str, str]]:
    """Service rows (``MetricRow``) or GraphQL rows as flat dicts of strings."""
    out = []
    for row in rows:
        if isinstance(row, dict):
            dims = {d["name"]: d["value"] for d in row["dimensions"]}
            value, currency = row["value"], row["currency"]
            measures = {m["name"]: m["value"] for m in row["measures"]}
        else:
            dims, value, currency = row.dimensions, str(row.value), row.currency
            measures = {k: None if v is None else str(v) for k, v in row.measures.items()}
        out.append(
            {**dims, "value": value, **({"currency": currency} if currency else {}), **measures}
        )
    return out


async def run(
    actor: Any,
    name: str,
    *dims: str,
    period: tuple[datetime, datetime] | None = JUNE,
    granularity: str = "month",
    **filters: str,
) -> list[dict[str, str]]:
    start, end = period or (None, None)
    _, rows = await services.run_metric(
        actor,
        name,
        dimensions=dims,
        filters=filters,
        start=start,
        end=end,
        granularity=granularity,
    )
    return flat(rows)


async def graphql(
    gql: Any,
    user: Any,
    name: str,
    *dims: str,
    period: tuple[datetime, datetime] = JUNE,
    granularity: str = "MONTH",
    **filters: str,
) -> list[dict[str, str]]:
    variables = {
        "name": name,
        "dims": list(dims),
        "filters": [{"name": k, "value": v} for k, v in filters.items()],
        "start": period[0].isoformat(),
        "end": period[1].isoformat(),
        "g": granularity,
    }
    body = await gql(QUERY, variables, user=user)
    return flat(body["data"]["metric"]["rows"])


def line(product: str, amount: str, currency: str = "CNY") -> dict[str, Any]:
    return {
        "product": product,
        "specification": "Std",
        "quantity": 1,
        "unit_price": Money.from_decimal(amount, currency),
    }


@pytest.fixture
async def ledger(kehu, system, make_user, make_customer, make_contract) -> SimpleNamespace:
    """ana (North) owns ACME (East) and BETA (North); bo (South) owns GAMMA (South).

    K1 ACME  signed 06-05  Licence 1000 + Service 500 = 1500 CNY: 600 due 06-10 (paid 06-12),
             400 due 06-25 (100 paid 07-05), 500 due 07-20; invoiced 1500 on 06-05
    K2 BETA  signed 03-01  Licence 2000 CNY: 1000 due 04-15 (700 paid 04-20), 1000 due 06-20
             (250 paid 06-22, credit note 50 on 06-25); invoiced 1000 on 04-10, 1000 on 06-18
    K3 GAMMA signed 06-12  Licence 800 CNY: 800 due 06-15 (200 paid 06-16); invoiced 06-12
    K4 ACME  signed 06-20  Service 300 USD: 300 due 06-28 (100 paid 06-29)
    K5 BETA  submitted 06-25, not signed
    """
    ana = await make_user("sales", team="North", username="ana")
    bo = await make_user("sales", team="South", username="bo")
    acme = await make_customer("ACME", owner=ana, region="East", industry="software", tier="gold")
    beta = await make_customer("BETA", owner=ana, region="North", industry="retail", tier="silver")
    gamma = await make_customer("GAMMA", owner=bo, region="South", industry="software", tier="gold")

    async def contract(customer, owner, signed_on, lines, currency="CNY", state="signed"):
        return await make_contract(
            customer,
            state,
            signed_on=signed_on,
            actor=owner.actor,
            lines=lines,
            currency=currency,
            payment_terms="100",
            start_date=signed_on,
        )

    async def schedule(row, *items):
        rows = await r.set_schedule(
            system,
            row["id"],
            [(due, Money.from_decimal(amount, row["currency"])) for due, amount in items],
        )
        return {i["due_date"]: i for i in rows}

    async def pay(customer, inst, amount, on):
        money = Money.from_decimal(amount, inst["currency"])
        await r.record_payment(
            system, customer["id"], money, received_on=on, allocations=[(inst["id"], money)]
        )

    k1 = await contract(
        acme, ana, date(2026, 6, 5), [line("Licence", "1000"), line("Service", "500")]
    )
    i1 = await schedule(
        k1, (date(2026, 6, 10), "600"), (date(2026, 6, 25), "400"), (date(2026, 7, 20), "500")
    )
    k2 = await contract(beta, ana, date(2026, 3, 1), [line("Licence", "2000")])
    i2 = await schedule(k2, (date(2026, 4, 15), "1000"), (date(2026, 6, 20), "1000"))
    k3 = await contract(gamma, bo, date(2026, 6, 12), [line("Licence", "800")])
    i3 = await schedule(k3, (date(2026, 6, 15), "800"))
    k4 = await contract(acme, ana, date(2026, 6, 20), [line("Service", "300", "USD")], "USD")
    i4 = await schedule(k4, (date(2026, 6, 28), "300"))
    k5 = await contract(beta, ana, None, [line("Licence", "50")], state="pending_approval")

    await pay(acme, i1[date(2026, 6, 10)], "600", date(2026, 6, 12))
    await pay(acme, i1[date(2026, 6, 25)], "100", date(2026, 7, 5))
    await pay(beta, i2[date(2026, 4, 15)], "700", date(2026, 4, 20))
    await pay(beta, i2[date(2026, 6, 20)], "250", date(2026, 6, 22))
    await pay(gamma, i3[date(2026, 6, 15)], "200", date(2026, 6, 16))
    await pay(acme, i4[date(2026, 6, 28)], "100", date(2026, 6, 29))
    await r.issue_credit_note(
        system, i2[date(2026, 6, 20)]["id"], cny("50"), "Discount", issued_on=date(2026, 6, 25)
    )
    for row, amount, on in (
        (k1, "1500", date(2026, 6, 5)),
        (k2, "1000", date(2026, 4, 10)),
        (k2, "1000", date(2026, 6, 18)),
        (k3, "800", date(2026, 6, 12)),
    ):
        await r.issue_invoice(system, row["id"], amount=cny(amount), issued_on=on)
    for row, submitted in (
        (k1, at(2026, 5, 28)),
        (k2, at(2026, 2, 20)),
        (k3, at(2026, 6, 8)),
        (k4, at(2026, 6, 15)),
        (k5, at(2026, 6, 25)),
    ):
        await Contract.update({Contract.submitted_at: submitted}).where(Contract.id == row["id"])
    return SimpleNamespace(ana=ana, bo=bo, admin=await make_user("admin"))


async def test_registered_with_their_dimensions(kehu):
    found = {n: m for n, m in reporting.registry(kehu).items() if n.startswith("contracts.")}
    assert set(found) == NAMES
    assert found["contracts.aging"].dimensions[0] == "bucket"
    assert {"product", "period", "currency"} <= set(found["contracts.signed_amount"].dimensions)
    assert "currency" not in found["contracts.renewal_rate"].dimensions  # a count ratio
    assert {m.unit for m in found.values()} == {"money", "percent", "days"}
    assert not found["contracts.aging"].time_based and found["contracts.dso"].time_based


async def test_aging_by_bucket_owner_and_currency(ledger, gql):
    # open as of 06-30: K1 400 due 06-25 (1-30; the 07-05 payment comes later) + 500 due 07-20
    # (current); K2 1000 − 700 = 300 due 04-15 (76 days: 61-90) + 1000 − 250 − 50 = 700 due
    # 06-20 (1-30); K3 800 − 200 = 600 due 06-15 (1-30); K4 300 − 100 = 200 USD due 06-28.
    # CNY: current 500, 1-30 400 + 700 + 600 = 1700, 61-90 300 (= 2500 open)
    assert await run(ledger.admin.actor, "contracts.aging") == [
        {"bucket": "current", "value": "500.00", "currency": "CNY"},
        {"bucket": "1-30", "value": "1700.00", "currency": "CNY"},
        {"bucket": "31-60", "value": "0.00", "currency": "CNY"},
        {"bucket": "61-90", "value": "300.00", "currency": "CNY"},
        {"bucket": "90+", "value": "0.00", "currency": "CNY"},
        {"bucket": "current", "value": "0.00", "currency": "USD"},
        {"bucket": "1-30", "value": "200.00", "currency": "USD"},
        {"bucket": "31-60", "value": "0.00", "currency": "USD"},
        {"bucket": "61-90", "value": "0.00", "currency": "USD"},
        {"bucket": "90+", "value": "0.00", "currency": "USD"},
    ]
    # by owner over GraphQL, only the overdue buckets with something in them:
    # ana CNY 1-30 400 + 700 = 1100, 61-90 300; ana USD 1-30 200; bo CNY 1-30 600
    rows = await graphql(gql, ledger.admin, "contracts.aging", "owner", "currency")
    assert [x for x in rows if x["value"] != "0.00" and x["bucket"] != "current"] == [
        {"bucket": "1-30", "owner": "ana", "currency": "CNY", "value": "1100.00"},
        {"bucket": "61-90", "owner": "ana", "currency": "CNY", "value": "300.00"},
        {"bucket": "1-30", "owner": "ana", "currency": "USD", "value": "200.00"},
        {"bucket": "1-30", "owner": "bo", "currency": "CNY", "value": "600.00"},
    ]
    assert len(rows) == 3 * 5  # every bucket of each (owner, currency) group
    one = await run(ledger.admin.actor, "contracts.aging", "region", bucket="1-30", currency="CNY")
    assert one == [  # East: K1 400; North: K2 700; South: K3 600
        {"bucket": "1-30", "region": "East", "value": "400.00", "currency": "CNY"},
        {"bucket": "1-30", "region": "North", "value": "700.00", "currency": "CNY"},
        {"bucket": "1-30", "region": "South", "value": "600.00", "currency": "CNY"},
    ]


async def test_open_and_overdue_receivables_as_of_the_period_end(ledger, gql):
    admin = ledger.admin
    # ana CNY: K1 400 + 500 + K2 300 + 700 = 1900; ana USD 200; bo CNY 600
    assert await graphql(gql, admin, "contracts.open_receivables", "owner") == [
        {"owner": "ana", "value": "1900.00", "currency": "CNY"},
        {"owner": "ana", "value": "200.00", "currency": "USD"},
        {"owner": "bo", "value": "600.00", "currency": "CNY"},
    ]
    # as of 07-05 the 100 paid on K1's second installment counts: 2500 − 100 = 2400 CNY
    later = (at(2026, 7, 1), at(2026, 7, 6))
    assert (await run(admin.actor, "contracts.open_receivables", period=later))[0] == {
        "value": "2400.00",
        "currency": "CNY",
    }
    # overdue = due before 06-30: East K1 400 (the 500 due 07-20 is current) and USD 200;
    # North K2 300 + 700 = 1000; South K3 600
    assert await graphql(gql, admin, "contracts.overdue_amount", "region", "tier") == [
        {"region": "East", "tier": "gold", "value": "400.00", "currency": "CNY"},
        {"region": "East", "tier": "gold", "value": "200.00", "currency": "USD"},
        {"region": "North", "tier": "silver", "value": "1000.00", "currency": "CNY"},
        {"region": "South", "tier": "gold", "value": "600.00", "currency": "CNY"},
    ]
    assert await run(admin.actor, "contracts.overdue_amount", "team", currency="CNY") == [
        {"team": "North", "value": "1400.00", "currency": "CNY"},  # 400 + 1000
        {"team": "South", "value": "600.00", "currency": "CNY"},
    ]


async def test_collection_rate_by_owner_and_period(ledger, gql):
    # due in June: ana CNY K1 600 + 400 + K2 1000 = 2000, collected by 06-30 600 + 0 + 250 =
    # 850 → 42.50%; ana USD 300, 100 → 33.33%; bo CNY 800, 200 → 25.00%
    assert await graphql(gql, ledger.admin, "contracts.collection_rate", "owner") == [
        {
            "owner": "ana",
            "value": "42.50",
            "currency": "CNY",
            "due": "2000.00",
            "collected": "850.00",
        },
        {
            "owner": "ana",
            "value": "33.33",
            "currency": "USD",
            "due": "300.00",
            "collected": "100.00",
        },
        {
            "owner": "bo",
            "value": "25.00",
            "currency": "CNY",
            "due": "800.00",
            "collected": "200.00",
        },
    ]
    # April–June by month of the due date: April K2 1000 due, 700 collected → 70.00%;
    # June CNY 2000 + 800 = 2800 due, 850 + 200 = 1050 collected → 37.50%
    spring = (at(2026, 4, 1), at(2026, 7, 1))
    rows = await run(ledger.admin.actor, "contracts.collection_rate", "period", period=spring)
    assert [(x["period"], x["currency"], x["value"]) for x in rows] == [
        ("2026-04", "CNY", "70.00"),
        ("2026-06", "CNY", "37.50"),
        ("2026-06", "USD", "33.33"),
    ]


async def test_dso_by_team(ledger, gql):
    # June: invoiced 1500 + 1000 + 800 = 3300 CNY; open at 06-30 2500 CNY; 30 days
    # DSO = 2500 × 30 / 3300 = 22.727… → 22.73 (USD: nothing invoiced, no DSO, no row)
    assert await run(ledger.admin.actor, "contracts.dso") == [
        {
            "value": "22.73",
            "currency": "CNY",
            "open": "2500.00",
            "invoiced": "3300.00",
            "days": "30",
        }
    ]
    # North (ana): 1900 × 30 / (1500 + 1000) = 22.80; South (bo): 600 × 30 / 800 = 22.50
    rows = await graphql(gql, ledger.admin, "contracts.dso", "team")
    assert [(x["team"], x["value"]) for x in rows] == [("North", "22.80"), ("South", "22.50")]


async def test_collected_amount_by_owner_and_period(ledger, gql):
    # June allocations: ana CNY 600 (06-12) + 250 (06-22) = 850 in 2 payments, USD 100; bo 200
    assert await graphql(gql, ledger.admin, "contracts.collected_amount", "owner") == [
        {"owner": "ana", "value": "850.00", "currency": "CNY", "payments": "2"},
        {"owner": "ana", "value": "100.00", "currency": "USD", "payments": "1"},
        {"owner": "bo", "value": "200.00", "currency": "CNY", "payments": "1"},
    ]
    # April–July by month: April 700; June 850 + 200 = 1050 CNY and 100 USD; July 100
    spring = (at(2026, 4, 1), at(2026, 8, 1))
    rows = await run(ledger.admin.actor, "contracts.collected_amount", "period", period=spring)
    assert [(x["period"], x["currency"], x["value"]) for x in rows] == [
        ("2026-04", "CNY", "700.00"),
        ("2026-06", "CNY", "1050.00"),
        ("2026-06", "USD", "100.00"),
        ("2026-07", "CNY", "100.00"),
    ]
    days = await run(
        ledger.admin.actor, "contracts.collected_amount", "period", granularity="day", region="East"
    )
    assert [(x["period"], x["value"]) for x in days] == [
        ("2026-06-12", "600.00"),
        ("2026-06-29", "100.00"),
    ]


async def test_signed_amount_by_product_and_quarter(ledger, gql):
    # signed in June: K1 1500 and K3 800 CNY, K4 300 USD (K5 is not signed)
    assert await run(ledger.admin.actor, "contracts.signed_amount") == [
        {"value": "2300.00", "currency": "CNY", "contracts": "2"},
        {"value": "300.00", "currency": "USD", "contracts": "1"},
    ]
    # by product, from the lines: Licence K1 1000 + K3 800 = 1800 CNY; Service K1 500 CNY and
    # K4 300 USD
    assert await graphql(gql, ledger.admin, "contracts.signed_amount", "product") == [
        {"product": "Licence", "value": "1800.00", "currency": "CNY", "contracts": "2"},
        {"product": "Service", "value": "500.00", "currency": "CNY", "contracts": "1"},
        {"product": "Service", "value": "300.00", "currency": "USD", "contracts": "1"},
    ]
    # the first half by quarter: Q1 K2 2000; Q2 1500 + 800 = 2300 CNY, 300 USD
    half = (at(2026, 1, 1), at(2026, 7, 1))
    rows = await run(
        ledger.admin.actor, "contracts.signed_amount", "period", period=half, granularity="quarter"
    )
    assert [(x["period"], x["currency"], x["value"]) for x in rows] == [
        ("2026-Q1", "CNY", "2000.00"),
        ("2026-Q2", "CNY", "2300.00"),
        ("2026-Q2", "USD", "300.00"),
    ]
    licence = await run(ledger.admin.actor, "contracts.signed_amount", "owner", product="Licence")
    assert [(x["owner"], x["value"]) for x in licence] == [("ana", "1000.00"), ("bo", "800.00")]


async def test_signing_rate_by_owner(ledger, gql):
    # submitted in June: K3 (bo, signed), K4 (ana, signed), K5 (ana, not signed); K1 was
    # submitted in May. All: 2 / 3 = 66.67%; ana 1 / 2 = 50.00%; bo 1 / 1 = 100.00%
    assert await run(ledger.admin.actor, "contracts.signing_rate") == [
        {"value": "66.67", "submitted": "3", "signed": "2"}
    ]
    assert await graphql(gql, ledger.admin, "contracts.signing_rate", "owner", "period") == [
        {"owner": "ana", "period": "2026-06", "value": "50.00", "submitted": "2", "signed": "1"},
        {"owner": "bo", "period": "2026-06", "value": "100.00", "submitted": "1", "signed": "1"},
    ]


async def test_a_rep_of_another_team_sees_only_their_own_numbers(ledger, make_user):
    """bo (South) sees GAMMA's K3 only; ana's ACME and BETA never count for bo."""
    bo = ledger.bo.actor
    expected = {
        "contracts.aging": ("1-30", "600.00"),
        "contracts.open_receivables": "600.00",
        "contracts.overdue_amount": "600.00",
        "contracts.collection_rate": "25.00",  # 200 / 800
        "contracts.dso": "22.50",  # 600 × 30 / 800
        "contracts.collected_amount": "200.00",
        "contracts.signed_amount": "800.00",
        "contracts.signing_rate": "100.00",
    }
    for name, value in expected.items():
        rows = await run(bo, name, "owner", "region")
        if name == "contracts.aging":
            rows = [x for x in rows if x["value"] != "0.00"]
            value = value[1]
        assert [(x["owner"], x["region"], x["value"]) for x in rows] == [("bo", "South", value)], (
            name
        )
        assert await run(bo, name, owner="ana") == [], name  # filtering does not reveal
    # a manager sees the team: North = ana's
    lead = (await make_user("manager", team="North")).actor
    assert await run(lead, "contracts.open_receivables", "team") == [
        {"team": "North", "value": "1900.00", "currency": "CNY"},
        {"team": "North", "value": "200.00", "currency": "USD"},
    ]


async def test_service_functions_keep_their_figures(ledger, system):
    """The ungrouped service functions behind ``receivablesMetrics`` agree with the metrics."""
    june = (date(2026, 6, 1), date(2026, 6, 30))
    rate = await r.collection_rate(system, *june)
    assert (rate.due, rate.collected, str(rate.rate)) == (cny("2800"), cny("1050"), "0.3750")
    assert await r.dso(system, *june) == Decimal("22.7")
    assert await r.open_amount(system, june[1]) == cny("2500")
    assert await r.overdue_amount(system, june[1], "USD") == Money.from_decimal("200", "USD")
    signing = await r.signing_rate(system, *june)
    assert (signing.submitted, signing.signed) == (3, 2)
