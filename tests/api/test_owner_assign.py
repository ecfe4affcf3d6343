"""Making someone else the owner needs the assign permission on every create: customers
(customer:reassign), opportunities and leads (opportunity:assign), contracts
(contract:assign) and activities (activity:assign). Sales and support own what they create."""

import pytest

from kehu.core.graphql.base import encode_id
from kehu.core.services import customers
from kehu.core.tables import Activity
from kehu.plugins.contracts.tables import Contract

CONTRACT = """mutation($c: ID!, $o: ID) { createContract(input: {customerId: $c, title: "T",
  ownerId: $o}) { contract { owner { username } } errors { code } } }"""
ACTIVITY = """mutation($c: ID!, $o: ID) { logActivity(input: {customerId: $c, subject: "Call",
  ownerId: $o}) { activity { owner { username } } errors { code } } }"""


@pytest.fixture
async def team(make_user, system):
    people = {
        "sales": await make_user("sales", team="North"),
        "mate": await make_user("sales", team="North"),
        "support": await make_user("support", team="North"),
        "manager": await make_user("manager", team="North"),
    }
    row = await customers.create_customer(
        system, {"name": "Owned Co", "owner": people["sales"].id, "team": people["sales"].team_id}
    )
    people["customer"] = encode_id("Customer", row["id"])
    return people


@pytest.mark.parametrize(("mutation", "table"), [(CONTRACT, Contract), (ACTIVITY, Activity)])
async def test_only_assigners_make_someone_else_the_owner(gql, team, mutation, table):
    variables = {"c": team["customer"], "o": team["mate"].gid}
    before = await table.count()
    for who in ("sales", "support"):
        if mutation is CONTRACT and who == "support":
            continue  # support may not write contracts at all
        body = await gql(mutation, variables, user=team[who], expect_errors=True)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], who
    assert await table.count() == before
    own = await gql(mutation, {**variables, "o": team["sales"].gid}, user=team["sales"])
    assert "errors" not in own
    assigned = await gql(mutation, variables, user=team["manager"])
    (result,) = assigned["data"].values()
    assert result["errors"] == []
    assert next(v for v in result.values() if isinstance(v, dict))["owner"]["username"] == (
        team["mate"].username
    )
