"""Loyalty through GraphQL: mutations, payload errors, batching, visibility, node, timeline."""

from kehu_loyalty import services
from kehu_loyalty.tables import LoyaltyLedger

from kehu.core.db import count_queries
from kehu.core.graphql.base import encode_id
from kehu.core.tables import AuditLog

AWARD = """mutation($input: LoyaltyPointsInput!) { awardLoyaltyPoints(input: $input) {
  customer { name loyaltyPoints } errors { field message code } } }"""
REDEEM = """mutation($input: LoyaltyPointsInput!) { redeemLoyaltyPoints(input: $input) {
  customer { name loyaltyPoints } errors { field message code } } }"""
LEDGER = """query($id: ID!) { customer(id: $id) { loyaltyPoints
  loyaltyLedger(first: 10) { id kind points balanceAfter reason source actor { username } } } }"""


def _gid(row):
    return encode_id("Customer", row["id"])


async def test_award_redeem_and_over_redeem(kehu, make_user, gql, make_customer):
    admin = await make_user("admin")
    acme = await make_customer("ACME")
    ref = {"customerId": _gid(acme)}

    body = await gql(AWARD, {"input": {**ref, "points": 100, "reason": "Signup"}}, user=admin)
    assert body["data"]["awardLoyaltyPoints"] == {
        "customer": {"name": "ACME", "loyaltyPoints": 100},
        "errors": [],
    }
    body = await gql(REDEEM, {"input": {**ref, "points": 30, "reason": "Mug"}}, user=admin)
    assert body["data"]["redeemLoyaltyPoints"]["customer"]["loyaltyPoints"] == 70

    body = await gql(REDEEM, {"input": {**ref, "points": 71, "reason": "TV"}}, user=admin)
    result = body["data"]["redeemLoyaltyPoints"]
    assert result["customer"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [
        ("points", "INSUFFICIENT_POINTS")
    ]

    body = await gql(LEDGER, {"id": _gid(acme)}, user=admin)
    customer = body["data"]["customer"]
    assert customer["loyaltyPoints"] == 70
    assert [(e["kind"], e["points"], e["balanceAfter"]) for e in customer["loyaltyLedger"]] == [
        ("REDEEM", -30, 70),
        ("AWARD", 100, 100),
    ]
    assert {e["source"] for e in customer["loyaltyLedger"]} == {"api"}
    assert customer["loyaltyLedger"][0]["actor"]["username"] == admin.username
    audit = await AuditLog.select(AuditLog.action).where(AuditLog.entity == "loyalty")
    assert sorted(r["action"] for r in audit) == ["awarded", "redeemed"]


async def test_invalid_input_is_reported_in_payload(kehu, make_user, gql, make_customer):
    admin = await make_user("admin")
    acme = await make_customer("ACME")
    body = await gql(
        AWARD, {"input": {"customerId": _gid(acme), "points": 0, "reason": " "}}, user=admin
    )
    errors = body["data"]["awardLoyaltyPoints"]["errors"]
    assert {(e["field"], e["code"]) for e in errors} == {
        ("points", "INVALID"),
        ("reason", "REQUIRED"),
    }
    body = await gql(
        AWARD, {"input": {"customerId": "garbage", "points": 1, "reason": "x"}}, user=admin
    )
    assert body["data"]["awardLoyaltyPoints"]["errors"][0]["field"] == "customerId"
    assert await LoyaltyLedger.count() == 0


async def test_idempotency_key(kehu, make_user, gql, make_customer):
    admin = await make_user("admin")
    acme = await make_customer("ACME")
    data = {"customerId": _gid(acme), "points": 10, "reason": "Bonus", "idempotencyKey": "k1"}
    for _ in range(2):
        body = await gql(AWARD, {"input": data}, user=admin)
        assert body["data"]["awardLoyaltyPoints"]["customer"]["loyaltyPoints"] == 10
    body = await gql(AWARD, {"input": {**data, "points": 11}}, user=admin)
    assert body["data"]["awardLoyaltyPoints"]["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await LoyaltyLedger.count() == 1


async def _list_queries(gql, user) -> int:
    query = """{ customers(first: 100) { nodes { name loyaltyPoints
                 loyaltyLedger(first: 3) { points actor { username } } } } }"""
    await gql(query, user=user)  # warm-up: authentication may touch the API key once
    with count_queries() as log:
        body = await gql(query, user=user)
    nodes = body["data"]["customers"]["nodes"]
    assert all(n["loyaltyPoints"] == 5 for n in nodes)
    assert all(len(n["loyaltyLedger"]) == 1 for n in nodes)
    return log.count


async def test_customer_list_uses_constant_queries(kehu, make_user, gql, make_customer, system):
    admin = await make_user("admin")
    for n in range(30):
        customer = await make_customer(f"Customer {n:02}")
        await services.award_points(admin.actor, customer["id"], 5, "Welcome")
        if n == 4:
            five = await _list_queries(gql, admin)
    thirty = await _list_queries(gql, admin)
    assert five == thirty


async def test_sales_cannot_award_to_invisible_customer(kehu, make_user, gql, make_customer):
    admin = await make_user("admin")
    sales = await make_user("sales", team="North")
    viewer = await make_user("viewer", team="North")
    hidden = await make_customer("Hidden", owner=admin)
    own = await make_customer("Own", owner=sales)
    data = {"points": 5, "reason": "Nice"}

    body = await gql(
        AWARD, {"input": {**data, "customerId": _gid(hidden)}}, user=sales, expect_errors=True
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await gql(
        AWARD, {"input": {**data, "customerId": _gid(own)}}, user=viewer, expect_errors=True
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await LoyaltyLedger.count() == 0

    body = await gql(AWARD, {"input": {**data, "customerId": _gid(own)}}, user=sales)
    assert body["data"]["awardLoyaltyPoints"]["customer"]["loyaltyPoints"] == 5


async def test_node_leaderboard_and_timeline(kehu, make_user, gql, make_customer):
    admin = await make_user("admin")
    sales = await make_user("sales", team="South")
    big = await make_customer("Big", owner=admin)
    small = await make_customer("Small", owner=sales)
    change = await services.award_points(admin.actor, big["id"], 500, "Large order")
    await services.award_points(admin.actor, small["id"], 20, "Small order")

    board = "{ loyaltyLeaderboard(first: 5) { points customer { name } } }"
    body = await gql(board, user=admin)
    assert [(r["customer"]["name"], r["points"]) for r in body["data"]["loyaltyLeaderboard"]] == [
        ("Big", 500),
        ("Small", 20),
    ]
    body = await gql(board, user=sales)
    assert [r["customer"]["name"] for r in body["data"]["loyaltyLeaderboard"]] == ["Small"]

    node = """query($id: ID!) { node(id: $id) { ... on LoyaltyEntry { points reason
              customer { name } } } }"""
    entry_id = encode_id("LoyaltyEntry", change.entry["id"])
    body = await gql(node, {"id": entry_id}, user=admin)
    assert body["data"]["node"] == {
        "points": 500,
        "reason": "Large order",
        "customer": {"name": "Big"},
    }
    body = await gql(node, {"id": entry_id}, user=sales)
    assert body["data"]["node"] is None

    timeline = """query($id: ID!) { customer(id: $id) { timeline { nodes { kind title source
                  body } } } }"""
    body = await gql(timeline, {"id": _gid(big)}, user=admin)
    assert {
        "kind": "loyalty.award",
        "title": "+500 loyalty points",
        "source": "loyalty",
        "body": "Large order",
    } in body["data"]["customer"]["timeline"]["nodes"]


async def test_rest_route(kehu, make_user, kehu_client, make_customer):
    admin = await make_user("admin")
    sales = await make_user("sales")
    acme = await make_customer("ACME", owner=admin)
    await services.award_points(admin.actor, acme["id"], 42, "Hello")
    url = f"/loyalty/customers/{acme['id']}"

    response = await kehu_client.get(url, headers={"Authorization": f"Bearer {admin.key}"})
    assert response.status_code == 200
    assert response.json()["points"] == 42
    assert response.json()["ledger"][0]["reason"] == "Hello"
    response = await kehu_client.get(url, headers={"Authorization": f"Bearer {sales.key}"})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"  # Kehu's typed errors map to HTTP
    assert (await kehu_client.get(url)).status_code == 401
