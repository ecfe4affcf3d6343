"""Pipeline metrics in the reporting registry, including the textbooks' worked funnel:
1000 → 800 → 600 → 450 → 350 → 250 → 150 → 130 (conversions 80%, 75%, 75%, 77.8%, 71.4%,
60%, 86.7%)."""

from decimal import Decimal

import pytest

from kehu.core.db import bulk_insert, write_transaction
from kehu.core.services import customers
from kehu.plugins.pipeline import services
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.templates import StageSpec

REACHED = [1000, 800, 600, 450, 350, 250, 150, 130]
NAMES = ["Leads", "Contacted", "Needs", "Proposal", "Negotiation", "Contract", "Closing", "Won"]


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["pipeline", "reporting"]


async def _textbook_funnel(system, owner) -> dict:
    """A non-linear pipeline whose deals stopped at each stage as in the textbook table."""
    specs = [StageSpec(n, 10 * (i + 1)) for i, n in enumerate(NAMES[:-1])]
    specs += [
        StageSpec("Won", 100, "closed", is_closed=True, is_won=True),
        StageSpec("Lost", 0, "omitted", is_closed=True),
    ]
    pipeline = await services.create_pipeline(
        system, "Textbook", stages=specs, transition_policy="non_linear"
    )
    stages = (await services.stages_by_pipeline([pipeline["id"]]))[pipeline["id"]]
    stage_ids = [s["id"] for s in stages][: len(NAMES)]
    customer = await customers.create_customer(system, {"name": "Funnel Co", "owner": owner.id})
    # how far each deal got: REACHED[k] deals reached stage k
    last = [
        k
        for k in range(len(NAMES))
        for _ in range(REACHED[k] - (REACHED[k + 1] if k + 1 < len(NAMES) else 0))
    ]
    async with write_transaction():
        opps = await bulk_insert(
            t.Opportunity,
            [
                {
                    "name": f"Deal {i}",
                    "customer": customer["id"],
                    "pipeline": pipeline["id"],
                    "stage": stage_ids[k],
                    "owner": owner.id,
                    "status": "won" if k == len(NAMES) - 1 else "open",
                }
                for i, k in enumerate(last)
            ],
        )
        await bulk_insert(
            t.StageChange,
            [
                {
                    "opportunity": opp["id"],
                    "to_stage": stage_ids[j],
                    "from_stage": stage_ids[j - 1] if j else None,
                }
                for opp, k in zip(opps, last, strict=True)
                for j in range(k + 1)
            ],
        )
    return pipeline


async def test_textbook_funnel_conversions(kehu, system, make_user):
    rep = await make_user("sales")
    pipeline = await _textbook_funnel(system, rep)
    funnel = await services.funnel(system, pipeline["id"])
    assert [s.reached for s in funnel] == REACHED
    percent = [(s.conversion * 100).quantize(Decimal("0.1")) for s in funnel[:-1]]
    assert percent == [Decimal(p) for p in ("80.0", "75.0", "75.0", "77.8", "71.4", "60.0", "86.7")]


async def test_textbook_funnel_metric_measures(kehu, system, make_user, gql):
    """The metric's conversion is this stage's reached ÷ the previous stage's, in percent
    (800/1000 = 80, 600/800 = 75, 450/600 = 75, 350/450 = 77.78, 250/350 = 71.43,
    150/250 = 60, 130/150 = 86.67); current = the deals still open in the stage (those that
    stopped there: 1000 − 800 = 200, ...; none in the won stage)."""
    rep = await make_user("sales")
    await _textbook_funnel(system, rep)
    body = await gql(
        """{ metric(name: "pipeline.funnel", dimensions: ["stage"],
        filters: [{name: "pipeline", value: "Textbook"}]) {
        rows { value measures { name value } } } }""",
        user=rep,
    )
    rows = [{m["name"]: m["value"] for m in r["measures"]} for r in body["data"]["metric"]["rows"]]
    assert [r["conversion"] for r in rows] == [
        None,
        "80.00",
        "75.00",
        "75.00",
        "77.78",
        "71.43",
        "60.00",
        "86.67",
    ]
    assert [int(Decimal(r["current"])) for r in rows] == [200, 200, 150, 100, 100, 100, 20, 0]


async def test_funnel_metric_chart_and_visibility(kehu, system, make_user, gql, kehu_client):
    rep, other = await make_user("sales"), await make_user("sales")
    pipeline = await _textbook_funnel(system, rep)
    query = """query($f: [MetricFilterInput!]) { metric(name: "pipeline.funnel",
        dimensions: ["stage"], filters: $f) { rows { dimensions { value } value } } }"""
    filters = [{"name": "pipeline", "value": "Textbook"}]
    body = await gql(query, {"f": filters}, user=rep)
    rows = body["data"]["metric"]["rows"]
    assert [int(Decimal(r["value"])) for r in rows] == REACHED
    assert [r["dimensions"][0]["value"] for r in rows] == NAMES
    # another rep sees none of these deals
    body = await gql(query, {"f": filters}, user=other)
    assert {Decimal(r["value"]) for r in body["data"]["metric"]["rows"]} == {0}
    svg = await kehu_client.get(
        "/reports/pipeline.funnel",
        params={"dimensions": "stage", "filter": f"pipeline={pipeline['id']}", "format": "svg"},
        headers={"Authorization": f"Bearer {rep.key}"},
    )
    assert svg.status_code == 200
    for label in (
        "Contacted: 800 (80.0%)",
        "Proposal: 450 (75.0%)",
        "Negotiation: 350 (77.8%)",
        "Contract: 250 (71.4%)",
        "Closing: 150 (60.0%)",
        "Won: 130 (86.7%)",
    ):
        assert label in svg.text


async def test_win_rate_and_unknown_pipeline(kehu, system, make_user, gql):
    rep = await make_user("sales")
    customer = await customers.create_customer(system, {"name": "ACME", "owner": rep.id})
    flow = await services.create_pipeline(system, "Web", template="online")
    from kehu.core.money import Money

    deals = [
        await services.create_opportunity(
            system,
            {
                "name": f"D{i}",
                "customer": customer["id"],
                "pipeline": flow["id"],
                "amount": Money(1000, "CNY"),
                "owner": rep.id,
            },
        )
        for i in range(4)
    ]
    await services.win_opportunity(system, deals[0]["id"])
    for deal in deals[1:4]:
        await services.lose_opportunity(system, deal["id"], "price")
    body = await gql('{ metric(name: "pipeline.win_rate") { rows { value } } }', user=rep)
    assert Decimal(body["data"]["metric"]["rows"][0]["value"]) == Decimal("25.00")
    body = await gql(
        """{ metric(name: "pipeline.funnel", filters: [{name: "pipeline",
        value: "Nope"}]) { rows { value } } }""",
        user=rep,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_won_revenue_by_owner_and_currency(kehu, system, make_user, gql):
    from kehu.core.money import Money

    north, south = await make_user("sales", team="North"), await make_user("sales", team="South")
    flow = await services.create_pipeline(system, "Web", template="online")
    specs = [
        (north, 1_000_00, "CNY", True),
        (north, 250_50, "CNY", True),
        (north, 99_99, "USD", True),
        (south, 500_00, "CNY", True),
        (south, 700_00, "CNY", False),
    ]  # the last one stays open
    for i, (rep, minor, currency, win) in enumerate(specs):
        customer = await customers.create_customer(system, {"name": f"C{i}", "owner": rep.id})
        deal = await services.create_opportunity(
            system,
            {
                "name": f"D{i}",
                "customer": customer["id"],
                "pipeline": flow["id"],
                "amount": Money(minor, currency),
                "owner": rep.id,
            },
        )
        if win:
            await services.win_opportunity(system, deal["id"])
    query = """query($d: [String!]) { metric(name: "pipeline.revenue", dimensions: $d) {
        rows { dimensions { name value } value currency } } }"""
    body = await gql(query, {"d": ["owner"]}, user=await make_user("admin"))
    rows = {
        (r["dimensions"][0]["value"], r["currency"]): Decimal(r["value"])
        for r in body["data"]["metric"]["rows"]
    }
    assert rows == {
        (north.username, "CNY"): Decimal("1250.50"),
        (north.username, "USD"): Decimal("99.99"),
        (south.username, "CNY"): Decimal("500.00"),
    }
    body = await gql(query, {"d": []}, user=south)  # a rep counts only their own deals
    assert [(Decimal(r["value"]), r["currency"]) for r in body["data"]["metric"]["rows"]] == [
        (Decimal("500.00"), "CNY")
    ]
