"""DataLoaders keep the number of SQL queries per request constant, whatever the page size."""

from datetime import UTC, datetime, timedelta

import pytest

from kehu.core.db import count_queries
from kehu.core.graphql.base import encode_id
from kehu.core.tables import Activity, Contact, Customer, CustomerTag
from kehu.core.validation import name_key


@pytest.fixture
def kehu_plugins() -> list[str]:
    """Core only: plugins add timeline entries, hooks and fields of their own."""
    return ["core"]


CUSTOMERS = 50
CONTACTS_EACH = 3
ACTIVITIES_EACH = 4
MAX_QUERIES = 10

CUSTOMER_PAGE = """query($first: Int!) {
  customers(first: $first) {
    totalCount
    edges { cursor node {
      id name tier tags
      owner { username team { name } }
      team { name }
      contacts { name isPrimary customer { name } }
      recentActivities(limit: 3) {
        subject status owner { username } contact { name } customer { name }
      }
    } }
    pageInfo { hasNextPage endCursor }
  } }"""

ACTIVITY_PAGE = """query($first: Int!) {
  activities(first: $first) {
    totalCount
    nodes { subject customer { name owner { username } tags } contact { name customer { name } }
            owner { username team { name } } }
  } }"""


@pytest.fixture
async def crowd(kehu, make_user):
    """50 customers, each with 3 contacts and 4 activities, 2 tags, owners in 2 teams."""
    owners = [await make_user("sales", team="North"), await make_user("sales", team="South")]
    admin = await make_user("admin")
    customer_rows = [
        Customer(
            name=f"Customer {i:02d}",
            name_key=name_key(f"Customer {i:02d}"),
            owner=owners[i % 2].id,
            team=owners[i % 2].team_id,
            tier="gold",
        )
        for i in range(CUSTOMERS)
    ]
    ids = [r["id"] for r in await Customer.insert(*customer_rows).returning(Customer.id)]
    await CustomerTag.insert(
        *[CustomerTag(customer=cid, tag=tag) for cid in ids for tag in ("vip", f"t{cid % 5}")]
    )
    contact_ids = await Contact.insert(
        *[
            Contact(customer=cid, name=f"Person {cid}-{n}", is_primary=n == 0)
            for cid in ids
            for n in range(CONTACTS_EACH)
        ]
    ).returning(Contact.id, Contact.customer)
    first_contact = {}
    for row in contact_ids:
        first_contact.setdefault(row["customer"], row["id"])
    base = datetime(2025, 1, 1, tzinfo=UTC)
    await Activity.insert(
        *[
            Activity(
                customer=cid,
                contact=first_contact[cid] if n % 2 == 0 else None,
                owner=owners[(cid + n) % 2].id,
                subject=f"Touch {cid}-{n}",
                status="done",
                occurred_at=base + timedelta(hours=n),
                completed_at=base + timedelta(hours=n),
            )
            for cid in ids
            for n in range(ACTIVITIES_EACH)
        ]
    )
    return admin


async def counted(gql, query: str, first: int, user) -> tuple[int, dict, list[str]]:
    with count_queries() as log:
        body = await gql(query, {"first": first}, user=user)
    return log.count, body["data"], log.statements


async def test_customer_list_query_count_is_constant(crowd, gql):
    admin = crowd
    await gql("{ me { id } }", user=admin)  # first use of the key records last_used_at
    small, data_small, _ = await counted(gql, CUSTOMER_PAGE, 5, admin)
    large, data_large, statements = await counted(gql, CUSTOMER_PAGE, CUSTOMERS, admin)

    edges = data_large["customers"]["edges"]
    assert len(edges) == CUSTOMERS and len(data_small["customers"]["edges"]) == 5
    assert data_large["customers"]["totalCount"] == CUSTOMERS
    for edge in edges:  # every relation really was resolved
        node = edge["node"]
        assert len(node["tags"]) == 2
        assert node["owner"]["team"]["name"] == node["team"]["name"]
        assert len(node["contacts"]) == CONTACTS_EACH
        assert node["contacts"][0]["isPrimary"] is True
        assert {c["customer"]["name"] for c in node["contacts"]} == {node["name"]}
        recent = node["recentActivities"]
        assert len(recent) == 3
        assert all(a["owner"] and a["customer"]["name"] == node["name"] for a in recent)
        assert sum(1 for a in recent if a["contact"]) >= 1

    assert small == large, "\n".join(statements)
    assert large <= MAX_QUERIES, "\n".join(statements)
    assert any("core_contact" in s for s in statements)  # the log really records queries


async def test_activity_list_query_count_is_constant(crowd, gql):
    admin = crowd
    await gql("{ me { id } }", user=admin)
    small, _, _ = await counted(gql, ACTIVITY_PAGE, 5, admin)
    large, data, statements = await counted(gql, ACTIVITY_PAGE, 100, admin)
    nodes = data["activities"]["nodes"]
    assert len(nodes) == 100
    assert all(n["customer"]["owner"] and n["owner"]["team"] for n in nodes)
    assert small == large, "\n".join(statements)
    assert large <= MAX_QUERIES, "\n".join(statements)


async def test_node_lookups_are_batched(crowd, gql):
    """Many aliased root lookups in one request share the DataLoaders."""
    admin = crowd
    await gql("{ me { id } }", user=admin)
    ids = [r["id"] for r in await Customer.select(Customer.id).order_by(Customer.id).limit(20)]

    def query(n: int) -> str:
        fields = " ".join(
            f'c{i}: node(id: "{encode_id("Customer", pk)}") '
            f"{{ ... on Customer {{ name tags owner {{ username }} }} }}"
            for i, pk in enumerate(ids[:n])
        )
        return f"{{ {fields} }}"

    with count_queries() as log_small:
        await gql(query(2), user=admin)
    with count_queries() as log_large:
        body = await gql(query(20), user=admin)
    assert all(v["name"] for v in body["data"].values())
    assert log_small.count == log_large.count, "\n".join(log_large.statements)


FAN_OUT = """query($first: Int!) {
  customers(first: $first) { nodes {
    name
    activities(first: 2) {
      totalCount
      edges { cursor node { subject createdAt customer { name } } }
      pageInfo { hasNextPage endCursor }
    }
  } } }"""

NEXT_PAGE = """query($id: ID!, $after: String!) {
  node(id: $id) { ... on Customer { activities(first: 2, after: $after) {
    nodes { subject } pageInfo { hasNextPage } } } } }"""


async def test_each_customers_activities_page_is_batched(crowd, gql):
    """``activities(first:)`` on every customer of a page: constant queries, and the same
    pages and cursors as asking for one customer at a time."""
    admin = crowd
    await gql("{ me { id } }", user=admin)
    small, _, _ = await counted(gql, FAN_OUT, 5, admin)
    large, data, statements = await counted(gql, FAN_OUT, CUSTOMERS, admin)
    assert small == large, "\n".join(statements)
    assert large <= MAX_QUERIES, "\n".join(statements)
    nodes = data["customers"]["nodes"]
    assert len(nodes) == CUSTOMERS
    for node in nodes[:3]:
        page = node["activities"]
        assert page["totalCount"] == ACTIVITIES_EACH and page["pageInfo"]["hasNextPage"]
        assert [e["node"]["customer"]["name"] for e in page["edges"]] == [node["name"]] * 2
        created = [e["node"]["createdAt"] for e in page["edges"]]
        assert created == sorted(created, reverse=True)
    # the batched cursor continues exactly where the unbatched path would
    customer = (await Customer.select(Customer.id).order_by(Customer.id).first())["id"]
    gid = encode_id("Customer", customer)
    first = await gql(
        "query($id: ID!) { node(id: $id) { ... on Customer { name activities(first: 2) {"
        " nodes { subject } pageInfo { endCursor } } } } }",
        {"id": gid},
        user=admin,
    )
    page = first["data"]["node"]["activities"]
    rest = await gql(NEXT_PAGE, {"id": gid, "after": page["pageInfo"]["endCursor"]}, user=admin)
    subjects = [n["subject"] for n in page["nodes"]] + [
        n["subject"] for n in rest["data"]["node"]["activities"]["nodes"]
    ]
    expected = [
        r["subject"]
        for r in await Activity.select(Activity.subject)
        .where(Activity.customer == customer)
        .order_by(Activity.created_at, Activity.id, ascending=False)
    ]
    assert subjects == expected
    assert rest["data"]["node"]["activities"]["pageInfo"]["hasNextPage"] is False
