"""Contacts and activities over GraphQL/HTTP, plus the customer timeline."""

from datetime import UTC, datetime, timedelta

import pytest

from kehu.core.graphql.base import encode_id
from kehu.core.services import activities, contacts, customers
from kehu.core.tables import Activity, AuditLog, Contact


@pytest.fixture
def kehu_plugins() -> list[str]:
    """Core only: plugins add timeline entries, hooks and fields of their own."""
    return ["core"]


CONTACT_FIELDS = """id databaseId name title buyingRole email phone isPrimary notes version
    createdAt updatedAt customer { databaseId name }"""
CONTACT_PAYLOAD = f"contact {{ {CONTACT_FIELDS} }} errors {{ field message code }}"
CREATE_CONTACT = f"""mutation($input: CreateContactInput!) {{
  createContact(input: $input) {{ {CONTACT_PAYLOAD} }} }}"""
UPDATE_CONTACT = f"""mutation($input: UpdateContactInput!) {{
  updateContact(input: $input) {{ {CONTACT_PAYLOAD} }} }}"""
DELETE_CONTACT = """mutation($id: ID!) {
  deleteContact(input: {id: $id}) { deletedId errors { field message code } } }"""
CUSTOMER_CONTACTS = """query($id: ID!) {
  customer(id: $id) { contacts { databaseId name isPrimary } } }"""

ACTIVITY_FIELDS = """id databaseId kind status subject body occurredAt dueAt completedAt outcome
    nextActionAt relatedType relatedId version createdAt
    customer { databaseId } contact { databaseId name } owner { username }"""
ACTIVITY_PAYLOAD = f"activity {{ {ACTIVITY_FIELDS} }} errors {{ field message code }}"
LOG = f"""mutation($input: LogActivityInput!) {{
  logActivity(input: $input) {{ {ACTIVITY_PAYLOAD} }} }}"""
UPDATE_ACTIVITY = f"""mutation($input: UpdateActivityInput!) {{
  updateActivity(input: $input) {{ {ACTIVITY_PAYLOAD} }} }}"""
COMPLETE = f"""mutation($input: CompleteActivityInput!) {{
  completeActivity(input: $input) {{ {ACTIVITY_PAYLOAD} }} }}"""
LIST_ACTIVITIES = """query($first: Int!, $after: String, $filter: ActivityFilter) {
  activities(first: $first, after: $after, filter: $filter) {
    totalCount edges { cursor node { databaseId subject } }
    pageInfo { hasNextPage endCursor } } }"""
TIMELINE = """query($id: ID!, $first: Int!, $after: String) {
  customer(id: $id) { timeline(first: $first, after: $after) {
    edges { cursor node { at kind title body source entity entityId data actor { username } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""


async def timeline_page(gql, user, customer_gid: str, first: int, after: str | None = None):
    """``(entries, pageInfo)`` of one timeline page."""
    body = await gql(TIMELINE, {"id": customer_gid, "first": first, "after": after}, user=user)
    conn = body["data"]["customer"]["timeline"]
    edges = conn["edges"]
    info = conn["pageInfo"]
    if edges:
        assert (info["startCursor"], info["endCursor"]) == (edges[0]["cursor"], edges[-1]["cursor"])
    return [e["node"] for e in edges], info


def gid(type_name: str, pk: int) -> str:
    return encode_id(type_name, pk)


def error_codes(body: dict) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def iso(value: datetime) -> str:
    return value.isoformat()


@pytest.fixture
async def setup(kehu, make_user, system):
    rep = await make_user("sales", team="North")
    customer = await customers.create_customer(rep.actor, {"name": "Contactable"})
    other = await customers.create_customer(rep.actor, {"name": "Other"})
    return rep, customer, other


# -- contacts ----------------------------------------------------------------------------


async def test_create_contact_normalises_and_links(setup, gql):
    rep, customer, _ = setup
    body = await gql(
        CREATE_CONTACT,
        {
            "input": {
                "customerId": gid("Customer", customer["id"]),
                "name": " Li Lei ",
                "title": "CTO",
                "buyingRole": "DECISION_MAKER",
                "email": "Li@Example.COM",
                "phone": "13900139000",
                "notes": "likes tea",
            }
        },
        user=rep,
    )
    payload = body["data"]["createContact"]
    assert payload["errors"] == []
    c = payload["contact"]
    assert (c["name"], c["title"], c["buyingRole"]) == ("Li Lei", "CTO", "DECISION_MAKER")
    assert (c["email"], c["phone"]) == ("li@example.com", "+8613900139000")
    assert (c["isPrimary"], c["notes"], c["version"]) == (False, "likes tea", 1)
    assert c["customer"] == {"databaseId": customer["id"], "name": "Contactable"}
    assert c["id"] == gid("Contact", c["databaseId"])

    body = await gql(
        "query($id: ID!) { contact(id: $id) { name customer { name } } }", {"id": c["id"]}, user=rep
    )
    assert body["data"]["contact"] == {"name": "Li Lei", "customer": {"name": "Contactable"}}
    body = await gql(
        "query($id: ID!) { node(id: $id) { ... on Contact { name } } }", {"id": c["id"]}, user=rep
    )
    assert body["data"]["node"] == {"name": "Li Lei"}
    audit = await AuditLog.select().where(AuditLog.entity == "contact")
    assert [(a["action"], a["entity_id"]) for a in audit] == [("created", c["databaseId"])]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"email": "nope"}, [("email", "INVALID_EMAIL")]),
        ({"phone": "12"}, [("phone", "INVALID_PHONE")]),
        ({"name": " "}, [("name", "REQUIRED")]),
        ({"name": "n" * 201}, [("name", "TOO_LONG")]),
        ({"customerId": "garbage!!"}, [("customerId", "INVALID")]),
    ],
)
async def test_create_contact_validation_writes_nothing(setup, gql, extra, expected):
    rep, customer, _ = setup
    before = (await Contact.count(), await AuditLog.count())
    body = await gql(
        CREATE_CONTACT,
        {"input": {"customerId": gid("Customer", customer["id"]), "name": "X", **extra}},
        user=rep,
    )
    payload = body["data"]["createContact"]
    assert payload["contact"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == expected
    assert (await Contact.count(), await AuditLog.count()) == before


async def test_create_contact_on_missing_customer_is_not_found(setup, gql):
    rep, _, _ = setup
    body = await gql(
        CREATE_CONTACT,
        {"input": {"customerId": gid("Customer", 99999), "name": "Ghost"}},
        user=rep,
        expect_errors=True,
    )
    assert error_codes(body) == ["NOT_FOUND"]
    assert await Contact.count() == 0


async def test_primary_contact_is_unique_per_customer(setup, gql, system):
    rep, customer, other = setup
    other_primary = await contacts.create_contact(
        system, other["id"], {"name": "Oscar", "is_primary": True}
    )
    cust = gid("Customer", customer["id"])

    async def create(name: str, primary: bool) -> dict:
        body = await gql(
            CREATE_CONTACT,
            {"input": {"customerId": cust, "name": name, "isPrimary": primary}},
            user=rep,
        )
        return body["data"]["createContact"]["contact"]

    async def listed() -> list[tuple[str, bool]]:
        body = await gql(CUSTOMER_CONTACTS, {"id": cust}, user=rep)
        return [(c["name"], c["isPrimary"]) for c in body["data"]["customer"]["contacts"]]

    anna = await create("Anna", True)
    bob = await create("Bob", True)
    assert (anna["isPrimary"], bob["isPrimary"]) == (True, True)  # as created
    await create("Carl", False)
    # primary first, then by name; only the latest primary stays primary
    assert await listed() == [("Bob", True), ("Anna", False), ("Carl", False)]

    body = await gql(
        UPDATE_CONTACT,
        {"input": {"id": anna["id"], "expectedVersion": 1, "isPrimary": True}},
        user=rep,
    )
    assert body["data"]["updateContact"]["contact"]["isPrimary"] is True
    assert await listed() == [("Anna", True), ("Bob", False), ("Carl", False)]

    body = await gql(
        UPDATE_CONTACT,
        {"input": {"id": anna["id"], "expectedVersion": 2, "isPrimary": False}},
        user=rep,
    )
    assert await listed() == [("Anna", False), ("Bob", False), ("Carl", False)]
    # another customer's primary contact is untouched
    row = await Contact.select().where(Contact.id == other_primary["id"]).first()
    assert row["is_primary"] is True


async def test_update_contact_versions_and_conflict(setup, gql, system):
    rep, customer, _ = setup
    c = await contacts.create_contact(system, customer["id"], {"name": "Versioned"})
    cgid = gid("Contact", c["id"])
    body = await gql(
        UPDATE_CONTACT,
        {
            "input": {
                "id": cgid,
                "expectedVersion": 1,
                "title": "Buyer",
                "buyingRole": "PURCHASING",
                "email": "B@X.COM",
            }
        },
        user=rep,
    )
    u = body["data"]["updateContact"]["contact"]
    assert (u["title"], u["buyingRole"], u["email"], u["version"]) == (
        "Buyer",
        "PURCHASING",
        "b@x.com",
        2,
    )
    assert u["name"] == "Versioned"  # untouched fields stay

    body = await gql(
        UPDATE_CONTACT,
        {"input": {"id": cgid, "expectedVersion": 1, "title": "Stale"}},
        user=rep,
        expect_errors=True,
    )
    assert body["data"] is None
    assert error_codes(body) == ["CONFLICT"]
    row = await Contact.select().where(Contact.id == c["id"]).first()
    assert (row["title"], row["version"]) == ("Buyer", 2)

    body = await gql(
        UPDATE_CONTACT, {"input": {"id": cgid, "expectedVersion": 2, "email": "bad"}}, user=rep
    )
    assert body["data"]["updateContact"]["errors"][0]["code"] == "INVALID_EMAIL"
    assert (await Contact.select().where(Contact.id == c["id"]).first())["version"] == 2

    body = await gql(
        UPDATE_CONTACT,
        {"input": {"id": gid("Contact", 99999), "expectedVersion": 1, "title": "x"}},
        user=rep,
        expect_errors=True,
    )
    assert error_codes(body) == ["NOT_FOUND"]


async def test_delete_contact_keeps_activities(setup, gql, system):
    rep, customer, _ = setup
    c = await contacts.create_contact(system, customer["id"], {"name": "Leaving"})
    keep = await contacts.create_contact(system, customer["id"], {"name": "Staying"})
    act = await activities.log_activity(
        rep.actor, customer["id"], {"subject": "met", "contact": c["id"]}
    )
    cgid = gid("Contact", c["id"])

    body = await gql(DELETE_CONTACT, {"id": cgid}, user=rep)
    assert body["data"]["deleteContact"] == {"deletedId": cgid, "errors": []}

    body = await gql(
        "query($id: ID!) { contact(id: $id) { id } }", {"id": cgid}, user=rep, expect_errors=True
    )
    assert error_codes(body) == ["NOT_FOUND"]
    body = await gql(
        """query($id: ID!) { customer(id: $id) { contacts { name }
             activities { totalCount nodes { databaseId contact { name } } } } }""",
        {"id": gid("Customer", customer["id"])},
        user=rep,
    )
    data = body["data"]["customer"]
    assert data["contacts"] == [{"name": "Staying"}]
    assert data["activities"]["totalCount"] == 1
    assert data["activities"]["nodes"] == [{"databaseId": act["id"], "contact": None}]
    row = await Activity.select().where(Activity.id == act["id"]).first()
    assert row["contact"] is None and row["customer"] == customer["id"]
    audit = await AuditLog.select().where(
        AuditLog.entity == "contact", AuditLog.action == "deleted"
    )
    assert [a["entity_id"] for a in audit] == [c["id"]]

    body = await gql(DELETE_CONTACT, {"id": cgid}, user=rep, expect_errors=True)
    assert error_codes(body) == ["NOT_FOUND"]
    assert [r["id"] for r in await Contact.select(Contact.id)] == [keep["id"]]


# -- activities --------------------------------------------------------------------------


async def test_log_done_activity_defaults(setup, gql):
    rep, customer, _ = setup
    before = datetime.now(UTC)
    body = await gql(
        LOG,
        {
            "input": {
                "customerId": gid("Customer", customer["id"]),
                "subject": "Intro call",
                "kind": "CALL",
            }
        },
        user=rep,
    )
    payload = body["data"]["logActivity"]
    assert payload["errors"] == []
    a = payload["activity"]
    assert (a["kind"], a["status"], a["subject"], a["version"]) == ("CALL", "DONE", "Intro call", 1)
    assert a["owner"] == {"username": rep.username}
    assert a["customer"] == {"databaseId": customer["id"]}
    assert a["dueAt"] is None and a["contact"] is None
    occurred = parse(a["occurredAt"])
    assert before - timedelta(seconds=5) <= occurred <= datetime.now(UTC) + timedelta(seconds=5)
    assert a["completedAt"] == a["occurredAt"]

    body = await gql(
        LOG, {"input": {"customerId": gid("Customer", customer["id"]), "subject": "Note"}}, user=rep
    )
    assert body["data"]["logActivity"]["activity"]["kind"] == "NOTE"  # default kind


async def test_log_done_activity_in_the_past(setup, gql, system):
    rep, customer, _ = setup
    contact = await contacts.create_contact(system, customer["id"], {"name": "Met"})
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    body = await gql(
        LOG,
        {
            "input": {
                "customerId": gid("Customer", customer["id"]),
                "subject": "Visit",
                "kind": "VISIT",
                "occurredAt": iso(when),
                "body": "notes",
                "outcome": "good",
                "contactId": gid("Contact", contact["id"]),
                "relatedType": "opportunity",
                "relatedId": 7,
            }
        },
        user=rep,
    )
    a = body["data"]["logActivity"]["activity"]
    assert parse(a["occurredAt"]) == when
    assert parse(a["completedAt"]) == when
    assert a["contact"] == {"databaseId": contact["id"], "name": "Met"}
    assert (a["body"], a["outcome"], a["relatedType"], a["relatedId"]) == (
        "notes",
        "good",
        "opportunity",
        7,
    )


async def test_log_planned_activity(setup, gql):
    rep, customer, _ = setup
    due = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    body = await gql(
        LOG,
        {
            "input": {
                "customerId": gid("Customer", customer["id"]),
                "subject": "Follow up",
                "status": "PLANNED",
                "kind": "TASK",
                "dueAt": iso(due),
            }
        },
        user=rep,
    )
    a = body["data"]["logActivity"]["activity"]
    assert (a["status"], a["kind"]) == ("PLANNED", "TASK")
    assert parse(a["dueAt"]) == due
    assert a["occurredAt"] is None and a["completedAt"] is None


async def test_log_activity_validation(setup, gql, system):
    rep, customer, other = setup
    foreign = await contacts.create_contact(system, other["id"], {"name": "Elsewhere"})
    cust = gid("Customer", customer["id"])
    cases = [
        ({"subject": " "}, [("subject", "REQUIRED")]),
        ({"contactId": gid("Contact", foreign["id"])}, [("contactId", "NOT_FOUND")]),
        ({"ownerId": gid("User", 99999)}, [("ownerId", "NOT_FOUND")]),
        ({"relatedType": "opportunity"}, [("relatedType", "INVALID")]),
        ({"contactId": "garbage!!"}, [("contactId", "INVALID")]),
    ]
    for extra, expected in cases:
        body = await gql(LOG, {"input": {"customerId": cust, "subject": "x", **extra}}, user=rep)
        payload = body["data"]["logActivity"]
        assert payload["activity"] is None, extra
        assert [(e["field"], e["code"]) for e in payload["errors"]] == expected, extra
    body = await gql(
        LOG,
        {"input": {"customerId": gid("Customer", 99999), "subject": "x"}},
        user=rep,
        expect_errors=True,
    )
    assert error_codes(body) == ["NOT_FOUND"]
    assert await Activity.count() == 0


async def test_complete_activity(setup, gql):
    rep, customer, _ = setup
    body = await gql(
        LOG,
        {
            "input": {
                "customerId": gid("Customer", customer["id"]),
                "subject": "Call back",
                "status": "PLANNED",
                "dueAt": "2030-01-01T00:00:00Z",
            }
        },
        user=rep,
    )
    planned = body["data"]["logActivity"]["activity"]

    body = await gql(
        COMPLETE,
        {"input": {"id": planned["id"], "expectedVersion": 7}},
        user=rep,
        expect_errors=True,
    )
    assert error_codes(body) == ["CONFLICT"]

    next_at = "2030-02-01T09:00:00+00:00"
    body = await gql(
        COMPLETE,
        {
            "input": {
                "id": planned["id"],
                "outcome": "Interested",
                "nextActionAt": next_at,
                "expectedVersion": 1,
            }
        },
        user=rep,
    )
    done = body["data"]["completeActivity"]["activity"]
    assert (done["status"], done["outcome"], done["version"]) == ("DONE", "Interested", 2)
    assert parse(done["nextActionAt"]) == parse(next_at)
    assert done["completedAt"] is not None and done["occurredAt"] is not None
    assert parse(done["dueAt"]) == datetime(2030, 1, 1, tzinfo=UTC)

    # only planned activities can be completed
    body = await gql(COMPLETE, {"input": {"id": planned["id"]}}, user=rep)
    payload = body["data"]["completeActivity"]
    assert payload["activity"] is None and payload["errors"][0]["field"] == "id"
    row = await Activity.select().where(Activity.id == done["databaseId"]).first()
    assert (row["version"], row["outcome"]) == (2, "Interested")

    body = await gql(
        LOG,
        {"input": {"customerId": gid("Customer", customer["id"]), "subject": "Done already"}},
        user=rep,
    )
    body = await gql(
        COMPLETE, {"input": {"id": body["data"]["logActivity"]["activity"]["id"]}}, user=rep
    )
    assert body["data"]["completeActivity"]["errors"][0]["field"] == "id"
    actions = [
        a["action"]
        for a in await AuditLog.select().where(
            AuditLog.entity == "activity", AuditLog.entity_id == planned["databaseId"]
        )
    ]
    assert sorted(actions) == ["completed", "created"]


async def test_update_activity(setup, gql, system):
    rep, customer, _ = setup
    a = await activities.log_activity(rep.actor, customer["id"], {"subject": "Draft"})
    agid = gid("Activity", a["id"])
    body = await gql(
        UPDATE_ACTIVITY,
        {
            "input": {
                "id": agid,
                "expectedVersion": 1,
                "subject": "Final",
                "kind": "MEETING",
                "body": "agenda",
            }
        },
        user=rep,
    )
    u = body["data"]["updateActivity"]["activity"]
    assert (u["subject"], u["kind"], u["body"], u["version"]) == ("Final", "MEETING", "agenda", 2)
    body = await gql(
        UPDATE_ACTIVITY,
        {"input": {"id": agid, "expectedVersion": 1, "subject": "Stale"}},
        user=rep,
        expect_errors=True,
    )
    assert error_codes(body) == ["CONFLICT"]
    row = await Activity.select().where(Activity.id == a["id"]).first()
    assert (row["subject"], row["version"]) == ("Final", 2)
    body = await gql(
        UPDATE_ACTIVITY, {"input": {"id": agid, "expectedVersion": 2, "subject": ""}}, user=rep
    )
    assert body["data"]["updateActivity"]["errors"][0]["code"] == "REQUIRED"
    body = await gql("query($id: ID!) { activity(id: $id) { subject } }", {"id": agid}, user=rep)
    assert body["data"]["activity"] == {"subject": "Final"}


async def test_update_activity_to_done_records_completion(setup, gql):
    rep, customer, _ = setup
    a = await activities.log_activity(
        rep.actor, customer["id"], {"subject": "Planned", "status": "planned"}
    )
    body = await gql(
        UPDATE_ACTIVITY,
        {"input": {"id": gid("Activity", a["id"]), "expectedVersion": 1, "status": "DONE"}},
        user=rep,
    )
    u = body["data"]["updateActivity"]["activity"]
    assert u["status"] == "DONE"
    assert u["completedAt"] is not None and u["occurredAt"] is not None
    entries, _ = await timeline_page(gql, rep, gid("Customer", customer["id"]), 10)
    assert [e["title"] for e in entries] == ["Planned"]
    # reopening clears the completion
    body = await gql(
        UPDATE_ACTIVITY,
        {"input": {"id": gid("Activity", a["id"]), "expectedVersion": 2, "status": "PLANNED"}},
        user=rep,
    )
    u = body["data"]["updateActivity"]["activity"]
    assert (u["status"], u["completedAt"]) == ("PLANNED", None)


async def test_activity_list_filters_and_paging(setup, gql, system):
    rep, customer, other = setup
    base = datetime(2025, 6, 1, tzinfo=UTC)
    made = []
    specs = [
        (customer, "call", "done", 0),
        (customer, "visit", "done", 1),
        (customer, "task", "planned", None),
        (other, "call", "done", 2),
        (other, "email", "done", 3),
        (customer, "call", "done", 4),
    ]
    for i, (cust, kind, status, day) in enumerate(specs):
        data = {"subject": f"a{i}", "kind": kind, "status": status}
        if day is not None:
            data["occurred_at"] = base + timedelta(days=day)
        made.append(await activities.log_activity(rep.actor, cust["id"], data))
    ids = [m["id"] for m in made]

    async def listed(filter: dict | None = None, first: int = 50) -> tuple[list[int], int]:
        body = await gql(LIST_ACTIVITIES, {"first": first, "filter": filter}, user=rep)
        conn = body["data"]["activities"]
        return [e["node"]["databaseId"] for e in conn["edges"]], conn["totalCount"]

    newest_first = ids[::-1]
    assert await listed() == (newest_first, 6)
    cust = gid("Customer", customer["id"])
    assert await listed({"customerId": cust}) == ([ids[5], ids[2], ids[1], ids[0]], 4)
    assert await listed({"kind": "CALL"}) == ([ids[5], ids[3], ids[0]], 3)
    assert await listed({"kind": "CALL", "customerId": cust}) == ([ids[5], ids[0]], 2)
    assert await listed({"status": "PLANNED"}) == ([ids[2]], 1)
    assert await listed({"status": "DONE", "kind": "EMAIL"}) == ([ids[4]], 1)
    window = {
        "occurredAfter": iso(base + timedelta(days=1)),
        "occurredBefore": iso(base + timedelta(days=3)),
    }
    assert await listed(window) == ([ids[3], ids[1]], 2)  # after inclusive, before exclusive
    assert await listed({"ownerId": rep.gid}) == (newest_first, 6)
    assert await listed({"dueBefore": "2100-01-01T00:00:00Z"}) == ([], 0)

    # keyset paging over the activity list
    seen: list[int] = []
    after = None
    while True:
        body = await gql(LIST_ACTIVITIES, {"first": 4, "after": after}, user=rep)
        conn = body["data"]["activities"]
        seen += [e["node"]["databaseId"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == newest_first

    body = await gql(LIST_ACTIVITIES, {"first": 101}, user=rep, expect_errors=True)
    assert error_codes(body) == ["VALIDATION"]


async def test_recent_activities_and_activities_connection(setup, gql, system):
    rep, customer, other = setup
    base = datetime(2025, 1, 1, tzinfo=UTC)
    # logged out of order: recency follows occurredAt, not insertion
    for day in (3, 1, 5, 2, 4):
        await activities.log_activity(
            rep.actor,
            customer["id"],
            {"subject": f"day{day}", "occurred_at": base + timedelta(days=day)},
        )
    await activities.log_activity(rep.actor, other["id"], {"subject": "elsewhere"})
    body = await gql(
        """query($id: ID!) { customer(id: $id) {
             two: recentActivities(limit: 2) { subject }
             def: recentActivities { subject }
             tiny: recentActivities(limit: 0) { subject }
             activities(first: 2) { totalCount nodes { subject }
                                     pageInfo { hasNextPage endCursor } } } }""",
        {"id": gid("Customer", customer["id"])},
        user=rep,
    )
    data = body["data"]["customer"]
    assert [a["subject"] for a in data["two"]] == ["day5", "day4"]
    assert [a["subject"] for a in data["def"]] == ["day5", "day4", "day3", "day2", "day1"]
    assert [a["subject"] for a in data["tiny"]] == ["day5"]  # limit clamped to ≥ 1
    conn = data["activities"]
    assert conn["totalCount"] == 5
    # the connection is newest-logged first
    assert [a["subject"] for a in conn["nodes"]] == ["day4", "day2"]
    assert conn["pageInfo"]["hasNextPage"] is True
    body = await gql(
        """query($id: ID!, $after: String) { customer(id: $id) {
             activities(first: 10, after: $after) { nodes { subject }
                                                     pageInfo { hasNextPage } } } }""",
        {"id": gid("Customer", customer["id"]), "after": conn["pageInfo"]["endCursor"]},
        user=rep,
    )
    rest = body["data"]["customer"]["activities"]
    assert [a["subject"] for a in rest["nodes"]] == ["day5", "day1", "day3"]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_timeline_newest_first_with_cursor_paging(setup, gql, system):
    rep, customer, other = setup
    base = datetime(2025, 5, 1, 12, tzinfo=UTC)
    for day in (2, 0, 4, 1, 3):
        await activities.log_activity(
            rep.actor,
            customer["id"],
            {"subject": f"d{day}", "kind": "call", "occurred_at": base + timedelta(days=day)},
        )
    await activities.log_activity(
        rep.actor,
        customer["id"],
        {"subject": "future task", "status": "planned", "due_at": base + timedelta(days=30)},
    )
    await activities.log_activity(rep.actor, other["id"], {"subject": "not mine"})
    cust = gid("Customer", customer["id"])

    entries, info = await timeline_page(gql, rep, cust, 50)
    assert [e["title"] for e in entries] == ["d4", "d3", "d2", "d1", "d0"]  # planned excluded
    assert info["hasNextPage"] is False and info["hasPreviousPage"] is False
    ats = [parse(e["at"]) for e in entries]
    assert ats == sorted(ats, reverse=True)
    assert ats[0] == base + timedelta(days=4)
    first = entries[0]
    assert (first["kind"], first["source"], first["entity"], first["actor"]) == (
        "activity.call",
        "core",
        "activity",
        {"username": rep.username},
    )
    assert first["data"]["status"] == "done"
    assert isinstance(first["entityId"], int)

    pages = []
    after = None
    while True:
        entries, info = await timeline_page(gql, rep, cust, 2, after)
        pages.append([e["title"] for e in entries])
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert pages == [["d4", "d3"], ["d2", "d1"], ["d0"]]

    for first in (0, 101):
        body = await gql(TIMELINE, {"id": cust, "first": first}, user=rep, expect_errors=True)
        assert error_codes(body) == ["VALIDATION"]
    body = await gql(
        TIMELINE, {"id": cust, "first": 2, "after": "garbage"}, user=rep, expect_errors=True
    )
    assert error_codes(body) == ["VALIDATION"]


async def test_timeline_paging_does_not_skip_entries_with_equal_timestamps(setup, gql):
    rep, customer, _ = setup
    at = datetime(2025, 5, 1, 9, tzinfo=UTC)
    for i in range(5):
        await activities.log_activity(
            rep.actor, customer["id"], {"subject": f"same {i}", "occurred_at": at}
        )
    for subject, delta in (("later", 1), ("earlier", -1)):
        await activities.log_activity(
            rep.actor,
            customer["id"],
            {"subject": subject, "occurred_at": at + timedelta(hours=delta)},
        )
    cust = gid("Customer", customer["id"])
    seen: list[str] = []
    after = None
    for _ in range(10):
        entries, info = await timeline_page(gql, rep, cust, 2, after)
        seen += [e["title"] for e in entries]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen[0] == "later" and seen[-1] == "earlier"
    assert sorted(seen) == sorted(["later", "earlier"] + [f"same {i}" for i in range(5)])
