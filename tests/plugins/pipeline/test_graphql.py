"""The pipeline through GraphQL: mutations and rule errors, visibility (lists, node,
Customer.opportunities), constant query counts, customer fields, timeline and activities."""

from kehu.core.db import count_queries
from kehu.core.graphql.base import decode_id, encode_id
from kehu.core.money import Money
from kehu.core.services import activities
from kehu.plugins.pipeline import services

from .conftest import gid

ERR = "errors { field message code }"
OPP = "id name status probability stage { name } amount { amount currency } version"


async def test_pipeline_and_opportunity_lifecycle(kehu, make_user, gql, make_customer):
    manager = await make_user("manager", team="North")
    rep = await make_user("sales", team="North")
    body = await gql(
        """mutation { createPipeline(input: {name: "Main", template: "linear"}) {
        pipeline { id name isDefault transitionPolicy stages { id name probability
                   forecastCategory isWon backTo requiredFields } } """
        + ERR
        + "} }",
        user=manager,
    )
    pipeline = body["data"]["createPipeline"]["pipeline"]
    assert pipeline["isDefault"] and pipeline["transitionPolicy"] == "LINEAR"
    stages = {s["name"]: s for s in pipeline["stages"]}
    assert stages["Closing"]["backTo"] == ["Negotiation & Objection Handling"]
    assert stages["Closing"]["forecastCategory"] == "COMMIT"
    body = await gql(
        """mutation { createPipeline(input: {name: "X", template: "linear"}) {
        pipeline { id } """
        + ERR
        + "} }",
        user=rep,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    acme = await make_customer("ACME", owner=rep)
    create = (
        """mutation($input: CreateOpportunityInput!) { createOpportunity(input: $input) {
        opportunity { """
        + OPP
        + " weightedAmount { amount } } "
        + ERR
        + "} }"
    )
    body = await gql(
        create,
        {
            "input": {
                "customerId": gid("Customer", acme),
                "name": "ERP",
                "amount": {"amount": "1000.05", "currency": "CNY"},
            }
        },
        user=rep,
    )
    opp = body["data"]["createOpportunity"]["opportunity"]
    assert opp["stage"]["name"] == "Prospecting" and opp["probability"] == 10
    assert opp["amount"] == {"amount": "1000.05", "currency": "CNY"}
    assert opp["weightedAmount"] == {"amount": "100.01"}  # 100.005 rounded half up
    body = await gql(
        create,
        {
            "input": {
                "customerId": gid("Customer", acme),
                "name": " ",
                "amount": {"amount": "1.001", "currency": "CNY"},
            }
        },
        user=rep,
    )
    assert {e["field"] for e in body["data"]["createOpportunity"]["errors"]} >= {"amount"}

    move = (
        """mutation($input: MoveOpportunityStageInput!) { moveOpportunityStage(input: $input) {
        opportunity { """
        + OPP
        + " lastStageChange { fromStage { name } toStage { name } "
        "actor { username } } } " + ERR + "} }"
    )
    body = await gql(
        move, {"input": {"id": opp["id"], "stageId": stages["Closing"]["id"]}}, user=rep
    )
    result = body["data"]["moveOpportunityStage"]
    assert result["opportunity"] is None
    assert result["errors"][0]["code"] == "STAGE_SKIPPED"
    assert "Rule 'linear'" in result["errors"][0]["message"]
    body = await gql(
        move,
        {
            "input": {
                "id": opp["id"],
                "expectedVersion": 1,
                "stageId": stages["Initial Contact & Needs Assessment"]["id"],
            }
        },
        user=rep,
    )
    moved = body["data"]["moveOpportunityStage"]["opportunity"]
    assert moved["lastStageChange"] == {
        "fromStage": {"name": "Prospecting"},
        "toStage": {"name": "Initial Contact & Needs Assessment"},
        "actor": {"username": rep.username},
    }
    body = await gql(
        move,
        {"input": {"id": opp["id"], "expectedVersion": 1, "stageId": stages["Prospecting"]["id"]}},
        user=rep,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"

    lose = (
        """mutation($input: LoseOpportunityInput!) { loseOpportunity(input: $input) {
        opportunity { status lostReason stage { name } } """
        + ERR
        + "} }"
    )
    body = await gql(lose, {"input": {"id": opp["id"], "reason": "competitor"}}, user=rep)
    assert body["data"]["loseOpportunity"]["opportunity"] == {
        "status": "LOST",
        "lostReason": "competitor",
        "stage": {"name": "Closed Lost"},
    }
    body = await gql(
        """mutation($id: ID!) { reopenOpportunity(input: {id: $id}) {
        opportunity { status stage { name } } } }""",
        {"id": opp["id"]},
        user=rep,
    )
    assert body["data"]["reopenOpportunity"]["opportunity"] == {
        "status": "OPEN",
        "stage": {"name": "Initial Contact & Needs Assessment"},
    }


async def test_details_team_items_needs_and_activities(
    kehu, make_user, gql, make_customer, make_pipeline, make_opportunity
):
    rep = await make_user("sales", team="North")
    ts = await make_user("sales", team="North")
    await make_pipeline("linear")
    acme = await make_customer("ACME", owner=rep)
    opp = await make_opportunity(acme, actor=rep.actor)
    oid = gid("Opportunity", opp)
    await gql(
        """mutation($o: ID!, $u: ID!) { setOpportunityTeamMember(input: {opportunityId: $o,
        userId: $u, role: TS}) { errors { code } } }""",
        {"o": oid, "u": ts.gid},
        user=rep,
    )
    body = await gql(
        """mutation($o: ID!) { addOpportunityLineItem(input: {opportunityId: $o,
        product: "License", quantity: 3, unitPrice: {amount: "0.35", currency: "CNY"}}) {
        opportunity { lineItems { product total { amount } } } } }""",
        {"o": oid},
        user=rep,
    )
    assert body["data"]["addOpportunityLineItem"]["opportunity"]["lineItems"] == [
        {"product": "License", "total": {"amount": "1.05"}}
    ]
    body = await gql(
        """mutation($o: ID!) { addOpportunityLineItem(input: {opportunityId: $o,
        product: "X", quantity: 1, unitPrice: {amount: "1", currency: "USD"}}) {
        errors { code } } }""",
        {"o": oid},
        user=rep,
    )
    assert body["data"]["addOpportunityLineItem"]["errors"][0]["code"] == "CURRENCY_MISMATCH"
    for desc, scores in (("Low", (1, 1, 2)), ("High", (5, 4, 5))):
        await gql(
            """mutation($o: ID!, $d: String!, $i: Int!, $f: Int!, $u: Int!) {
            addOpportunityNeed(input: {opportunityId: $o, description: $d, impact: $i,
            difficulty: $f, urgency: $u}) { errors { code } } }""",
            {"o": oid, "d": desc, "i": scores[0], "f": scores[1], "u": scores[2]},
            user=rep,
        )
    body = await gql(
        """mutation($o: ID!) { logOpportunityActivity(input: {opportunityId: $o,
        subject: "Demo", kind: "demo"}) { activity { subject relatedType relatedId
        customer { name } } errors { code } } }""",
        {"o": oid},
        user=rep,
    )
    assert body["data"]["logOpportunityActivity"]["activity"] == {
        "subject": "Demo",
        "relatedType": "opportunity",
        "relatedId": opp["id"],
        "customer": {"name": "ACME"},
    }
    body = await gql(
        """mutation($o: ID!) { logOpportunityActivity(input: {opportunityId: $o,
        subject: "x", kind: "dance"}) { activity { id } errors { field code } } }""",
        {"o": oid},
        user=rep,
    )
    assert body["data"]["logOpportunityActivity"]["errors"] == [
        {"field": "kind", "code": "INVALID_CHOICE"}
    ]
    await activities.log_activity(rep.actor, acme["id"], {"subject": "Unrelated call"})
    body = await gql(
        """query($id: ID!) { node(id: $id) { ... on Opportunity {
        teamMembers { role user { username } }
        needs { description priority }
        activities { totalCount nodes { subject relatedType } }
        timeInStages { stage { name } }
        stageHistory { kind toStage { name } }
        cycleTimeDays } } }""",
        {"id": oid},
        user=rep,
    )
    node = body["data"]["node"]
    assert node["teamMembers"] == [{"role": "TS", "user": {"username": ts.username}}]
    assert node["needs"] == [
        {"description": "High", "priority": "4.7"},
        {"description": "Low", "priority": "1.3"},
    ]
    assert node["activities"]["totalCount"] == 1
    assert node["activities"]["nodes"][0]["subject"] == "Demo"
    assert node["timeInStages"] == [{"stage": {"name": "Prospecting"}}]
    assert node["stageHistory"] == [{"kind": "CREATED", "toStage": {"name": "Prospecting"}}]
    # the team member sees the deal, although not its customer
    body = await gql(
        """query($id: ID!) { node(id: $id) { ... on Opportunity { name
        customer { name } } } }""",
        {"id": oid},
        user=ts,
    )
    assert body["data"]["node"] == {"name": "Deal", "customer": None}


async def test_visibility(kehu, make_user, gql, make_customer, make_pipeline, make_opportunity):
    await make_pipeline("linear")
    north = await make_user("sales", team="North")
    north2 = await make_user("sales", team="North")
    south = await make_user("sales", team="South")
    manager = await make_user("manager", team="North")
    mine = await make_customer("Mine", owner=north)
    colleague = await make_customer("Colleague", owner=north2)
    theirs = await make_customer("Theirs", owner=south)
    own_deal = await make_opportunity(mine, name="own", actor=north.actor)
    await make_opportunity(colleague, name="colleague", actor=north2.actor)
    secret = await make_opportunity(theirs, name="secret", actor=south.actor)

    query = "{ opportunities(first: 50) { totalCount nodes { name } } }"

    async def names(user):
        body = await gql(query, user=user)
        conn = body["data"]["opportunities"]
        assert conn["totalCount"] == len(conn["nodes"])
        return sorted(n["name"] for n in conn["nodes"])

    assert await names(north) == ["own"]
    assert await names(manager) == ["colleague", "own"]
    assert await names(south) == ["secret"]
    node = "query($id: ID!) { node(id: $id) { ... on Opportunity { name } } }"
    body = await gql(node, {"id": gid("Opportunity", secret)}, user=north)
    assert body["data"]["node"] is None
    move = """mutation($id: ID!, $s: ID!) { moveOpportunityStage(input: {id: $id,
        stageId: $s}) { errors { code } } }"""
    body = await gql(
        move,
        {"id": gid("Opportunity", secret), "s": encode_id("PipelineStage", secret["stage"] + 1)},
        user=north,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # through Customer.opportunities: a colleague's deal on my customer is visible, a deal of
    # another team is not even when reached through a customer list
    await services.create_opportunity(
        manager.actor, {"name": "by manager", "customer": mine["id"], "owner": north2.id}
    )
    customers = """{ customers(first: 20) { nodes { name opportunities { name }
        openPipelineValue { amount currency } } } }"""
    body = await gql(customers, user=north)
    seen = {
        c["name"]: sorted(o["name"] for o in c["opportunities"])
        for c in body["data"]["customers"]["nodes"]
    }
    assert seen == {"Mine": ["by manager", "own"]}
    body = await gql(customers, user=manager)
    seen = {
        c["name"]: [o["name"] for o in c["opportunities"]]
        for c in body["data"]["customers"]["nodes"]
    }
    assert "secret" not in str(seen) and set(seen) == {"Mine", "Colleague"}
    assert own_deal["owner"] == north.id


async def _list(gql, user) -> int:
    query = """{ opportunities(first: 100) { nodes { name amount { amount }
        customer { name owner { username } } owner { username } team { name }
        stage { name } pipeline { name }
        lastStageChange { at toStage { name } actor { username } } } } }"""
    await gql(query, user=user)  # warm-up
    with count_queries() as log:
        body = await gql(query, user=user)
    nodes = body["data"]["opportunities"]["nodes"]
    assert all(n["customer"] and n["owner"] and n["team"] and n["lastStageChange"] for n in nodes)
    return log.count, len(nodes)


async def test_list_uses_constant_queries(kehu, make_user, gql, make_customer, make_pipeline):
    _, stages = await make_pipeline("online")
    manager = await make_user("manager", team="North")
    reps = [await make_user("sales", team="North") for _ in range(3)]
    counts = []
    for n in range(50):
        rep = reps[n % 3]
        customer = await make_customer(f"C{n:02}", owner=rep)
        opp = await services.create_opportunity(
            rep.actor,
            {"name": f"D{n:02}", "customer": customer["id"], "amount": Money(100 * n, "CNY")},
        )
        if n % 2:
            await services.move_stage(
                rep.actor, opp["id"], stages["Display & Recommendation"]["id"]
            )
        if n + 1 in (5, 50):
            counts.append(await _list(gql, manager))
    (five, n5), (fifty, n50) = counts
    assert (n5, n50) == (5, 50)
    assert five == fifty, (five, fifty)


async def test_timeline_and_leads_on_customer(kehu, make_user, gql, make_pipeline):
    rep = await make_user("sales", team="North")
    pipeline, stages = await make_pipeline("linear")
    body = await gql(
        """mutation { createLead(input: {name: "Wang", company: "Hengda",
        source: "referral", factors: {inquiries: 100, visits: 50}}) {
        lead { id score hot status } errors { code } } }""",
        user=rep,
    )
    lead = body["data"]["createLead"]["lead"]
    assert (lead["score"], lead["hot"], lead["status"]) == (35, False, "NEW")
    body = await gql(
        """mutation { createLead(input: {name: "Li", company: "HENGDA"}) {
        lead { id } errors { code message } } }""",
        user=rep,
    )
    assert body["data"]["createLead"]["errors"][0]["code"] == "DUPLICATE"
    body = await gql(
        """mutation($id: ID!) { convertLead(input: {id: $id,
        amount: {amount: "5000", currency: "CNY"}}) { conversion { reusedCustomer
        customer { id name leads { name status } opportunities { name amount { amount } } }
        contact { name } opportunity { id stage { name } } } errors { code } } }""",
        {"id": lead["id"]},
        user=rep,
    )
    conv = body["data"]["convertLead"]["conversion"]
    assert conv["reusedCustomer"] is False and conv["contact"] == {"name": "Wang"}
    assert conv["customer"]["leads"] == [{"name": "Wang", "status": "CONVERTED"}]
    assert conv["customer"]["opportunities"] == [
        {"name": "Hengda: Wang", "amount": {"amount": "5000.00"}}
    ]
    _, opp_pk = decode_id(conv["opportunity"]["id"])
    await services.move_stage(rep.actor, opp_pk, stages["Initial Contact & Needs Assessment"]["id"])
    body = await gql(
        """query($id: ID!) { customer(id: $id) { timeline { nodes { kind title
        source entity } } } }""",
        {"id": conv["customer"]["id"]},
        user=rep,
    )
    pipeline_entries = [
        n for n in body["data"]["customer"]["timeline"]["nodes"] if n["source"] == "pipeline"
    ]
    assert [n["kind"] for n in pipeline_entries] == ["opportunity.moved", "opportunity.created"]
    assert pipeline_entries[0]["title"] == (
        "Opportunity Hengda: Wang: Prospecting → Initial Contact & Needs Assessment"
    )
    other = await make_user("sales", team="South")
    body = await gql("{ leads(first: 10) { totalCount } }", user=other)
    assert body["data"]["leads"]["totalCount"] == 0
    assert pipeline["id"]


async def test_forecast_and_metrics_queries(
    kehu, system, make_user, gql, make_customer, make_pipeline, make_opportunity
):
    pipeline, _ = await make_pipeline("linear")
    finance = await make_user("finance")
    viewer = await make_user("viewer")
    acme = await make_customer()
    await make_opportunity(acme, pipeline, amount=1000)
    lost = await make_opportunity(acme, pipeline, amount=5000)
    await services.lose_opportunity(system, lost["id"], "price")
    body = await gql(
        """query($p: ID!) { forecast { key currency count total { amount }
        weighted { amount } } winRate { won lost rate } averageDealCycleDays
        pipelineFunnel(pipelineId: $p) { name reached current conversion }
        pipelineVelocity(currency: "CNY") { openDeals perDay { amount } }
        pipelineStageDurations(pipelineId: $p) { stage { name } averageDays } }""",
        {"p": gid("Pipeline", pipeline)},
        user=finance,
    )
    data = body["data"]
    assert data["forecast"] == [
        {
            "key": "pipeline",
            "currency": "CNY",
            "count": 1,
            "total": {"amount": "1000.00"},
            "weighted": {"amount": "100.00"},
        }
    ]
    assert data["winRate"] == {"won": 0, "lost": 1, "rate": "0.0000"}
    assert data["averageDealCycleDays"] is None
    assert data["pipelineFunnel"][0] == {
        "name": "Prospecting",
        "reached": 2,
        "current": 1,
        "conversion": "0.0000",
    }
    assert data["pipelineVelocity"] == {"openDeals": 1, "perDay": None}
    assert data["pipelineStageDurations"] == [
        {"stage": {"name": "Prospecting"}, "averageDays": "0.00"}
    ]
    body = await gql("{ forecast { key } }", user=viewer, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_pipeline_admin_mutations(kehu, make_user, gql):
    manager = await make_user("manager")
    body = await gql(
        """mutation { createPipeline(input: {name: "Custom",
        transitionPolicy: NON_LINEAR, approvalThreshold: {amount: "1000", currency: "USD"},
        stages: [{name: "Open", probability: 10},
                 {name: "Approve", probability: 60, forecastCategory: COMMIT,
                  isApproval: true},
                 {name: "Won", probability: 100, forecastCategory: CLOSED, isClosed: true,
                  isWon: true}]}) {
        pipeline { id version approvalThreshold { amount currency }
                   stages { id name isApproval } } errors { code } } }""",
        user=manager,
    )
    pipeline = body["data"]["createPipeline"]["pipeline"]
    assert pipeline["approvalThreshold"] == {"amount": "1000.00", "currency": "USD"}
    body = await gql(
        """mutation { createPipeline(input: {name: "Empty", stages: [
        {name: "A", probability: 150}]}) { pipeline { id } errors { field code } } }""",
        user=manager,
    )
    assert body["data"]["createPipeline"]["errors"] == [{"field": "stages", "code": "INVALID"}]
    body = await gql(
        """mutation($id: ID!) { updatePipeline(input: {id: $id,
        expectedVersion: 1, name: "Renamed", staleAfterDays: 30, approvalThreshold: null}) {
        pipeline { name staleAfterDays approvalThreshold { amount } version } } }""",
        {"id": pipeline["id"]},
        user=manager,
    )
    assert body["data"]["updatePipeline"]["pipeline"] == {
        "name": "Renamed",
        "staleAfterDays": 30,
        "approvalThreshold": None,
        "version": 2,
    }
    stage = pipeline["stages"][0]["id"]
    body = await gql(
        """mutation($id: ID!) { updatePipelineStage(input: {id: $id,
        probability: 15, requiredFields: ["amount"]}) { stage { probability requiredFields }
        errors { code } } }""",
        {"id": stage},
        user=manager,
    )
    assert body["data"]["updatePipelineStage"]["stage"] == {
        "probability": 15,
        "requiredFields": ["amount"],
    }
    body = await gql(
        "{ pipelineTemplates { key transitionPolicy stageNames } pipelines { name } }", user=manager
    )
    templates = {t["key"]: t for t in body["data"]["pipelineTemplates"]}
    assert set(templates) == {
        "linear",
        "linear_with_approval",
        "consultative",
        "customer_journey",
        "online",
    }
    assert "Decision Approval" in templates["linear_with_approval"]["stageNames"]
    assert body["data"]["pipelines"] == [{"name": "Renamed"}]
