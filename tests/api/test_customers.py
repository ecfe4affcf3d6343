"""Customers over GraphQL/HTTP: create, validation, duplicates, lookup, keyset pagination,
filters, optimistic locking, archive/restore, tags, merge and handover."""

import asyncio
import base64
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from kehu.core.graphql.base import encode_id
from kehu.core.services import activities, contacts, customers, users
from kehu.core.tables import Activity, AuditLog, Contact, Customer, CustomerTag


@pytest.fixture
def kehu_plugins() -> list[str]:
    """Core only: plugins add timeline entries, hooks and fields of their own."""
    return ["core"]


CUSTOMER_FIELDS = """
    id databaseId name kind email phone tier lifecycleStage region industry version
    archived archivedAt createdAt updatedAt customFields
    owner { id username } team { id name } tags mergedInto { id }
"""
CUSTOMER_PAYLOAD = f"customer {{ {CUSTOMER_FIELDS} }} errors {{ field message code }}"

CREATE = f"""mutation($input: CreateCustomerInput!) {{
  createCustomer(input: $input) {{ {CUSTOMER_PAYLOAD} }} }}"""
UPDATE = f"""mutation($input: UpdateCustomerInput!) {{
  updateCustomer(input: $input) {{ {CUSTOMER_PAYLOAD} }} }}"""
ARCHIVE = f"""mutation($input: CustomerRefInput!) {{
  archiveCustomer(input: $input) {{ {CUSTOMER_PAYLOAD} }} }}"""
RESTORE = f"""mutation($input: CustomerRefInput!) {{
  restoreCustomer(input: $input) {{ {CUSTOMER_PAYLOAD} }} }}"""
SET_TAGS = f"""mutation($input: SetCustomerTagsInput!) {{
  setCustomerTags(input: $input) {{ {CUSTOMER_PAYLOAD} }} }}"""
MERGE = f"""mutation($input: MergeCustomersInput!) {{
  mergeCustomers(input: $input) {{ {CUSTOMER_PAYLOAD} }} }}"""
REASSIGN = """mutation($input: ReassignCustomersInput!) {
  reassignCustomers(input: $input) {
    customers { id databaseId owner { username } team { name } version }
    errors { field message code } } }"""
GET = f"query($id: ID!) {{ customer(id: $id) {{ {CUSTOMER_FIELDS} }} }}"
NODE = "query($id: ID!) { node(id: $id) { __typename id ... on Customer { name databaseId } } }"
LIST = """query($first: Int!, $after: String, $filter: CustomerFilter, $orderBy: CustomerOrder) {
  customers(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount
    edges { cursor node { databaseId name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
AUDIT = """query($entity: String, $entityId: Int) {
  auditLog(entity: $entity, entityId: $entityId, first: 100) {
    totalCount nodes { action entity entityId actorId actorName before after } } }"""


def cid(pk: int) -> str:
    return encode_id("Customer", pk)


def error_codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


async def table_counts() -> tuple[int, int, int, int]:
    return (
        await Customer.count(),
        await CustomerTag.count(),
        await Contact.count(),
        await AuditLog.count(),
    )


async def db_customer(pk: int) -> dict:
    return await Customer.select().where(Customer.id == pk).first()


async def audit_rows(gql, admin, entity: str, entity_id: int) -> list[dict]:
    body = await gql(AUDIT, {"entity": entity, "entityId": entity_id}, user=admin)
    return body["data"]["auditLog"]["nodes"]


# -- create ------------------------------------------------------------------------------


async def test_create_normalises_input_and_defaults_owner_and_team(kehu, make_user, gql):
    rep = await make_user("sales", team="North")
    body = await gql(
        CREATE,
        {
            "input": {
                "name": "  ACME Trading  ",
                "email": " Info@ACME.com ",
                "phone": "138 0013 8000",
                "tier": "Gold",
                "lifecycleStage": "ACTIVE",
                "customFields": {"erp": "A-1"},
                "tags": ["VIP", " vip ", "Key Account", ""],
            }
        },
        user=rep,
    )
    payload = body["data"]["createCustomer"]
    assert payload["errors"] == []
    c = payload["customer"]
    assert c["name"] == "ACME Trading"
    assert c["email"] == "info@acme.com"
    assert c["phone"] == "+8613800138000"
    assert c["tier"] == "gold"
    assert c["lifecycleStage"] == "ACTIVE"
    assert c["kind"] == "ORGANIZATION"
    assert c["customFields"] == {"erp": "A-1"}
    assert c["tags"] == ["key account", "vip"]
    assert c["owner"]["username"] == rep.username
    assert c["team"]["name"] == "North"
    assert c["version"] == 1
    assert c["archived"] is False and c["archivedAt"] is None
    assert c["id"] == cid(c["databaseId"])
    row = await db_customer(c["databaseId"])
    assert row["owner"] == rep.id and row["team"] == rep.team_id
    audit = await AuditLog.select().where(
        AuditLog.entity == "customer", AuditLog.entity_id == c["databaseId"]
    )
    assert [(a["action"], a["actor"]) for a in audit] == [("created", rep.id)]


async def test_admin_assigns_owner_and_team_follows_owner(kehu, make_user, gql):
    admin = await make_user("admin")
    rep = await make_user("sales", team="South")
    body = await gql(CREATE, {"input": {"name": "Assigned", "ownerId": rep.gid}}, user=admin)
    c = body["data"]["createCustomer"]["customer"]
    assert c["owner"]["username"] == rep.username
    assert c["team"]["name"] == "South"


INVALID_CREATES = [
    pytest.param({"email": "not-an-email"}, [("email", "INVALID_EMAIL")], id="email"),
    pytest.param({"phone": "123"}, [("phone", "INVALID_PHONE")], id="phone"),
    pytest.param({"tier": "platinum"}, [("tier", "INVALID_CHOICE")], id="tier"),
    pytest.param({"name": "   "}, [("name", "REQUIRED")], id="blank-name"),
    pytest.param({"name": "x" * 256}, [("name", "TOO_LONG")], id="long-name"),
    pytest.param({"website": "w" * 256}, [("website", "TOO_LONG")], id="long-website"),
    pytest.param({"customFields": [1, 2]}, [("customFields", "INVALID")], id="custom-list"),
    pytest.param(
        {"ownerId": encode_id("User", 987654)}, [("ownerId", "NOT_FOUND")], id="unknown-owner"
    ),
    pytest.param(
        {"teamId": encode_id("Team", 987654)}, [("teamId", "NOT_FOUND")], id="unknown-team"
    ),
    pytest.param({"ownerId": "garbage!!"}, [("ownerId", "INVALID")], id="garbage-owner-id"),
    pytest.param(
        {"ownerId": encode_id("Team", 1)}, [("ownerId", "INVALID")], id="owner-id-of-wrong-type"
    ),
    pytest.param(
        {"email": "bad", "phone": "1", "tier": "x"},
        [("tier", "INVALID_CHOICE"), ("email", "INVALID_EMAIL"), ("phone", "INVALID_PHONE")],
        id="all-errors-at-once",
    ),
]


@pytest.mark.parametrize(("extra", "expected"), INVALID_CREATES)
async def test_create_validation_errors_write_nothing(
    kehu, make_user, gql, system, extra, expected
):
    admin = await make_user("admin")
    await customers.create_customer(system, {"name": "Existing"}, tags=["x"])
    before = await table_counts()
    body = await gql(CREATE, {"input": {"name": "New Co", "tags": ["t"], **extra}}, user=admin)
    payload = body["data"]["createCustomer"]
    assert payload["customer"] is None
    assert sorted((e["field"], e["code"]) for e in payload["errors"]) == sorted(expected)
    assert all(e["message"] for e in payload["errors"])
    assert await table_counts() == before


async def test_create_with_inactive_owner_is_rejected(kehu, make_user, gql, system):
    admin = await make_user("admin")
    gone = await make_user("sales", team="North")
    await users.update_user(system, gone.id, {"active": False})
    body = await gql(CREATE, {"input": {"name": "Orphan", "ownerId": gone.gid}}, user=admin)
    payload = body["data"]["createCustomer"]
    assert payload["customer"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("ownerId", "NOT_FOUND")]
    assert await Customer.count() == 0


async def test_duplicate_detection_and_allow_duplicate(kehu, make_user, gql, system):
    admin = await make_user("admin")
    first = await customers.create_customer(
        system,
        {
            "name": "ACME Co., Ltd.",
            "email": "info@acme.com",
            "phone": "13800138000",
            "tax_id": "91310000X",
        },
    )
    cases = [
        ({"name": "acme"}, "name"),
        ({"name": "ＡＣＭＥ 有限公司"}, "name"),  # full-width + legal suffix
        ({"name": "Other", "email": "INFO@acme.com"}, "email"),
        ({"name": "Other", "phone": "+86 138-0013-8000"}, "phone"),
        ({"name": "Other", "taxId": "91310000X"}, "tax_id"),
    ]
    for data, field in cases:
        body = await gql(CREATE, {"input": data}, user=admin)
        payload = body["data"]["createCustomer"]
        assert payload["customer"] is None, data
        [error] = payload["errors"]
        assert (error["field"], error["code"]) == (field, "DUPLICATE"), data
        assert "allowDuplicate" in error["message"]
    assert await Customer.count() == 1

    body = await gql('query { customerDuplicates(name: "Acme Ltd") { databaseId } }', user=admin)
    assert body["data"]["customerDuplicates"] == [{"databaseId": first["id"]}]

    body = await gql(CREATE, {"input": {"name": "ACME", "allowDuplicate": True}}, user=admin)
    assert body["data"]["createCustomer"]["errors"] == []
    assert await Customer.count() == 2


async def test_archived_customers_are_not_duplicates(kehu, make_user, gql, system):
    admin = await make_user("admin")
    old = await customers.create_customer(system, {"name": "Phoenix", "email": "p@x.com"})
    await customers.archive_customer(system, old["id"])
    body = await gql(CREATE, {"input": {"name": "Phoenix", "email": "p@x.com"}}, user=admin)
    assert body["data"]["createCustomer"]["errors"] == []


async def test_update_into_duplicate_is_rejected(kehu, make_user, gql, system):
    admin = await make_user("admin")
    await customers.create_customer(system, {"name": "Alpha", "email": "a@x.com"})
    beta = await customers.create_customer(system, {"name": "Beta"})
    body = await gql(
        UPDATE,
        {"input": {"id": cid(beta["id"]), "expectedVersion": 1, "email": "A@x.com"}},
        user=admin,
    )
    payload = body["data"]["updateCustomer"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("email", "DUPLICATE")]
    assert (await db_customer(beta["id"]))["email"] == ""
    # unchanged duplicate-relevant fields do not trip the check on unrelated edits
    body = await gql(
        UPDATE,
        {"input": {"id": cid(beta["id"]), "expectedVersion": 1, "region": "East"}},
        user=admin,
    )
    assert body["data"]["updateCustomer"]["errors"] == []


# -- lookup ------------------------------------------------------------------------------


async def test_get_by_id_and_node(kehu, make_user, gql, system):
    admin = await make_user("admin")
    c = await customers.create_customer(system, {"name": "Lookup Ltd", "tier": "silver"})
    body = await gql(GET, {"id": cid(c["id"])}, user=admin)
    got = body["data"]["customer"]
    assert (got["databaseId"], got["name"], got["tier"]) == (c["id"], "Lookup Ltd", "silver")
    assert got["owner"] is None and got["team"] is None  # created by the system actor

    body = await gql(NODE, {"id": cid(c["id"])}, user=admin)
    assert body["data"]["node"] == {
        "__typename": "Customer",
        "id": cid(c["id"]),
        "name": "Lookup Ltd",
        "databaseId": c["id"],
    }

    missing = cid(c["id"] + 1000)
    body = await gql(GET, {"id": missing}, user=admin, expect_errors=True)
    assert body["data"] is None
    assert error_codes(body) == ["NOT_FOUND"]
    body = await gql(NODE, {"id": missing}, user=admin)
    assert body["data"]["node"] is None
    body = await gql(NODE, {"id": encode_id("NoSuchType", 1)}, user=admin)
    assert body["data"]["node"] is None

    for bad in ("garbage!!", encode_id("Contact", c["id"])):
        body = await gql(GET, {"id": bad}, user=admin, expect_errors=True)
        assert error_codes(body) == ["VALIDATION"], bad


async def test_node_resolves_every_core_type(kehu, make_user, gql, system):
    admin = await make_user("admin", team="North")
    c = await customers.create_customer(system, {"name": "Nodes"})
    ct = await contacts.create_contact(system, c["id"], {"name": "Ann"})
    act = await activities.log_activity(system, c["id"], {"subject": "Hello"})
    for type_name, pk in [
        ("Customer", c["id"]),
        ("Contact", ct["id"]),
        ("Activity", act["id"]),
        ("User", admin.id),
        ("Team", admin.team_id),
    ]:
        gid = encode_id(type_name, pk)
        body = await gql(
            "query($id: ID!) { node(id: $id) { __typename id } }", {"id": gid}, user=admin
        )
        assert body["data"]["node"] == {"__typename": type_name, "id": gid}


# -- listing -----------------------------------------------------------------------------


async def walk(gql, user, *, first: int, order_by=None, filter=None) -> tuple[list[int], int]:
    """Follow ``endCursor`` to the end; return the ids in page order and the page count."""
    ids: list[int] = []
    after = None
    pages = 0
    while True:
        body = await gql(
            LIST,
            {"first": first, "after": after, "orderBy": order_by, "filter": filter},
            user=user,
        )
        conn = body["data"]["customers"]
        pages += 1
        edges = conn["edges"]
        assert len(edges) <= first
        ids += [e["node"]["databaseId"] for e in edges]
        info = conn["pageInfo"]
        assert info["hasPreviousPage"] is False
        if edges:
            assert info["startCursor"] == edges[0]["cursor"]
            assert info["endCursor"] == edges[-1]["cursor"]
        if not info["hasNextPage"]:
            return ids, pages
        assert len(edges) == first
        after = info["endCursor"]


async def make_pagination_set(system) -> list[dict]:
    """23 customers: names with ties, inserted in random order, created_at with ties."""
    names = [f"Cust {i:02d}" for i in range(20)] + ["Cust 07", "Cust 07", "Cust 13"]
    random.Random(7).shuffle(names)
    base = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    rows = []
    for i, name in enumerate(names):
        row = await customers.create_customer(system, {"name": name}, allow_duplicate=True)
        # groups of three share created_at; half-second steps (".5" vs whole seconds)
        created = base + timedelta(milliseconds=500 * (i // 3))
        await Customer.update({Customer.created_at: created}).where(Customer.id == row["id"])
        rows.append({"id": row["id"], "name": name, "created_at": created})
    for r in rows:
        r["updated_at"] = (await db_customer(r["id"]))["updated_at"]
    return rows


async def test_keyset_pagination_walks_every_row_once(kehu, make_user, gql, system):
    admin = await make_user("admin")
    rows = await make_pagination_set(system)
    for field, direction, sizes in [
        ("NAME", "ASC", (1, 4, 23)),
        ("NAME", "DESC", (4, 100)),
        ("CREATED_AT", "ASC", (2, 100)),
        ("CREATED_AT", "DESC", (1, 4)),
        ("UPDATED_AT", "ASC", (5,)),
    ]:
        key = {"NAME": "name", "CREATED_AT": "created_at", "UPDATED_AT": "updated_at"}[field]
        expected = [
            r["id"]
            for r in sorted(rows, key=lambda r: (r[key], r["id"]), reverse=direction == "DESC")
        ]
        for first in sizes:
            ids, pages = await walk(
                gql, admin, first=first, order_by={"field": field, "direction": direction}
            )
            assert ids == expected, (first, field, direction)
            assert len(set(ids)) == len(rows)
            assert pages == max(1, -(-len(rows) // first))


async def test_default_order_is_name_ascending(kehu, make_user, gql, system):
    admin = await make_user("admin")
    for name in ("Charlie", "Alpha", "Bravo"):
        await customers.create_customer(system, {"name": name})
    body = await gql(LIST, {"first": 10}, user=admin)
    assert [e["node"]["name"] for e in body["data"]["customers"]["edges"]] == [
        "Alpha",
        "Bravo",
        "Charlie",
    ]
    body = await gql("{ customers { totalCount edges { node { name } } } }", user=admin)
    assert body["data"]["customers"]["totalCount"] == 3  # default first=20


async def test_total_count_ignores_paging(kehu, make_user, gql, system):
    admin = await make_user("admin")
    for i in range(7):
        await customers.create_customer(system, {"name": f"Count {i}"})
    body = await gql(LIST, {"first": 2}, user=admin)
    conn = body["data"]["customers"]
    assert conn["totalCount"] == 7 and len(conn["edges"]) == 2
    body = await gql(LIST, {"first": 2, "after": conn["pageInfo"]["endCursor"]}, user=admin)
    assert body["data"]["customers"]["totalCount"] == 7


async def test_empty_list(kehu, make_user, gql):
    admin = await make_user("admin")
    body = await gql(LIST, {"first": 5}, user=admin)
    assert body["data"]["customers"] == {
        "totalCount": 0,
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
    }


@pytest.mark.parametrize("first", [0, -1, 101, 1000])
async def test_page_size_out_of_range_is_a_validation_error(kehu, make_user, gql, first):
    admin = await make_user("admin")
    body = await gql(LIST, {"first": first}, user=admin, expect_errors=True)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "first"}
    assert "between 1 and 100" in error["message"]


async def test_page_size_maximum_is_accepted(kehu, make_user, gql, system):
    admin = await make_user("admin")
    await customers.create_customer(system, {"name": "Only"})
    body = await gql(LIST, {"first": 100}, user=admin)
    assert body["data"]["customers"]["totalCount"] == 1


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "!!!", b64({"a": 1}), b64([None, 1]), b64(["x", "1"]), b64([1, 2, 3]), b64("x")],
)
async def test_invalid_cursor_is_a_validation_error(kehu, make_user, gql, system, cursor):
    admin = await make_user("admin")
    await customers.create_customer(system, {"name": "One"})
    body = await gql(LIST, {"first": 5, "after": cursor}, user=admin, expect_errors=True)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"] == {"code": "VALIDATION", "field": "after"}


async def test_cursor_from_another_ordering_is_rejected(kehu, make_user, gql, system):
    admin = await make_user("admin")
    for name in ("A", "B", "C"):
        await customers.create_customer(system, {"name": name})
    body = await gql(LIST, {"first": 1}, user=admin)
    name_cursor = body["data"]["customers"]["pageInfo"]["endCursor"]
    body = await gql(
        LIST,
        {"first": 1, "after": name_cursor, "orderBy": {"field": "CREATED_AT"}},
        user=admin,
        expect_errors=True,
    )
    assert error_codes(body) == ["VALIDATION"]


# -- filters -----------------------------------------------------------------------------


async def test_filters(kehu, make_user, gql, system):
    admin = await make_user("admin")
    rep_a = await make_user("sales", team="North")
    rep_b = await make_user("sales", team="South")
    alpha = await customers.create_customer(
        system,
        {
            "name": "Alpha Trading",
            "owner": rep_a.id,
            "tier": "gold",
            "lifecycle_stage": "active",
            "region": "East",
            "industry": "Retail",
            "email": "hello@alpha.com",
            "phone": "13800138000",
        },
        tags=["VIP"],
    )
    beta = await customers.create_customer(
        system,
        {
            "name": "Beta Foods",
            "owner": rep_b.id,
            "tier": "silver",
            "lifecycle_stage": "new",
            "region": "West",
            "industry": "Food",
            "email": "sales@beta.cn",
        },
        tags=["vip", "food"],
    )
    gamma = await customers.create_customer(
        system,
        {
            "name": "Gamma 100%",
            "owner": rep_a.id,
            "tier": "bronze",
            "lifecycle_stage": "lost",
            "region": "East",
            "industry": "Food",
        },
        tags=["food"],
    )
    delta = await customers.create_customer(system, {"name": "Delta"})
    await customers.archive_customer(system, gamma["id"])
    for row, day in ((alpha, 1), (beta, 32), (gamma, 45), (delta, 60)):
        created = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=day - 1)
        await Customer.update({Customer.created_at: created}).where(Customer.id == row["id"])

    cases = [
        ({}, {"Alpha Trading", "Beta Foods", "Delta"}),
        ({"ownerId": rep_a.gid}, {"Alpha Trading"}),
        ({"ownerId": rep_a.gid, "archived": None}, {"Alpha Trading", "Gamma 100%"}),
        ({"teamId": encode_id("Team", rep_b.team_id)}, {"Beta Foods"}),
        ({"tier": "gold"}, {"Alpha Trading"}),
        ({"lifecycleStage": "NEW"}, {"Beta Foods"}),
        ({"lifecycleStage": "LOST"}, set()),
        ({"tag": "VIP"}, {"Alpha Trading", "Beta Foods"}),
        ({"tag": "food", "archived": None}, {"Beta Foods", "Gamma 100%"}),
        ({"tag": "nope"}, set()),
        ({"region": "East"}, {"Alpha Trading"}),
        ({"industry": "Food"}, {"Beta Foods"}),
        ({"search": "alpha"}, {"Alpha Trading"}),
        ({"search": "TRADING"}, {"Alpha Trading"}),
        ({"search": "beta.CN"}, {"Beta Foods"}),
        ({"search": "0013800"}, {"Alpha Trading"}),
        ({"search": "138-0013-8000"}, {"Alpha Trading"}),
        ({"search": "%"}, set()),  # literal, not a wildcard
        ({"search": "%", "archived": None}, {"Gamma 100%"}),
        ({"search": "   "}, {"Alpha Trading", "Beta Foods", "Delta"}),
        ({"search": "100%", "archived": True}, {"Gamma 100%"}),
        ({"search": "zzz"}, set()),
        ({"archived": True}, {"Gamma 100%"}),
        ({"archived": False}, {"Alpha Trading", "Beta Foods", "Delta"}),
        ({"archived": None}, {"Alpha Trading", "Beta Foods", "Gamma 100%", "Delta"}),
        ({"createdAfter": "2025-01-15T00:00:00Z"}, {"Beta Foods", "Delta"}),
        ({"createdBefore": "2025-02-01T00:00:00Z"}, {"Alpha Trading"}),
        (
            {
                "createdAfter": "2025-01-15T00:00:00Z",
                "createdBefore": "2025-02-15T00:00:00Z",
                "archived": None,
            },
            {"Beta Foods", "Gamma 100%"},
        ),
        ({"createdAfter": "2025-02-01T00:00:00Z"}, {"Beta Foods", "Delta"}),  # inclusive
        ({"tier": "gold", "ownerId": rep_b.gid}, set()),
        ({"tier": "silver", "tag": "vip", "region": "West"}, {"Beta Foods"}),
    ]
    for filter, expected in cases:
        body = await gql(LIST, {"first": 50, "filter": filter}, user=admin)
        conn = body["data"]["customers"]
        names = [e["node"]["name"] for e in conn["edges"]]
        assert set(names) == expected, filter
        assert len(names) == len(expected), filter
        assert conn["totalCount"] == len(expected), filter

    body = await gql(
        LIST, {"first": 5, "filter": {"ownerId": "garbage!!"}}, user=admin, expect_errors=True
    )
    assert error_codes(body) == ["VALIDATION"]


async def test_search_is_case_insensitive_beyond_ascii(kehu, make_user, gql, system):
    admin = await make_user("admin")
    await customers.create_customer(system, {"name": "Über Handel GmbH"})
    await customers.create_customer(system, {"name": "Ånd Co"})
    for text, expected in (("über", ["Über Handel GmbH"]), ("ÅND", ["Ånd Co"])):
        body = await gql(LIST, {"first": 5, "filter": {"search": text}}, user=admin)
        assert [e["node"]["name"] for e in body["data"]["customers"]["edges"]] == expected


async def test_search_treats_wildcards_literally(kehu, make_user, gql, system):
    admin = await make_user("admin")
    for name in ("abc", "a_c", "50% off", "500 off", "back\\slash"):
        await customers.create_customer(system, {"name": name})
    for text, expected in (
        ("a_c", ["a_c"]),
        ("_", ["a_c"]),
        ("50%", ["50% off"]),
        ("%", ["50% off"]),
        ("\\", ["back\\slash"]),
    ):
        body = await gql(LIST, {"first": 5, "filter": {"search": text}}, user=admin)
        names = [e["node"]["name"] for e in body["data"]["customers"]["edges"]]
        assert names == expected, text


# -- update ------------------------------------------------------------------------------


async def test_update_with_expected_version(kehu, make_user, gql, system):
    admin = await make_user("admin")
    c = await customers.create_customer(system, {"name": "Old Name", "tier": "gold"})
    body = await gql(
        UPDATE,
        {
            "input": {
                "id": cid(c["id"]),
                "expectedVersion": 1,
                "name": "New Name",
                "email": "X@Y.com",
                "tier": None,
                "lifecycleStage": "LOYAL",
            }
        },
        user=admin,
    )
    payload = body["data"]["updateCustomer"]
    assert payload["errors"] == []
    u = payload["customer"]
    assert (u["name"], u["email"], u["tier"], u["lifecycleStage"], u["version"]) == (
        "New Name",
        "x@y.com",
        None,
        "LOYAL",
        2,
    )
    assert u["updatedAt"] >= u["createdAt"]

    body = await gql(
        UPDATE,
        {"input": {"id": cid(c["id"]), "expectedVersion": 2, "region": "North"}},
        user=admin,
    )
    assert body["data"]["updateCustomer"]["customer"]["version"] == 3

    # a stale version is a CONFLICT and changes nothing
    body = await gql(
        UPDATE,
        {"input": {"id": cid(c["id"]), "expectedVersion": 2, "name": "Lost Update"}},
        user=admin,
        expect_errors=True,
    )
    assert body["data"] is None
    assert error_codes(body) == ["CONFLICT"]
    row = await db_customer(c["id"])
    assert (row["name"], row["region"], row["version"]) == ("New Name", "North", 3)

    audit = await audit_rows(gql, admin, "customer", c["id"])
    updated = [a for a in audit if a["action"] == "updated"]
    assert len(updated) == 2  # the conflicting update wrote no audit row
    latest_first = updated[1]
    assert latest_first["before"]["name"] == "Old Name"
    assert latest_first["after"]["name"] == "New Name"
    assert "region" not in latest_first["after"]  # only changed fields are recorded


async def test_update_validation_error_changes_nothing(kehu, make_user, gql, system):
    admin = await make_user("admin")
    c = await customers.create_customer(system, {"name": "Stable", "email": "s@x.com"})
    body = await gql(
        UPDATE,
        {"input": {"id": cid(c["id"]), "expectedVersion": 1, "email": "broken", "name": "Changed"}},
        user=admin,
    )
    payload = body["data"]["updateCustomer"]
    assert payload["customer"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("email", "INVALID_EMAIL")]
    row = await db_customer(c["id"])
    assert (row["name"], row["email"], row["version"]) == ("Stable", "s@x.com", 1)


async def test_update_missing_customer_is_not_found(kehu, make_user, gql):
    admin = await make_user("admin")
    body = await gql(
        UPDATE,
        {"input": {"id": cid(424242), "expectedVersion": 1, "name": "X"}},
        user=admin,
        expect_errors=True,
    )
    assert error_codes(body) == ["NOT_FOUND"]


async def test_concurrent_updates_with_the_same_version_one_wins(kehu, make_user, gql, system):
    admin = await make_user("admin")
    c = await customers.create_customer(system, {"name": "Contested"})
    results = await asyncio.gather(
        *[
            gql(
                UPDATE,
                {"input": {"id": cid(c["id"]), "expectedVersion": 1, "name": f"Writer {i}"}},
                user=admin,
                expect_errors=True,
            )
            for i in range(3)
        ]
    )
    winners = [r["data"]["updateCustomer"]["customer"] for r in results if r.get("data")]
    assert len(winners) == 1
    assert sorted(code for r in results for code in error_codes(r)) == ["CONFLICT", "CONFLICT"]
    row = await db_customer(c["id"])
    assert (row["name"], row["version"]) == (winners[0]["name"], 2)


# -- archive / restore -------------------------------------------------------------------


async def test_archive_and_restore(kehu, make_user, gql, system):
    admin = await make_user("admin")
    c = await customers.create_customer(system, {"name": "Sleepy"})
    await customers.create_customer(system, {"name": "Awake"})

    body = await gql(
        ARCHIVE,
        {"input": {"id": cid(c["id"]), "expectedVersion": 5}},
        user=admin,
        expect_errors=True,
    )
    assert error_codes(body) == ["CONFLICT"]
    assert (await db_customer(c["id"]))["archived_at"] is None

    body = await gql(ARCHIVE, {"input": {"id": cid(c["id"]), "expectedVersion": 1}}, user=admin)
    archived = body["data"]["archiveCustomer"]["customer"]
    assert archived["archived"] is True and archived["archivedAt"] is not None
    assert archived["version"] == 2

    body = await gql(LIST, {"first": 10}, user=admin)
    assert [e["node"]["name"] for e in body["data"]["customers"]["edges"]] == ["Awake"]
    assert body["data"]["customers"]["totalCount"] == 1
    body = await gql(LIST, {"first": 10, "filter": {"archived": True}}, user=admin)
    assert [e["node"]["name"] for e in body["data"]["customers"]["edges"]] == ["Sleepy"]
    body = await gql(GET, {"id": cid(c["id"])}, user=admin)  # still readable by id
    assert body["data"]["customer"]["archived"] is True

    # archived customers are read-only
    body = await gql(
        UPDATE, {"input": {"id": cid(c["id"]), "expectedVersion": 2, "name": "Renamed"}}, user=admin
    )
    payload = body["data"]["updateCustomer"]
    assert payload["customer"] is None
    assert [e["field"] for e in payload["errors"]] == ["id"]
    body = await gql(ARCHIVE, {"input": {"id": cid(c["id"])}}, user=admin)
    assert body["data"]["archiveCustomer"]["errors"][0]["field"] == "id"
    body = await gql(
        """mutation($id: ID!) { createContact(input: {customerId: $id, name: "Late"}) {
             contact { id } errors { field code } } }""",
        {"id": cid(c["id"])},
        user=admin,
    )
    assert body["data"]["createContact"]["contact"] is None
    assert body["data"]["createContact"]["errors"][0]["field"] == "customerId"
    row = await db_customer(c["id"])
    assert (row["name"], row["version"]) == ("Sleepy", 2)
    assert await Contact.count() == 0

    body = await gql(RESTORE, {"input": {"id": cid(c["id"]), "expectedVersion": 2}}, user=admin)
    restored = body["data"]["restoreCustomer"]["customer"]
    assert restored["archived"] is False and restored["archivedAt"] is None
    assert restored["version"] == 3
    body = await gql(RESTORE, {"input": {"id": cid(c["id"])}}, user=admin)
    assert body["data"]["restoreCustomer"]["errors"][0]["field"] == "id"
    body = await gql(LIST, {"first": 10}, user=admin)
    assert body["data"]["customers"]["totalCount"] == 2
    body = await gql(
        UPDATE, {"input": {"id": cid(c["id"]), "expectedVersion": 3, "name": "Renamed"}}, user=admin
    )
    assert body["data"]["updateCustomer"]["customer"]["name"] == "Renamed"

    actions = [a["action"] for a in await audit_rows(gql, admin, "customer", c["id"])]
    assert actions == ["updated", "restored", "archived", "created"]  # newest first


async def test_archived_customer_tags_are_read_only(kehu, make_user, gql, system):
    admin = await make_user("admin")
    c = await customers.create_customer(system, {"name": "Frozen"}, tags=["old"])
    await customers.archive_customer(system, c["id"])
    body = await gql(SET_TAGS, {"input": {"id": cid(c["id"]), "add": ["new"]}}, user=admin)
    payload = body["data"]["setCustomerTags"]
    assert payload["customer"] is None
    assert payload["errors"][0]["field"] == "id"
    assert (await customers.tags_by_customer([c["id"]]))[c["id"]] == ["old"]
    assert (await db_customer(c["id"]))["version"] == 2


# -- tags --------------------------------------------------------------------------------


async def test_tags_add_remove_replace_and_filter(kehu, make_user, gql, system):
    admin = await make_user("admin")
    c = await customers.create_customer(system, {"name": "Tagged"}, tags=["old", "VIP"])
    other = await customers.create_customer(system, {"name": "Other"}, tags=["vip"])
    gid = cid(c["id"])

    body = await gql(
        SET_TAGS,
        {"input": {"id": gid, "add": ["New", " vip "], "remove": ["OLD", "absent"]}},
        user=admin,
    )
    t = body["data"]["setCustomerTags"]["customer"]
    assert t["tags"] == ["new", "vip"]
    assert t["version"] == 2

    # no change: no new version
    body = await gql(SET_TAGS, {"input": {"id": gid, "add": ["new"]}}, user=admin)
    assert body["data"]["setCustomerTags"]["customer"]["version"] == 2

    async def tagged(tag: str) -> set[str]:
        body = await gql(LIST, {"first": 10, "filter": {"tag": tag}}, user=admin)
        return {e["node"]["name"] for e in body["data"]["customers"]["edges"]}

    assert await tagged("vip") == {"Tagged", "Other"}
    assert await tagged("old") == set()

    body = await gql(
        SET_TAGS,
        {"input": {"id": gid, "replace": ["Gold", "gold", "Key"], "add": ["ignored"]}},
        user=admin,
    )
    assert body["data"]["setCustomerTags"]["customer"]["tags"] == ["gold", "key"]
    assert await tagged("vip") == {"Other"}
    assert await tagged("GOLD") == {"Tagged"}

    body = await gql(SET_TAGS, {"input": {"id": gid, "add": ["x" * 51]}}, user=admin)
    payload = body["data"]["setCustomerTags"]
    assert payload["customer"] is None and payload["errors"][0]["field"] == "tags"

    body = await gql(SET_TAGS, {"input": {"id": gid, "replace": []}}, user=admin)
    assert body["data"]["setCustomerTags"]["customer"]["tags"] == []
    assert (await customers.tags_by_customer([c["id"], other["id"]])) == {
        c["id"]: [],
        other["id"]: ["vip"],
    }
    tagged_rows = [
        a for a in await audit_rows(gql, admin, "customer", c["id"]) if a["action"] == "tagged"
    ]
    assert tagged_rows[0]["before"] == {"tags": ["gold", "key"]}
    assert tagged_rows[0]["after"] == {"tags": []}


# -- merge -------------------------------------------------------------------------------


async def merge_fixture(system):
    rep = users.actor_for(
        await users.create_user(system, {"username": "merger-rep", "role": "sales"})
    )
    survivor = await customers.create_customer(
        system,
        {"name": "Survivor", "phone": "13800138000", "region": "East", "custom_fields": {"a": 1}},
        tags=["keep"],
    )
    merged = await customers.create_customer(
        system,
        {
            "name": "Merged Co",
            "email": "m@merged.com",
            "tier": "gold",
            "region": "West",
            "industry": "Retail",
            "custom_fields": {"a": 2, "b": 3},
        },
        tags=["moved", "keep"],
    )
    s_contact = await contacts.create_contact(system, survivor["id"], {"name": "Sam"})
    m_contacts = [
        await contacts.create_contact(system, merged["id"], {"name": n}) for n in ("Mia", "Max")
    ]
    s_act = await activities.log_activity(system, survivor["id"], {"subject": "s1"})
    m_acts = [
        await activities.log_activity(system, merged["id"], {"subject": f"m{i}"}) for i in range(3)
    ]
    return rep, survivor, merged, s_contact, m_contacts, s_act, m_acts


async def test_merge_moves_everything_and_archives_merged(kehu, make_user, gql, system):
    admin = await make_user("admin")
    _, survivor, merged, s_contact, m_contacts, s_act, m_acts = await merge_fixture(system)
    body = await gql(
        MERGE,
        {
            "input": {
                "survivorId": cid(survivor["id"]),
                "mergedId": cid(merged["id"]),
                "expectedVersion": 1,
            }
        },
        user=admin,
    )
    payload = body["data"]["mergeCustomers"]
    assert payload["errors"] == []
    s = payload["customer"]
    assert s["databaseId"] == survivor["id"]
    assert s["email"] == "m@merged.com"  # empty survivor fields are filled
    assert s["tier"] == "gold"
    assert s["industry"] == "Retail"
    assert s["region"] == "East"  # non-empty survivor fields are kept
    assert s["phone"] == "+8613800138000"
    assert s["customFields"] == {"a": 1, "b": 3}
    assert s["tags"] == ["keep", "moved"]
    assert s["version"] == 2

    body = await gql(
        """query($s: ID!, $m: ID!) {
          s: customer(id: $s) { contacts { databaseId customer { databaseId } }
                                activities(first: 50) { totalCount nodes { databaseId } } }
          m: customer(id: $m) { archived version mergedInto { id databaseId }
                                contacts { id } activities { totalCount } } }""",
        {"s": cid(survivor["id"]), "m": cid(merged["id"])},
        user=admin,
    )
    data = body["data"]
    contact_ids = {c["databaseId"] for c in data["s"]["contacts"]}
    assert contact_ids == {s_contact["id"], *(c["id"] for c in m_contacts)}
    assert {c["customer"]["databaseId"] for c in data["s"]["contacts"]} == {survivor["id"]}
    assert data["s"]["activities"]["totalCount"] == 4
    assert {a["databaseId"] for a in data["s"]["activities"]["nodes"]} == {
        s_act["id"],
        *(a["id"] for a in m_acts),
    }
    assert data["m"]["archived"] is True
    assert data["m"]["mergedInto"]["databaseId"] == survivor["id"]
    assert data["m"]["contacts"] == [] and data["m"]["activities"]["totalCount"] == 0

    body = await gql(LIST, {"first": 10}, user=admin)
    assert [e["node"]["name"] for e in body["data"]["customers"]["edges"]] == ["Survivor"]

    s_audit = await audit_rows(gql, admin, "customer", survivor["id"])
    [merge_row] = [a for a in s_audit if a["action"] == "merged"]
    assert merge_row["after"]["merged_id"] == merged["id"]
    assert sorted(merge_row["after"]["contacts"]) == sorted(c["id"] for c in m_contacts)
    assert sorted(merge_row["after"]["activities"]) == sorted(a["id"] for a in m_acts)
    assert set(merge_row["after"]["filled_fields"]) >= {"email", "tier", "industry"}
    assert merge_row["before"]["merged"]["name"] == "Merged Co"
    assert merge_row["actorId"] == admin.id
    m_audit = await audit_rows(gql, admin, "customer", merged["id"])
    assert [a["after"] for a in m_audit if a["action"] == "merged_into"] == [
        {"merged_into": survivor["id"]}
    ]

    # a merged customer cannot be restored
    body = await gql(RESTORE, {"input": {"id": cid(merged["id"])}}, user=admin)
    assert body["data"]["restoreCustomer"]["errors"][0]["field"] == "id"


async def test_merge_rejections_change_nothing(kehu, make_user, gql, system):
    admin = await make_user("admin")
    rep = await make_user("sales", team="North")
    _, survivor, merged, *_ = await merge_fixture(system)
    snapshot = (
        await Customer.select(Customer.id, Customer.version, Customer.archived_at).order_by(
            Customer.id
        ),
        await Contact.select(Contact.id, Contact.customer).order_by(Contact.id),
        await Activity.select(Activity.id, Activity.customer).order_by(Activity.id),
        await CustomerTag.count(),
    )
    s, m = cid(survivor["id"]), cid(merged["id"])

    body = await gql(
        MERGE,
        {"input": {"survivorId": s, "mergedId": m, "expectedVersion": 9}},
        user=admin,
        expect_errors=True,
    )
    assert error_codes(body) == ["CONFLICT"]

    body = await gql(
        MERGE, {"input": {"survivorId": s, "mergedId": m}}, user=rep, expect_errors=True
    )
    assert error_codes(body) == ["FORBIDDEN"]

    body = await gql(MERGE, {"input": {"survivorId": s, "mergedId": s}}, user=admin)
    assert body["data"]["mergeCustomers"]["errors"][0]["field"] == "mergedId"

    body = await gql(
        MERGE, {"input": {"survivorId": s, "mergedId": cid(999999)}}, user=admin, expect_errors=True
    )
    assert error_codes(body) == ["NOT_FOUND"]

    body = await gql(MERGE, {"input": {"survivorId": s, "mergedId": "garbage!!"}}, user=admin)
    assert body["data"]["mergeCustomers"]["errors"][0]["field"] == "mergedId"

    assert snapshot == (
        await Customer.select(Customer.id, Customer.version, Customer.archived_at).order_by(
            Customer.id
        ),
        await Contact.select(Contact.id, Contact.customer).order_by(Contact.id),
        await Activity.select(Activity.id, Activity.customer).order_by(Activity.id),
        await CustomerTag.count(),
    )

    other = await customers.create_customer(system, {"name": "Gone"})
    await customers.archive_customer(system, other["id"])
    body = await gql(MERGE, {"input": {"survivorId": s, "mergedId": cid(other["id"])}}, user=admin)
    assert body["data"]["mergeCustomers"]["errors"][0]["field"] == "mergedId"
    body = await gql(MERGE, {"input": {"survivorId": cid(other["id"]), "mergedId": m}}, user=admin)
    assert body["data"]["mergeCustomers"]["errors"][0]["field"] == "survivorId"


async def test_merge_keeps_a_single_primary_contact(kehu, make_user, gql, system):
    admin = await make_user("admin")
    survivor = await customers.create_customer(system, {"name": "Keeper"})
    merged = await customers.create_customer(system, {"name": "Folded"})
    await contacts.create_contact(system, survivor["id"], {"name": "Sue", "is_primary": True})
    await contacts.create_contact(system, merged["id"], {"name": "Mo", "is_primary": True})
    body = await gql(
        MERGE,
        {"input": {"survivorId": cid(survivor["id"]), "mergedId": cid(merged["id"])}},
        user=admin,
    )
    assert body["data"]["mergeCustomers"]["errors"] == []
    body = await gql(
        "query($id: ID!) { customer(id: $id) { contacts { name isPrimary } } }",
        {"id": cid(survivor["id"])},
        user=admin,
    )
    assert body["data"]["customer"]["contacts"] == [
        {"name": "Sue", "isPrimary": True},
        {"name": "Mo", "isPrimary": False},
    ]


# -- handover ----------------------------------------------------------------------------


async def handover_fixture(system, rep_a, other):
    owned = []
    for i in range(3):
        c = await customers.create_customer(rep_a.actor, {"name": f"A{i}"})
        planned = await activities.log_activity(
            rep_a.actor,
            c["id"],
            {
                "subject": f"follow up {i}",
                "status": "planned",
                "due_at": datetime.now(UTC) + timedelta(days=3),
            },
        )
        done = await activities.log_activity(rep_a.actor, c["id"], {"subject": f"call {i}"})
        owned.append((c, planned, done))
    untouched = await customers.create_customer(other.actor, {"name": "Not A's"})
    return owned, untouched


async def test_reassign_all_customers_of_a_user(kehu, make_user, gql, system):
    manager = await make_user("manager", team="North")
    rep_a = await make_user("sales", team="North")
    rep_b = await make_user("sales", team="North")
    rep_c = await make_user("sales", team="North")
    owned, untouched = await handover_fixture(system, rep_a, rep_c)

    body = await gql(
        REASSIGN, {"input": {"fromUserId": rep_a.gid, "toUserId": rep_b.gid}}, user=manager
    )
    payload = body["data"]["reassignCustomers"]
    assert payload["errors"] == []
    assert sorted(c["databaseId"] for c in payload["customers"]) == sorted(
        c["id"] for c, _, _ in owned
    )
    assert {c["owner"]["username"] for c in payload["customers"]} == {rep_b.username}
    assert {c["version"] for c in payload["customers"]} == {2}

    for c, planned, done in owned:
        row = await db_customer(c["id"])
        assert (row["owner"], row["team"]) == (rep_b.id, rep_b.team_id)
        acts = {a["id"]: a for a in await Activity.select().where(Activity.customer == c["id"])}
        assert set(acts) == {planned["id"], done["id"]}  # history stays attached
        assert acts[planned["id"]]["owner"] == rep_b.id  # open work moves
        assert acts[done["id"]]["owner"] == rep_a.id  # done work keeps its author
    assert (await db_customer(untouched["id"]))["owner"] == rep_c.id

    body = await gql(LIST, {"first": 10, "filter": {"ownerId": rep_a.gid}}, user=manager)
    assert body["data"]["customers"]["totalCount"] == 0
    body = await gql(LIST, {"first": 10}, user=rep_b)
    assert {e["node"]["name"] for e in body["data"]["customers"]["edges"]} == {"A0", "A1", "A2"}

    for c, _, _ in owned:
        [row] = [
            a
            for a in await audit_rows(gql, manager, "customer", c["id"])
            if a["action"] == "reassigned"
        ]
        assert row["before"] == {"owner": rep_a.id, "team": rep_a.team_id}
        assert row["after"] == {"owner": rep_b.id, "team": rep_b.team_id}
        assert row["actorId"] == manager.id

    # nothing left to hand over: an empty result, not an error
    body = await gql(
        REASSIGN, {"input": {"fromUserId": rep_a.gid, "toUserId": rep_b.gid}}, user=manager
    )
    assert body["data"]["reassignCustomers"] == {"customers": [], "errors": []}


async def test_reassign_selected_customers_without_open_activities(kehu, make_user, gql, system):
    admin = await make_user("admin")
    rep_a = await make_user("sales", team="North")
    rep_b = await make_user("sales", team="South")
    owned, _ = await handover_fixture(system, rep_a, rep_b)
    (c0, planned0, _), (c1, _, _), _ = owned
    body = await gql(
        REASSIGN,
        {
            "input": {
                "toUserId": rep_b.gid,
                "customerIds": [cid(c0["id"])],
                "includeOpenActivities": False,
            }
        },
        user=admin,
    )
    [moved] = body["data"]["reassignCustomers"]["customers"]
    assert moved["databaseId"] == c0["id"]
    assert moved["team"]["name"] == "South"  # team follows the new owner
    assert (await Activity.select().where(Activity.id == planned0["id"]).first())["owner"] == (
        rep_a.id
    )
    assert (await db_customer(c1["id"]))["owner"] == rep_a.id


async def test_reassign_requires_manager_or_admin(kehu, make_user, gql, system):
    rep_a = await make_user("sales", team="North")
    rep_b = await make_user("sales", team="North")
    await handover_fixture(system, rep_a, rep_b)
    before = await Customer.select(Customer.id, Customer.owner, Customer.version)
    for who in (rep_a, rep_b, await make_user("viewer", team="North"), await make_user("finance")):
        body = await gql(
            REASSIGN,
            {"input": {"fromUserId": rep_a.gid, "toUserId": rep_b.gid}},
            user=who,
            expect_errors=True,
        )
        assert body["data"] is None
        assert error_codes(body) == ["FORBIDDEN"], who.role
    assert await Customer.select(Customer.id, Customer.owner, Customer.version) == before


async def test_reassign_input_errors(kehu, make_user, gql, system):
    admin = await make_user("admin")
    rep = await make_user("sales", team="North")
    gone = await make_user("sales", team="North")
    await users.update_user(system, gone.id, {"active": False})
    body = await gql(REASSIGN, {"input": {"toUserId": rep.gid}}, user=admin)
    assert body["data"]["reassignCustomers"]["errors"][0]["field"] == "fromUserId"
    body = await gql(REASSIGN, {"input": {"toUserId": gone.gid, "fromUserId": rep.gid}}, user=admin)
    assert body["data"]["reassignCustomers"]["errors"][0]["field"] == "toUserId"
    body = await gql(
        REASSIGN,
        {"input": {"toUserId": rep.gid, "customerIds": [cid(99999)]}},
        user=admin,
        expect_errors=True,
    )
    assert error_codes(body) == ["NOT_FOUND"]
