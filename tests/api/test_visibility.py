"""Record visibility over GraphQL/HTTP: sales see their own customers, managers their team,
admins and finance everything; nothing invisible leaks through ids, lists, counts, search,
node, related objects or mutations."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kehu.core.errors import NotFound
from kehu.core.graphql.base import encode_id
from kehu.core.services import activities, contacts, customers, timeline
from kehu.core.tables import Activity, AuditLog, Contact, Customer, CustomerTag


@pytest.fixture
def kehu_plugins() -> list[str]:
    """Core only: plugins add timeline entries, hooks and fields of their own."""
    return ["core"]


LIST = """query($filter: CustomerFilter) {
  customers(first: 50, filter: $filter) { totalCount nodes { databaseId name } } }"""
GET = "query($id: ID!) { customer(id: $id) { databaseId name } }"
NODE = "query($id: ID!) { node(id: $id) { id __typename } }"
ACTIVITIES = """query($filter: ActivityFilter) {
  activities(first: 50, filter: $filter) {
    totalCount nodes { databaseId customer { databaseId } } } }"""


def gid(type_name: str, pk: int) -> str:
    return encode_id(type_name, pk)


def error_codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


@dataclass
class World:
    sales_a: Any
    sales_a2: Any  # same team as A, own-only visibility
    sales_b: Any
    mgr_north: Any
    mgr_south: Any
    support_north: Any
    viewer_north: Any
    finance: Any
    admin: Any
    cust_a: dict
    cust_b: dict
    contact_a: dict
    contact_b: dict
    done_a: dict
    planned_a: dict
    done_b: dict


@pytest.fixture
async def world(kehu, make_user) -> World:
    sales_a = await make_user("sales", team="North")
    sales_a2 = await make_user("sales", team="North")
    sales_b = await make_user("sales", team="South")
    cust_a = await customers.create_customer(
        sales_a.actor,
        {"name": "Alpha Trading", "email": "hello@alpha.com", "phone": "13800138000"},
        tags=["shared", "alpha"],
    )
    cust_b = await customers.create_customer(sales_b.actor, {"name": "Beta Foods"}, tags=["shared"])
    contact_a = await contacts.create_contact(sales_a.actor, cust_a["id"], {"name": "Ann"})
    contact_b = await contacts.create_contact(sales_b.actor, cust_b["id"], {"name": "Ben"})
    done_a = await activities.log_activity(
        sales_a.actor, cust_a["id"], {"subject": "A call", "contact": contact_a["id"]}
    )
    planned_a = await activities.log_activity(
        sales_a.actor,
        cust_a["id"],
        {"subject": "A plan", "status": "planned", "due_at": datetime.now(UTC) + timedelta(days=1)},
    )
    done_b = await activities.log_activity(sales_b.actor, cust_b["id"], {"subject": "B call"})
    return World(
        sales_a=sales_a,
        sales_a2=sales_a2,
        sales_b=sales_b,
        mgr_north=await make_user("manager", team="North"),
        mgr_south=await make_user("manager", team="South"),
        support_north=await make_user("support", team="North"),
        viewer_north=await make_user("viewer", team="North"),
        finance=await make_user("finance"),
        admin=await make_user("admin"),
        cust_a=cust_a,
        cust_b=cust_b,
        contact_a=contact_a,
        contact_b=contact_b,
        done_a=done_a,
        planned_a=planned_a,
        done_b=done_b,
    )


async def visible_names(gql, user, filter: dict | None = None) -> tuple[set[str], int]:
    body = await gql(LIST, {"filter": filter}, user=user)
    conn = body["data"]["customers"]
    return {n["name"] for n in conn["nodes"]}, conn["totalCount"]


async def snapshot() -> tuple:
    return (
        await Customer.select().order_by(Customer.id),
        await Contact.select().order_by(Contact.id),
        await Activity.select().order_by(Activity.id),
        await CustomerTag.select(CustomerTag.customer, CustomerTag.tag).order_by(CustomerTag.id),
        await AuditLog.count(),
    )


# -- reading -----------------------------------------------------------------------------


async def test_invisible_records_are_not_found_by_id_or_node(world, gql):
    w = world
    for outsider in (w.sales_b, w.sales_a2, w.mgr_south):
        for type_name, pk, field in (
            ("Customer", w.cust_a["id"], "customer"),
            ("Contact", w.contact_a["id"], "contact"),
            ("Activity", w.done_a["id"], "activity"),
        ):
            body = await gql(
                f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}",
                {"id": gid(type_name, pk)},
                user=outsider,
                expect_errors=True,
            )
            assert body["data"] is None, (outsider.username, type_name)
            assert error_codes(body) == ["NOT_FOUND"], (outsider.username, type_name)
            body = await gql(NODE, {"id": gid(type_name, pk)}, user=outsider)
            assert body["data"]["node"] is None, (outsider.username, type_name)
    # the owner sees all three
    for type_name, pk in (
        ("Customer", w.cust_a["id"]),
        ("Contact", w.contact_a["id"]),
        ("Activity", w.done_a["id"]),
    ):
        body = await gql(NODE, {"id": gid(type_name, pk)}, user=w.sales_a)
        assert body["data"]["node"]["__typename"] == type_name


async def test_lists_counts_and_search_only_show_visible_customers(world, gql):
    w = world
    assert await visible_names(gql, w.sales_b) == ({"Beta Foods"}, 1)
    assert await visible_names(gql, w.sales_a) == ({"Alpha Trading"}, 1)
    assert await visible_names(gql, w.sales_a2) == (set(), 0)  # same team, own-only
    for filter in (
        {"search": "alpha"},
        {"search": "hello@alpha.com"},
        {"search": "13800138000"},
        {"ownerId": w.sales_a.gid},
        {"teamId": gid("Team", w.sales_a.team_id)},
        {"tag": "alpha"},
        {"archived": True},
    ):
        assert await visible_names(gql, w.sales_b, filter) == (set(), 0), filter
    assert await visible_names(gql, w.sales_b, {"tag": "shared"}) == ({"Beta Foods"}, 1)
    assert await visible_names(gql, w.sales_b, {"archived": None}) == ({"Beta Foods"}, 1)

    body = await gql(ACTIVITIES, user=w.sales_b)
    conn = body["data"]["activities"]
    assert conn["totalCount"] == 1
    assert [n["databaseId"] for n in conn["nodes"]] == [w.done_b["id"]]
    for filter in (
        {"customerId": gid("Customer", w.cust_a["id"])},
        {"ownerId": w.sales_a.gid},
        {"contactId": gid("Contact", w.contact_a["id"])},
    ):
        body = await gql(ACTIVITIES, {"filter": filter}, user=w.sales_b)
        assert body["data"]["activities"] == {"totalCount": 0, "nodes": []}, filter

    body = await gql('{ customerDuplicates(name: "Alpha Trading") { databaseId } }', user=w.sales_b)
    assert body["data"]["customerDuplicates"] == []
    body = await gql('{ customerDuplicates(name: "Alpha Trading") { databaseId } }', user=w.sales_a)
    assert body["data"]["customerDuplicates"] == [{"databaseId": w.cust_a["id"]}]


async def test_timeline_never_shows_other_customers(world, gql):
    w = world
    with pytest.raises(NotFound):
        await timeline.customer_timeline(w.sales_b.actor, w.cust_a["id"])
    body = await gql(
        """query($id: ID!) { customer(id: $id) { timeline { nodes { title entityId } }
             activities { nodes { subject } } recentActivities { subject } } }""",
        {"id": gid("Customer", w.cust_b["id"])},
        user=w.sales_b,
    )
    data = body["data"]["customer"]
    assert [e["title"] for e in data["timeline"]["nodes"]] == ["B call"]
    assert [a["subject"] for a in data["activities"]["nodes"]] == ["B call"]
    assert [a["subject"] for a in data["recentActivities"]] == ["B call"]


async def test_managers_see_their_team_only(world, gql):
    w = world
    assert await visible_names(gql, w.mgr_north) == ({"Alpha Trading"}, 1)
    assert await visible_names(gql, w.mgr_south) == ({"Beta Foods"}, 1)
    body = await gql(GET, {"id": gid("Customer", w.cust_a["id"])}, user=w.mgr_north)
    assert body["data"]["customer"]["name"] == "Alpha Trading"
    body = await gql(ACTIVITIES, user=w.mgr_north)
    assert {n["databaseId"] for n in body["data"]["activities"]["nodes"]} == {
        w.done_a["id"],
        w.planned_a["id"],
    }
    # team-scoped support and viewer roles see the team's customers too
    assert await visible_names(gql, w.support_north) == ({"Alpha Trading"}, 1)
    assert await visible_names(gql, w.viewer_north) == ({"Alpha Trading"}, 1)

    body = await gql(
        """mutation($id: ID!) { updateCustomer(input: {id: $id, expectedVersion: 1,
             region: "East"}) { customer { region version } errors { code } } }""",
        {"id": gid("Customer", w.cust_a["id"])},
        user=w.mgr_north,
    )
    assert body["data"]["updateCustomer"]["customer"] == {"region": "East", "version": 2}


async def test_admin_and_finance_see_everything(world, gql):
    w = world
    for user in (w.admin, w.finance):
        assert await visible_names(gql, user) == ({"Alpha Trading", "Beta Foods"}, 2)
        for c in (w.cust_a, w.cust_b):
            body = await gql(GET, {"id": gid("Customer", c["id"])}, user=user)
            assert body["data"]["customer"]["databaseId"] == c["id"]
        body = await gql(ACTIVITIES, user=user)
        assert body["data"]["activities"]["totalCount"] == 3


async def test_related_objects_of_invisible_customers_never_leak(world, gql, system):
    w = world
    # Contact.customer / Activity.customer of visible records resolve...
    body = await gql(
        """query($c: ID!, $a: ID!) { contact(id: $c) { customer { name } }
                                     activity(id: $a) { customer { name } contact { name } } }""",
        {"c": gid("Contact", w.contact_b["id"]), "a": gid("Activity", w.done_b["id"])},
        user=w.sales_b,
    )
    assert body["data"]["contact"]["customer"] == {"name": "Beta Foods"}
    assert body["data"]["activity"]["customer"] == {"name": "Beta Foods"}

    # ...but after B's customer is merged into A's, nothing of A's reaches B
    await customers.merge_customers(system, w.cust_a["id"], w.cust_b["id"])
    body = await gql(
        """query($id: ID!) { customer(id: $id) { archived mergedInto { id name }
             contacts { name } activities { totalCount } timeline { nodes { title } } } }""",
        {"id": gid("Customer", w.cust_b["id"])},
        user=w.sales_b,
    )
    merged = body["data"]["customer"]
    assert merged == {
        "archived": True,
        "mergedInto": None,
        "contacts": [],
        "activities": {"totalCount": 0},
        "timeline": {"nodes": []},
    }
    for type_name, pk in (("Contact", w.contact_b["id"]), ("Activity", w.done_b["id"])):
        body = await gql(NODE, {"id": gid(type_name, pk)}, user=w.sales_b)
        assert body["data"]["node"] is None
    body = await gql(ACTIVITIES, user=w.sales_b)
    assert body["data"]["activities"] == {"totalCount": 0, "nodes": []}
    # the survivor's owner now sees the moved records
    body = await gql(
        """query($id: ID!) { contact(id: $id) { customer { name } } }""",
        {"id": gid("Contact", w.contact_b["id"])},
        user=w.sales_a,
    )
    assert body["data"]["contact"]["customer"] == {"name": "Alpha Trading"}


# -- writing -----------------------------------------------------------------------------


async def test_outsiders_cannot_change_invisible_records(world, gql):
    w = world
    before = await snapshot()
    cust_a = gid("Customer", w.cust_a["id"])
    cust_b = gid("Customer", w.cust_b["id"])
    contact_a = gid("Contact", w.contact_a["id"])
    attempts = [
        (
            """mutation($id: ID!) { updateCustomer(input: {id: $id, expectedVersion: 1,
              name: "Hijacked"}) { customer { id } } }""",
            {"id": cust_a},
        ),
        (
            """mutation($id: ID!) { archiveCustomer(input: {id: $id}) { customer { id } } }""",
            {"id": cust_a},
        ),
        (
            """mutation($id: ID!) { restoreCustomer(input: {id: $id}) { customer { id } } }""",
            {"id": cust_a},
        ),
        (
            """mutation($id: ID!) { setCustomerTags(input: {id: $id, add: ["mine"]}) {
              customer { id } } }""",
            {"id": cust_a},
        ),
        (
            """mutation($id: ID!) { createContact(input: {customerId: $id, name: "Spy"}) {
              contact { id } } }""",
            {"id": cust_a},
        ),
        (
            """mutation($id: ID!) { logActivity(input: {customerId: $id, subject: "Spy"}) {
              activity { id } } }""",
            {"id": cust_a},
        ),
        (
            """mutation($id: ID!) { updateContact(input: {id: $id, expectedVersion: 1,
              name: "Spy"}) { contact { id } } }""",
            {"id": contact_a},
        ),
        (
            """mutation($id: ID!) { deleteContact(input: {id: $id}) { deletedId } }""",
            {"id": contact_a},
        ),
        (
            """mutation($id: ID!) { updateActivity(input: {id: $id, expectedVersion: 1,
              subject: "Spy"}) { activity { id } } }""",
            {"id": gid("Activity", w.done_a["id"])},
        ),
        (
            """mutation($id: ID!) { completeActivity(input: {id: $id}) { activity { id } } }""",
            {"id": gid("Activity", w.planned_a["id"])},
        ),
    ]
    for outsider in (w.sales_b, w.sales_a2):
        for query, variables in attempts:
            body = await gql(query, variables, user=outsider, expect_errors=True)
            assert body["data"] is None, query
            assert error_codes(body) == ["NOT_FOUND"], (outsider.username, query)
        body = await gql(
            """mutation($s: ID!, $m: ID!) { mergeCustomers(input: {survivorId: $s,
                 mergedId: $m}) { customer { id } } }""",
            {"s": cust_b, "m": cust_a},
            user=outsider,
            expect_errors=True,
        )
        assert error_codes(body) == ["FORBIDDEN"]  # sales may not merge at all

    # a manager of the other team: may merge and reassign, but not what it cannot see
    for s, m in ((cust_b, cust_a), (cust_a, cust_b)):
        body = await gql(
            """mutation($s: ID!, $m: ID!) { mergeCustomers(input: {survivorId: $s,
                 mergedId: $m}) { customer { id } } }""",
            {"s": s, "m": m},
            user=w.mgr_south,
            expect_errors=True,
        )
        assert error_codes(body) == ["NOT_FOUND"]
    body = await gql(
        """mutation($to: ID!, $id: ID!) { reassignCustomers(input: {toUserId: $to,
             customerIds: [$id]}) { customers { id } } }""",
        {"to": w.sales_b.gid, "id": cust_a},
        user=w.mgr_south,
        expect_errors=True,
    )
    assert error_codes(body) == ["NOT_FOUND"]
    body = await gql(
        """mutation($to: ID!, $from: ID!) { reassignCustomers(input: {toUserId: $to,
             fromUserId: $from}) { customers { id } errors { code } } }""",
        {"to": w.sales_b.gid, "from": w.sales_a.gid},
        user=w.mgr_south,
    )
    assert body["data"]["reassignCustomers"] == {"customers": [], "errors": []}

    # B's own activity cannot borrow A's contact
    body = await gql(
        """mutation($c: ID!, $ct: ID!) { logActivity(input: {customerId: $c, subject: "x",
             contactId: $ct}) { activity { id } errors { field code } } }""",
        {"c": cust_b, "ct": contact_a},
        user=w.sales_b,
    )
    assert body["data"]["logActivity"] == {
        "activity": None,
        "errors": [{"field": "contactId", "code": "NOT_FOUND"}],
    }
    assert await snapshot() == before


async def test_read_only_roles_cannot_write(world, gql):
    w = world
    before = await snapshot()
    cust_a = gid("Customer", w.cust_a["id"])
    for user in (w.viewer_north, w.finance):
        for query, variables in (
            (
                """mutation { createCustomer(input: {name: "Nope Inc"}) {
                  customer { id } } }""",
                {},
            ),
            (
                """mutation($id: ID!) { updateCustomer(input: {id: $id, expectedVersion: 1,
                  name: "Nope"}) { customer { id } } }""",
                {"id": cust_a},
            ),
            (
                """mutation($id: ID!) { setCustomerTags(input: {id: $id, add: ["x"]}) {
                  customer { id } } }""",
                {"id": cust_a},
            ),
            (
                """mutation($id: ID!) { archiveCustomer(input: {id: $id}) { customer { id } } }""",
                {"id": cust_a},
            ),
            (
                """mutation($id: ID!) { createContact(input: {customerId: $id, name: "x"}) {
                  contact { id } } }""",
                {"id": cust_a},
            ),
            (
                """mutation($id: ID!) { logActivity(input: {customerId: $id, subject: "x"}) {
                  activity { id } } }""",
                {"id": cust_a},
            ),
            (
                """mutation($id: ID!) { deleteContact(input: {id: $id}) { deletedId } }""",
                {"id": gid("Contact", w.contact_a["id"])},
            ),
        ):
            body = await gql(query, variables, user=user, expect_errors=True)
            assert body["data"] is None, (user.role, query)
            assert error_codes(body) == ["FORBIDDEN"], (user.role, query)
    # support writes but does not archive
    body = await gql(
        """mutation($id: ID!) { archiveCustomer(input: {id: $id}) { customer { id } } }""",
        {"id": cust_a},
        user=w.support_north,
        expect_errors=True,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert await snapshot() == before


async def test_sales_cannot_hand_customers_to_others(world, gql):
    w = world
    before = await snapshot()
    body = await gql(
        """mutation($owner: ID!) { createCustomer(input: {name: "Gift", ownerId: $owner}) {
             customer { id } } }""",
        {"owner": w.sales_b.gid},
        user=w.sales_a,
        expect_errors=True,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    for field, value in (("ownerId", w.sales_b.gid), ("teamId", gid("Team", w.sales_b.team_id))):
        body = await gql(
            f"""mutation($id: ID!, $v: ID!) {{ updateCustomer(input: {{id: $id,
                 expectedVersion: 1, {field}: $v}}) {{ customer {{ id }} }} }}""",
            {"id": gid("Customer", w.cust_a["id"]), "v": value},
            user=w.sales_a,
            expect_errors=True,
        )
        assert error_codes(body) == ["FORBIDDEN"], field
    assert await snapshot() == before


async def test_sales_cannot_file_a_customer_under_another_team(world, gql):
    w = world
    body = await gql(
        """mutation($team: ID!) { createCustomer(input: {name: "Elsewhere", teamId: $team}) {
             customer { team { name } } } }""",
        {"team": gid("Team", w.sales_b.team_id)},
        user=w.sales_a,
        expect_errors=True,
    )
    assert error_codes(body) == ["FORBIDDEN"]
    assert await visible_names(gql, w.mgr_south) == ({"Beta Foods"}, 1)


async def test_duplicate_check_spans_colleagues_customers(world, gql):
    """A rep must not create a second record of a customer another rep owns."""
    w = world
    body = await gql(
        """mutation { createCustomer(input: {name: "alpha trading co., ltd."}) {
             customer { id } errors { field code } } }""",
        user=w.sales_b,
    )
    assert body["data"]["createCustomer"] == {
        "customer": None,
        "errors": [{"field": "name", "code": "DUPLICATE"}],
    }


# -- audit log ---------------------------------------------------------------------------

AUDIT = """query($entity: String, $entityId: Int) {
  auditLog(entity: $entity, entityId: $entityId, first: 100) {
    totalCount nodes { entity entityId action after } } }"""


async def test_audit_log_is_for_admins_and_managers(world, gql):
    w = world
    for user in (w.sales_a, w.support_north, w.viewer_north, w.finance):
        body = await gql(AUDIT, {}, user=user, expect_errors=True)
        assert error_codes(body) == ["FORBIDDEN"], user.role
    body = await gql(AUDIT, {"entity": "customer", "entityId": w.cust_a["id"]}, user=w.admin)
    assert body["data"]["auditLog"]["totalCount"] >= 1
    body = await gql(AUDIT, {"entity": "customer", "entityId": w.cust_a["id"]}, user=w.mgr_north)
    assert [n["action"] for n in body["data"]["auditLog"]["nodes"]] == ["created"]


async def test_audit_log_hides_invisible_customers_from_other_teams_manager(world, gql):
    w = world
    body = await gql(AUDIT, {"entity": "customer", "entityId": w.cust_a["id"]}, user=w.mgr_south)
    assert body["data"]["auditLog"] == {"totalCount": 0, "nodes": []}
    body = await gql(AUDIT, {}, user=w.mgr_south)
    leaked = [
        n
        for n in body["data"]["auditLog"]["nodes"]
        if "Alpha" in str(n["after"]) or "Ann" in str(n["after"])
    ]
    assert leaked == []
