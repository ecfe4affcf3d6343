"""Reporting: metric registry, core metrics, visibility, compare, exports, charts, dashboards."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kehu.core.services import activities, customers
from kehu.core.tables import Activity, Customer
from kehu.plugins.reporting.services.registry import effect


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["reporting"]


def at(month: int, day: int = 15) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


@pytest.fixture
async def world(kehu, make_user, system):
    """Two reps in two teams; customers with known tiers, regions, dates and activities."""
    north = await make_user("sales", team="North", username="rep_n")
    south = await make_user("sales", team="South", username="rep_s")
    admin = await make_user("admin", username="boss")
    spec = [  # name, owner, tier, region, created month, activity months
        ("A", north, "gold", "East", 1, [1, 1, 2]),
        ("B", north, "silver", "East", 1, [2]),
        ("C", north, "gold", "North", 2, []),
        ("D", south, "bronze", "South", 2, [3, 3]),
        ("E", south, "gold", "South", 3, [3]),
    ]
    ids = {}
    for name, owner, tier, region, month, acts in spec:
        row = await customers.create_customer(
            system, {"name": name, "tier": tier, "region": region, "owner": owner.id}
        )
        ids[name] = row["id"]
        await Customer.update({Customer.created_at: at(month)}).where(Customer.id == row["id"])
        for i, act_month in enumerate(acts):
            await activities.log_activity(
                system,
                row["id"],
                {"subject": f"call {i}", "kind": "call", "occurred_at": at(act_month, 10 + i)},
            )
    archived = await customers.create_customer(
        system, {"name": "Z", "tier": "gold", "owner": north.id}
    )
    await customers.archive_customer(system, archived["id"])
    return {"north": north, "south": south, "admin": admin, "ids": ids}


METRIC = """query($name: String!, $dims: [String!], $filters: [MetricFilterInput!],
  $start: DateTime, $end: DateTime, $g: Granularity! = MONTH) {
  metric(name: $name, dimensions: $dims, filters: $filters, from: $start, to: $end,
         granularity: $g) {
    metric { name unit plugin }
    rows { dimensions { name value } value }
  }
}"""


def table(body: dict) -> dict:
    return {
        tuple(d["value"] for d in r["dimensions"]): Decimal(r["value"])
        for r in body["data"]["metric"]["rows"]
    }


async def test_metrics_are_listed_with_their_plugin(world, gql):
    body = await gql("{ metrics { name unit dimensions plugin timeBased } }", user=world["admin"])
    names = {m["name"]: m for m in body["data"]["metrics"]}
    assert {"customers.active", "customers.new", "activities.done"} <= set(names)
    assert names["customers.active"]["plugin"] == "reporting"
    assert names["customers.active"]["timeBased"] is False
    assert "period" in names["customers.new"]["dimensions"]


async def test_active_customers_by_tier_excludes_archived(world, gql):
    body = await gql(METRIC, {"name": "customers.active", "dims": ["tier"]}, user=world["admin"])
    assert table(body) == {("bronze",): 1, ("gold",): 3, ("silver",): 1}
    body = await gql(METRIC, {"name": "customers.active"}, user=world["admin"])
    assert table(body) == {(): 5}


async def test_groups_by_two_dimensions_and_filters(world, gql):
    body = await gql(
        METRIC,
        {
            "name": "customers.active",
            "dims": ["region", "tier"],
            "filters": [{"name": "owner", "value": "rep_n"}],
        },
        user=world["admin"],
    )
    assert table(body) == {("East", "gold"): 1, ("East", "silver"): 1, ("North", "gold"): 1}


async def test_owner_dimension_is_shown_by_username(world, gql):
    body = await gql(METRIC, {"name": "customers.active", "dims": ["owner"]}, user=world["admin"])
    assert table(body) == {("rep_n",): 3, ("rep_s",): 2}


async def test_new_customers_per_month_in_a_period(world, gql):
    body = await gql(
        METRIC,
        {
            "name": "customers.new",
            "dims": ["period"],
            "start": "2026-01-01T00:00:00Z",
            "end": "2026-03-01T00:00:00Z",
        },
        user=world["admin"],
    )
    assert table(body) == {("2026-01",): 2, ("2026-02",): 2}
    body = await gql(
        METRIC, {"name": "customers.new", "dims": ["period"], "g": "QUARTER"}, user=world["admin"]
    )
    # Z (archived) was created today and still counts as created
    quarters = table(body)
    assert quarters[("2026-Q1",)] == 5


async def test_activities_by_month_and_kind(world, gql):
    body = await gql(
        METRIC, {"name": "activities.done", "dims": ["period", "kind"]}, user=world["admin"]
    )
    assert table(body) == {("2026-01", "call"): 2, ("2026-02", "call"): 2, ("2026-03", "call"): 3}
    body = await gql(
        METRIC,
        {
            "name": "activities.done",
            "dims": ["team"],
            "filters": [{"name": "period", "value": "2026-03"}],
        },
        user=world["admin"],
    )
    assert table(body) == {("South",): 3}  # D's two calls and E's one, all in March


async def test_a_rep_counts_only_what_the_rep_may_see(world, gql):
    body = await gql(METRIC, {"name": "customers.active", "dims": ["tier"]}, user=world["north"])
    assert table(body) == {("gold",): 2, ("silver",): 1}
    body = await gql(METRIC, {"name": "activities.done"}, user=world["south"])
    assert table(body) == {(): 3}
    # customers.new: the South rep sees D (created in February) and E (March) only
    body = await gql(METRIC, {"name": "customers.new", "dims": ["period"]}, user=world["south"])
    assert table(body) == {("2026-02",): 1, ("2026-03",): 1}


async def test_bad_queries_are_typed_errors(world, gql):
    body = await gql(
        METRIC,
        {"name": "customers.active", "dims": ["colour"]},
        user=world["admin"],
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "cannot be grouped by 'colour'" in body["errors"][0]["message"]
    body = await gql(METRIC, {"name": "nope"}, user=world["admin"], expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await gql(
        METRIC,
        {"name": "customers.new", "start": "2026-03-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"},
        user=world["admin"],
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


def test_optimisation_effect_textbook_example():
    # average deal cycle 30 → 25 days = −16.67 %
    assert effect(Decimal(30), Decimal(25)) == Decimal("-0.1667")
    assert effect(Decimal(0), Decimal(5)) is None
    assert effect(Decimal(4), Decimal(6)) == Decimal("0.5000")


async def test_compare_two_periods(world, gql):
    query = """query { compare(name: "activities.done", dimensions: ["kind"],
      before: {from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z"},
      after: {from: "2026-03-01T00:00:00Z", to: "2026-04-01T00:00:00Z"}) {
        dimensions { value } before after effect } }"""
    body = await gql(query, user=world["admin"])
    (row,) = body["data"]["compare"]
    assert (Decimal(row["before"]), Decimal(row["after"])) == (2, 3)
    assert Decimal(row["effect"]) == Decimal("0.5")


async def test_exports_and_chart_over_http(world, kehu_client):
    headers = {"Authorization": f"Bearer {world['admin'].key}"}
    url = "/reports/customers.active"
    csv_ = await kehu_client.get(url, params={"dimensions": "tier"}, headers=headers)
    assert csv_.status_code == 200 and csv_.headers["content-type"].startswith("text/csv")
    assert csv_.text.splitlines() == ["tier,count", "bronze,1", "gold,3", "silver,1"]
    js = await kehu_client.get(
        url,
        params={"dimensions": "region", "format": "json", "filter": "tier=gold"},
        headers=headers,
    )
    assert js.json()["rows"] == [
        {"region": "East", "count": "1"},
        {"region": "North", "count": "1"},
        {"region": "South", "count": "1"},
    ]
    svg = await kehu_client.get(
        "/reports/customers.new", params={"dimensions": "period", "format": "svg"}, headers=headers
    )
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.startswith("<svg") and "<polyline" in svg.text and "2026-01" in svg.text
    window = await kehu_client.get(
        "/reports/customers.new",
        params={
            "dimensions": "period",
            "from": "2026-01-01T00:00:00Z",
            "to": "2026-03-01T00:00:00Z",
        },
        headers=headers,
    )
    assert window.text.splitlines() == ["period,count", "2026-01,2", "2026-02,2"]
    assert (await kehu_client.get(url)).status_code == 401
    bad = await kehu_client.get(url, params={"dimensions": "colour"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "VALIDATION"


async def test_png_chart_over_http(world, kehu_client):
    pytest.importorskip("cairosvg")
    headers = {"Authorization": f"Bearer {world['admin'].key}"}
    png = await kehu_client.get(
        "/reports/customers.active",
        params={"dimensions": "tier", "format": "png"},
        headers=headers,
    )
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 1000
    bad = await kehu_client.get(
        "/reports/customers.active", params={"format": "pdf"}, headers=headers
    )
    assert bad.status_code == 400 and "csv, json, svg or png" in bad.text


async def test_rep_export_is_scoped(world, kehu_client):
    headers = {"Authorization": f"Bearer {world['south'].key}"}
    response = await kehu_client.get(
        "/reports/customers.active", params={"dimensions": "tier"}, headers=headers
    )
    assert response.text.splitlines() == ["tier,count", "bronze,1", "gold,1"]


DASH = """mutation($input: SaveDashboardInput!) { saveDashboard(input: $input) {
  dashboard { id name shared panels version } errors { field code message } } }"""


async def test_dashboards_are_private_or_shared_with_the_team(world, gql, make_user):
    teammate = await make_user("sales", team="North")
    panels = [{"metric": "customers.active", "dimensions": ["tier"]}]
    body = await gql(DASH, {"input": {"name": "Mine", "panels": panels}}, user=world["north"])
    private = body["data"]["saveDashboard"]["dashboard"]
    assert private["panels"][0]["title"] == "Active customers"
    body = await gql(
        DASH, {"input": {"name": "Team", "panels": panels, "shared": True}}, user=world["north"]
    )
    shared = body["data"]["saveDashboard"]["dashboard"]
    names = lambda b: sorted(d["name"] for d in b["data"]["dashboards"])  # noqa: E731
    query = "{ dashboards { name } }"
    assert names(await gql(query, user=world["north"])) == ["Mine", "Team"]
    assert names(await gql(query, user=teammate)) == ["Team"]
    assert names(await gql(query, user=world["south"])) == []
    body = await gql(
        DASH,
        {
            "input": {
                "id": shared["id"],
                "expectedVersion": 1,
                "name": "Team v2",
                "panels": panels,
                "shared": True,
            }
        },
        user=teammate,
    )
    assert body["data"]["saveDashboard"]["errors"][0]["message"].startswith("Only the owner")
    body = await gql(
        DASH,
        {"input": {"id": private["id"], "expectedVersion": 1, "name": "Mine v2", "panels": panels}},
        user=world["north"],
    )
    assert body["data"]["saveDashboard"]["dashboard"]["version"] == 2


async def test_dashboard_panels_are_validated(world, gql):
    panels = [{"metric": "nope"}, {"metric": "customers.active", "dimensions": ["colour"]}]
    body = await gql(DASH, {"input": {"name": "Bad", "panels": panels}}, user=world["north"])
    errors = body["data"]["saveDashboard"]["errors"]
    assert [e["code"] for e in errors] == ["NOT_FOUND", "INVALID_DIMENSION"]
    assert (await gql("{ dashboards { name } }", user=world["north"]))["data"]["dashboards"] == []


async def test_archived_customers_have_no_activities_leak(world, kehu):
    # sanity for the fixture: activities table holds exactly the spec's 7 rows
    assert await Activity.count() == 7


async def test_csv_reports_are_safe_for_spreadsheets(world, kehu_client, system):
    await customers.create_customer(
        system, {"name": "Evil", "tier": "gold", "region": '=HYPERLINK("http://evil.example")'}
    )
    headers = {"Authorization": f"Bearer {world['admin'].key}"}
    url = "/reports/customers.active"
    plain = await kehu_client.get(url, params={"dimensions": "region"}, headers=headers)
    assert plain.headers["content-type"] == "text/csv; charset=utf-8"
    assert not plain.content.startswith(b"\xef\xbb\xbf")
    assert '\'=HYPERLINK(""http://evil.example"")' in plain.text
    assert not any(line.startswith("=") for line in plain.text.splitlines())
    excel = await kehu_client.get(url, params={"dimensions": "tier", "bom": "1"}, headers=headers)
    assert excel.content.startswith(b"\xef\xbb\xbf")
    assert excel.content.decode("utf-8-sig").splitlines()[0] == "tier,count"


def test_json_reports_keep_null_for_undefined_measures():
    from kehu.plugins.reporting.services import export
    from kehu.plugins.reporting.services.registry import MetricRow

    metric = type("M", (), {"name": "m", "unit": "rate"})()
    rows = [MetricRow({"stage": "won"}, Decimal("0.5"), measures={"conversion": None})]
    import json

    body = json.loads(export(metric, rows, "json"))
    assert body["rows"] == [{"stage": "won", "rate": "0.5", "conversion": None}]
    assert export(metric, rows, "csv").splitlines() == ["stage,rate,conversion", "won,0.5,"]


async def test_openapi_declares_the_bearer_scheme_and_401_says_how(world, kehu_client):
    spec = (await kehu_client.get("/schema/openapi.json")).json()
    scheme = spec["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"apiKey": []}]
    assert spec["paths"]["/health"]["get"]["security"] == [{}]  # open
    unauthenticated = await kehu_client.get("/reports/customers.active")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"] == 'Bearer realm="kehu"'
    assert unauthenticated.json()["code"] == "UNAUTHENTICATED"


async def test_png_without_the_extra_is_501_with_a_message(world, kehu_client, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "cairosvg", None)  # as if kehu[png] were not installed
    headers = {"Authorization": f"Bearer {world['admin'].key}"}
    response = await kehu_client.get(
        "/reports/customers.active", params={"format": "png"}, headers=headers
    )
    assert response.status_code == 501
    body = response.json()
    assert body["code"] == "UNAVAILABLE" and "kehu[png]" in body["message"]
