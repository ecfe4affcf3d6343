"""Tickets over GraphQL: mutations and payload errors, SLA fields, visibility (also through
Customer.tickets), constant query counts, Customer fields, timeline and metrics."""

from datetime import datetime, timedelta

from kehu.core.db import count_queries
from kehu.plugins.tickets.services import surveys, tickets

from .conftest import gid

CREATE = """mutation($input: CreateTicketInput!) { createTicket(input: $input) {
  ticket { id number status priority channel type assignee { username } team { name }
           sla { policy firstResponse { dueAt elapsedSeconds remainingSeconds breached paused }
                 resolution { dueAt breached paused } } }
  errors { field code } } }"""
STATUS = """mutation($input: TicketStatusInput!) { changeTicketStatus(input: $input) {
  ticket { status } errors { field code message } } }"""
REPLY = """mutation($input: TicketMessageInput!) { addTicketMessage(input: $input) {
  message { body internal author { username } } errors { code } } }"""
POLICY = """mutation($input: SlaPolicyInput!) { setSlaPolicy(input: $input) {
  policy { policy priority firstResponseMinutes resolutionMinutes } errors { code } } }"""
TICKET = """query($id: ID!) { ticket(id: $id) { status firstRespondedAt
  sla { firstResponse { targetSeconds dueAt } resolution { targetSeconds dueAt } }
  messages { body internal } statusHistory { fromStatus toStatus actor { username } } } }"""


async def test_ticket_lifecycle_over_graphql(kehu, make_user, make_customer, gql):
    agent = await make_user("support", team="North")
    manager = await make_user("manager", team="North")
    acme = await make_customer("ACME", owner=agent)
    body = await gql(
        CREATE,
        {
            "input": {
                "customerId": gid("Customer", acme),
                "subject": "Invoice wrong",
                "channel": "EMAIL",
                "type": "COMPLAINT",
                "priority": "HIGH",
                "complaintCategory": "price_confusion",
                "body": "Please fix",
            }
        },
        user=agent,
    )
    created = body["data"]["createTicket"]
    assert created["errors"] == []
    t = created["ticket"]
    assert (t["status"], t["priority"], t["channel"], t["type"]) == (
        "NEW",
        "HIGH",
        "EMAIL",
        "COMPLAINT",
    )
    assert t["assignee"]["username"] == agent.username and t["team"]["name"] == "North"
    fr = t["sla"]["firstResponse"]
    assert fr["remainingSeconds"] <= 4 * 3600 and not fr["breached"]
    assert t["sla"]["policy"] == "default"

    body = await gql(STATUS, {"input": {"id": t["id"], "status": "CLOSED"}}, user=agent)
    assert body["data"]["changeTicketStatus"]["errors"][0]["code"] == "ILLEGAL_TRANSITION"
    await gql(
        REPLY, {"input": {"ticketId": t["id"], "body": "Checking", "internal": True}}, user=agent
    )
    body = await gql(REPLY, {"input": {"ticketId": t["id"], "body": "Fixed"}}, user=agent)
    assert body["data"]["addTicketMessage"]["message"]["author"]["username"] == agent.username
    body = await gql(STATUS, {"input": {"id": t["id"], "status": "RESOLVED"}}, user=agent)
    codes = {e["field"]: e["code"] for e in body["data"]["changeTicketStatus"]["errors"]}
    assert codes == {
        "rootCause": "COMPLAINT_INCOMPLETE",
        "correctiveAction": "COMPLAINT_INCOMPLETE",
    }
    body = await gql(
        """mutation($input: ComplaintInput!) { updateComplaint(input: $input) {
        ticket { rootCause correctiveAction } errors { code } } }""",
        {"input": {"id": t["id"], "rootCause": "Old prices", "correctiveAction": "Price sync"}},
        user=agent,
    )
    assert body["data"]["updateComplaint"]["ticket"]["rootCause"] == "Old prices"
    body = await gql(STATUS, {"input": {"id": t["id"], "status": "RESOLVED"}}, user=agent)
    assert body["data"]["changeTicketStatus"]["ticket"]["status"] == "RESOLVED"

    body = await gql(TICKET, {"id": t["id"]}, user=agent)
    ticket = body["data"]["ticket"]
    assert [m["body"] for m in ticket["messages"]] == ["Please fix", "Checking", "Fixed"]
    assert [(h["fromStatus"], h["toStatus"]) for h in ticket["statusHistory"]] == [
        (None, "NEW"),
        ("NEW", "OPEN"),
        ("OPEN", "RESOLVED"),
    ]
    viewer = await make_user("viewer", team="North")
    body = await gql(TICKET, {"id": t["id"]}, user=viewer)
    assert [m["internal"] for m in body["data"]["ticket"]["messages"]] == [False, False]

    # SLA policy: support may not change it; a manager's change shows at once
    body = await gql(
        POLICY,
        {"input": {"priority": "HIGH", "firstResponseMinutes": 60, "resolutionMinutes": 600}},
        user=agent,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(
        POLICY,
        {"input": {"priority": "HIGH", "firstResponseMinutes": 60, "resolutionMinutes": 600}},
        user=manager,
    )
    assert body["data"]["setSlaPolicy"]["policy"]["firstResponseMinutes"] == 60
    body = await gql(TICKET, {"id": t["id"]}, user=agent)
    assert body["data"]["ticket"]["sla"]["resolution"]["targetSeconds"] == 600 * 60
    body = await gql("{ slaPolicies { policy priority firstResponseMinutes source } }", user=agent)
    assert {
        "policy": "default",
        "priority": "HIGH",
        "firstResponseMinutes": 60,
        "source": "policy",
    } in body["data"]["slaPolicies"]
    body = await gql("{ complaintCategories }", user=agent)
    assert "repair_delay" in body["data"]["complaintCategories"]


async def test_support_sees_its_teams_tickets_only(kehu, make_user, make_customer, gql):
    north = await make_user("support", team="North")
    south = await make_user("support", team="South")
    admin = await make_user("admin")
    n_customer = await make_customer("Northwind", owner=north)
    s_customer = await make_customer("Southwind", owner=south)
    nt = await tickets.create_ticket(
        admin.actor, n_customer["id"], {"subject": "N", "channel": "phone"}
    )
    st = await tickets.create_ticket(
        admin.actor, s_customer["id"], {"subject": "S", "channel": "phone"}
    )
    assert (nt["team"], st["team"]) == (north.team_id, south.team_id)

    query = "{ tickets(first: 50) { totalCount nodes { subject } } }"
    body = await gql(query, user=north)
    assert body["data"]["tickets"] == {"totalCount": 1, "nodes": [{"subject": "N"}]}
    body = await gql(query, user=admin)
    assert body["data"]["tickets"]["totalCount"] == 2
    body = await gql(
        "query($id: ID!) { ticket(id: $id) { subject } }",
        {"id": gid("Ticket", st)},
        user=north,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": gid("Ticket", st)}, user=north
    )
    assert body["data"]["node"] is None
    body = await gql(
        STATUS,
        {"input": {"id": gid("Ticket", st), "status": "OPEN"}},
        user=north,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # a South ticket on a North customer is visible to North (customer visibility) ...
    shared = await tickets.create_ticket(
        admin.actor,
        n_customer["id"],
        {"subject": "Shared", "channel": "phone", "assignee": south.id},
    )
    assert shared["team"] == south.team_id
    per_customer = """{ customers(first: 10) { nodes { name openTicketCount
                       tickets { subject } } } }"""
    body = await gql(per_customer, user=north)
    assert body["data"]["customers"]["nodes"] == [
        {
            "name": "Northwind",
            "openTicketCount": 2,
            "tickets": [{"subject": "Shared"}, {"subject": "N"}],
        }
    ]
    # ... and to South as its team's ticket, without revealing the customer
    body = await gql("{ tickets(first: 10) { nodes { subject customer { name } } } }", user=south)
    assert {
        (n["subject"], (n["customer"] or {}).get("name")) for n in body["data"]["tickets"]["nodes"]
    } == {("S", "Southwind"), ("Shared", None)}


async def _list_queries(gql, user) -> tuple[int, int]:
    query = """{ tickets(first: 100) { nodes { number customer { name } assignee { username }
        team { name } sla { breached firstResponse { dueAt remainingSeconds } } } } }"""
    await gql(query, user=user)
    with count_queries() as log:
        body = await gql(query, user=user)
    return log.count, len(body["data"]["tickets"]["nodes"])


async def test_listing_tickets_uses_constant_queries(kehu, make_user, make_customer, gql):
    manager = await make_user("manager", team="North")
    agents = [await make_user("support", team="North") for _ in range(3)]
    counts = {}
    for n in range(50):
        customer = await make_customer(f"Customer {n:02}", owner=agents[n % 3])
        await tickets.create_ticket(
            manager.actor, customer["id"], {"subject": f"T{n}", "channel": "phone"}
        )
        if n + 1 in (5, 50):
            counts[n + 1] = await _list_queries(gql, manager)
    assert counts[5][1] == 5 and counts[50][1] == 50
    assert counts[5][0] == counts[50][0]


async def test_customer_fields_timeline_and_metrics(kehu, make_user, make_customer, gql, system):
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=agent)
    now = datetime.now(tz=None).astimezone()
    t = await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {
            "subject": "Broken",
            "channel": "visit",
            "type": "complaint",
            "complaint_category": "repair_delay",
        },
        now=now - timedelta(hours=5),
    )
    await tickets.add_message(agent.actor, t["id"], "Hi", now=now - timedelta(hours=4))
    await tickets.update_complaint(
        agent.actor, t["id"], {"root_cause": "Parts", "corrective_action": "Stock"}
    )
    await tickets.change_status(agent.actor, t["id"], "resolved", now=now - timedelta(hours=3))
    await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {"subject": "Question", "channel": "chat"},
        now=now - timedelta(hours=2),
    )
    for kind, score in (("csat", 5), ("csat", 2), ("nps", 10)):
        _, token = await surveys.create_survey(system, acme["id"], kind)
        await surveys.answer_survey(token, score)

    query = """query($id: ID!) { customer(id: $id) { openTicketCount
        satisfaction { csat csatResponses nps npsResponses }
        churnRisk { score signals { source reason weight } }
        timeline(first: 20) { nodes { kind title source } } } }"""
    body = await gql(query, {"id": gid("Customer", acme)}, user=agent)
    c = body["data"]["customer"]
    assert c["openTicketCount"] == 1
    assert c["satisfaction"] == {"csat": 50.0, "csatResponses": 2, "nps": 100, "npsResponses": 1}
    assert c["churnRisk"]["score"] == 10  # one low CSAT of two answers: 20 × 0.5
    kinds = [(n["kind"], n["source"]) for n in c["timeline"]["nodes"] if n["source"] == "tickets"]
    assert ("ticket.created", "tickets") in kinds and ("survey.csat", "tickets") in kinds
    titles = [n["title"] for n in c["timeline"]["nodes"]]
    assert f"Ticket {t['number']} resolved" in titles

    since = (now - timedelta(days=1)).isoformat()
    body = await gql(
        """query($since: DateTime!) { ticketMetrics(since: $since) { created
        resolved resolutionRate avgFirstResponseSeconds avgResolutionSeconds slaCompliance
        backlog csat nps complaintsByCategory { category count } } }""",
        {"since": since},
        user=agent,
    )
    m = body["data"]["ticketMetrics"]
    assert (m["created"], m["resolved"], m["resolutionRate"], m["backlog"]) == (2, 1, 50.0, 1)
    assert m["avgFirstResponseSeconds"] == 3600 and m["avgResolutionSeconds"] == 2 * 3600
    assert m["csat"] == 50.0 and m["nps"] == 100
    assert m["complaintsByCategory"] == [{"category": "repair_delay", "count": 1}]
    other = await make_user("support", team="South")
    body = await gql(
        """query($since: DateTime!) { ticketMetrics(since: $since) { created
        csatResponses } }""",
        {"since": since},
        user=other,
    )
    assert body["data"]["ticketMetrics"] == {"created": 0, "csatResponses": 0}


async def test_customer_list_with_ticket_fields_uses_constant_queries(
    kehu, make_user, make_customer, gql
):
    admin = await make_user("admin")
    query = """{ customers(first: 100) { nodes { name openTicketCount
        tickets(first: 3) { number sla { breached } assignee { username } }
        satisfaction { csat } churnRisk { score } } } }"""
    counts = []
    for n in range(30):
        customer = await make_customer(f"C{n:02}")
        await tickets.create_ticket(
            admin.actor, customer["id"], {"subject": "x", "channel": "chat", "type": "complaint"}
        )
        if n + 1 in (3, 30):
            await gql(query, user=admin)
            with count_queries() as log:
                body = await gql(query, user=admin)
            assert all(c["openTicketCount"] == 1 for c in body["data"]["customers"]["nodes"])
            counts.append(log.count)
    assert counts[0] == counts[1]


async def test_survey_and_churn_outcome_mutations(kehu, make_user, make_customer, gql, kehu_client):
    rep = await make_user("sales", team="North")
    viewer = await make_user("viewer", team="North")
    acme = await make_customer("ACME", owner=rep)
    create = """mutation($input: CreateSurveyInput!) { createSurvey(input: $input) {
        created { token survey { kind question score } } errors { code } } }"""
    body = await gql(
        create, {"input": {"customerId": gid("Customer", acme), "kind": "NPS"}}, user=rep
    )
    created = body["data"]["createSurvey"]["created"]
    assert created["survey"]["kind"] == "NPS" and created["survey"]["score"] is None
    response = await kehu_client.post(f"/surveys/{created['token']}", json={"score": 10})
    assert response.status_code == 200
    body = await gql(
        create,
        {"input": {"customerId": gid("Customer", acme), "kind": "CSAT"}},
        user=viewer,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    outcome = """mutation($input: ChurnOutcomeInput!) { recordChurnOutcome(input: $input) {
        outcome errors { code } } }"""
    body = await gql(
        outcome,
        {"input": {"customerId": gid("Customer", acme), "outcome": "x"}},
        user=rep,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # no open alert


async def test_ticket_filters_and_pagination(kehu, make_user, make_customer, gql):
    admin = await make_user("admin")
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=agent)
    other = await make_customer("Other", owner=agent)
    for n, (priority, kind) in enumerate(
        [("URGENT", "repair"), ("LOW", "inquiry"), ("URGENT", "complaint"), ("NORMAL", "request")]
    ):
        t = await tickets.create_ticket(
            admin.actor,
            (acme if n < 3 else other)["id"],
            {"subject": f"T{n}", "channel": "phone", "priority": priority.lower(), "type": kind},
        )
        if n == 1:
            await tickets.add_message(admin.actor, t["id"], "hi")
            await tickets.change_status(admin.actor, t["id"], "resolved")
    query = """query($f: TicketFilter, $after: String) { tickets(first: 2, filter: $f,
        after: $after) { totalCount nodes { subject } pageInfo { hasNextPage endCursor } } }"""

    async def subjects(f, after=None):
        body = await gql(query, {"f": f, "after": after}, user=agent)
        return body["data"]["tickets"]

    assert [n["subject"] for n in (await subjects({"priority": "URGENT"}))["nodes"]] == ["T2", "T0"]
    assert (await subjects({"openOnly": True}))["totalCount"] == 3
    assert (await subjects({"status": ["RESOLVED"]}))["nodes"] == [{"subject": "T1"}]
    assert (await subjects({"type": "COMPLAINT"}))["nodes"] == [{"subject": "T2"}]
    assert (await subjects({"customerId": gid("Customer", other)}))["nodes"] == [{"subject": "T3"}]
    assert (await subjects({"assigneeId": agent.gid}))["totalCount"] == 4
    first = await subjects({})
    assert first["pageInfo"]["hasNextPage"] and len(first["nodes"]) == 2
    rest = await subjects({}, first["pageInfo"]["endCursor"])
    assert [n["subject"] for n in first["nodes"] + rest["nodes"]] == ["T3", "T2", "T1", "T0"]
    assert not rest["pageInfo"]["hasNextPage"]


async def test_assign_update_merge_reopen_mutations(kehu, make_user, make_customer, gql):
    manager = await make_user("manager", team="North")
    a = await make_user("support", team="North")
    b = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=a)
    one = await tickets.create_ticket(
        manager.actor, acme["id"], {"subject": "One", "channel": "phone", "assignee": a.id}
    )
    two = await tickets.create_ticket(
        manager.actor, acme["id"], {"subject": "Two", "channel": "email", "assignee": a.id}
    )
    assign = """mutation($input: AssignTicketInput!) { assignTicket(input: $input) {
        ticket { assignee { username } version } errors { code } } }"""
    body = await gql(
        assign,
        {"input": {"id": gid("Ticket", one), "assigneeId": b.gid}},
        user=a,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(
        assign,
        {"input": {"id": gid("Ticket", one), "assigneeId": b.gid, "expectedVersion": 1}},
        user=manager,
    )
    assert body["data"]["assignTicket"]["ticket"] == {
        "assignee": {"username": b.username},
        "version": 2,
    }
    body = await gql(
        assign,
        {"input": {"id": gid("Ticket", one), "auto": True, "expectedVersion": 1}},
        user=manager,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"

    update = """mutation($input: UpdateTicketInput!) { updateTicket(input: $input) {
        ticket { priority subject phase } errors { field code } } }"""
    body = await gql(
        update, {"input": {"id": gid("Ticket", one), "priority": "URGENT", "phase": "CARE"}}, user=a
    )
    assert body["data"]["updateTicket"]["ticket"] == {
        "priority": "URGENT",
        "subject": "One",
        "phase": "CARE",
    }
    body = await gql(update, {"input": {"id": gid("Ticket", one), "subject": " "}}, user=a)
    assert body["data"]["updateTicket"]["errors"] == [{"field": "subject", "code": "REQUIRED"}]

    merge = """mutation($input: MergeTicketsInput!) { mergeTickets(input: $input) {
        ticket { subject messages { body } } errors { code } } }"""
    body = await gql(
        merge,
        {"input": {"survivorId": gid("Ticket", one), "duplicateId": gid("Ticket", two)}},
        user=a,
    )
    assert body["data"]["mergeTickets"]["ticket"]["subject"] == "One"
    body = await gql(
        """query($id: ID!) { ticket(id: $id) { status mergedInto { subject } } }""",
        {"id": gid("Ticket", two)},
        user=a,
    )
    assert body["data"]["ticket"] == {"status": "CLOSED", "mergedInto": {"subject": "One"}}

    await tickets.add_message(a.actor, one["id"], "Done")
    await tickets.change_status(a.actor, one["id"], "resolved")
    reopen = """mutation($input: TicketIdInput!) { reopenTicket(input: $input) {
        ticket { status resolvedAt } errors { code } } }"""
    body = await gql(reopen, {"input": {"id": gid("Ticket", one)}}, user=a)
    assert body["data"]["reopenTicket"]["ticket"] == {"status": "OPEN", "resolvedAt": None}
    body = await gql(reopen, {"input": {"id": gid("Ticket", two)}}, user=a)
    assert body["data"]["reopenTicket"]["errors"] == [{"code": "ILLEGAL_TRANSITION"}]
