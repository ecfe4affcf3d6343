"""``node(id:)`` answers ``null`` — never an error, never a raw id — for a record that does
not exist or that the caller may not see, for every node type of every built-in plugin; and
such expected answers are not logged as server errors."""

import logging

import pytest

from kehu.core.graphql.base import encode_id
from kehu.core.services import customers

QUERY = "query($id: ID!) { node(id: $id) { id } }"


@pytest.mark.parametrize("role", ["sales", "viewer", "support"])
async def test_every_node_type_answers_null_for_a_missing_record(
    kehu, make_user, gql, role, caplog
):
    user = await make_user(role, team="North")
    types = sorted(kehu.graphql().node_types)
    assert len(types) > 10
    with caplog.at_level(logging.ERROR):
        for name in types:
            body = await gql(QUERY, {"id": encode_id(name, 10**6)}, user=user, expect_errors=True)
            assert body.get("errors") is None, (name, body["errors"])
            assert body["data"]["node"] is None, name
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_hidden_customer_is_null_and_not_logged(kehu, make_user, gql, system, caplog):
    rep = await make_user("sales", team="North")
    other = await make_user("sales", team="North")
    row = await customers.create_customer(system, {"name": "Not Yours", "owner": other.id})
    with caplog.at_level(logging.ERROR):
        body = await gql(QUERY, {"id": encode_id("Customer", row["id"])}, user=rep)
        assert body["data"]["node"] is None
        denied = await gql(
            "query($id: ID!) { customer(id: $id) { id } }",
            {"id": encode_id("Customer", row["id"])},
            user=rep,
            expect_errors=True,
        )
    assert denied["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert str(row["id"]) not in denied["errors"][0]["message"].replace(
        encode_id("Customer", row["id"]), ""
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
