"""Contracts through GraphQL: the full lifecycle, payload errors, idempotency, visibility,
customer fields and a constant number of queries for lists."""

from datetime import date, timedelta

from kehu.core.db import count_queries
from kehu.core.graphql.base import encode_id
from kehu.plugins.contracts import services
from kehu.plugins.contracts import services as r

from .conftest import cny

CREATE = """mutation($input: CreateContractInput!) { createContract(input: $input) {
  contract { id number status total { amount currency } version
             lines { product quantity unitPrice { amount } amount { amount } } }
  errors { field message code } } }"""
STEP = """mutation($id: ID!) { %s(input: {id: $id}) { contract { status }
  errors { field code message } } }"""
DECIDE = """mutation($input: DecideContractInput!) { decideContractApproval(input: $input) {
  contract { status approvals { name role decision comment decidedBy { username } } }
  errors { field code } } }"""
SIGN = """mutation($input: SignContractInput!) { signContract(input: $input) {
  contract { status signedOn installments { id dueDate amount { amount } open { amount } } }
  errors { field code message } } }"""
PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  payment { id amount { amount } allocated { amount } unallocated { amount } method
            allocations { installmentId amount { amount } } }
  errors { field code message } } }"""
CONTRACT = """query($id: ID!) { contract(id: $id) { number status riskFlags openAmount { amount }
  customer { name receivables { open { amount } overdue { amount } creditLimit { amount } } }
  installments { seq open { amount } paid { amount } } versions { number } } }"""


def _money(value: str) -> dict:
    return {"amount": value, "currency": "CNY"}


async def test_full_lifecycle(kehu, make_user, gql, make_customer):
    rep = await make_user("sales", team="North")
    manager = await make_user("manager", team="North")
    admin = await make_user("admin")
    finance = await make_user("finance")
    acme = await make_customer("ACME", owner=rep)
    data = {
        "customerId": encode_id("Customer", acme["id"]),
        "title": "Supply of 10 routers",
        "currency": "CNY",
        "deliveryDeadline": "2026-03-01",
        "paymentMethod": "BANK_TRANSFER",
        "paymentTerms": "30@0/70@30",
        "breachLiability": "0.05% of the total per day of delay",
        "acceptanceTerms": "Within 7 days of delivery",
        "lines": [
            {
                "product": "Router X1",
                "specification": "48 ports",
                "quantity": 10,
                "unitPrice": _money("1999.99"),
            }
        ],
    }
    body = await gql(CREATE, {"input": {**data, "lines": []}}, user=rep)
    draft = body["data"]["createContract"]["contract"]
    body = await gql(STEP % "submitContract", {"id": draft["id"]}, user=rep)
    errors = body["data"]["submitContract"]["errors"]
    assert {e["code"] for e in errors} == {"MISSING_CLAUSE"} and errors[0]["field"] == "lines"

    body = await gql(CREATE, {"input": data}, user=rep)
    contract = body["data"]["createContract"]["contract"]
    assert contract["total"] == {"amount": "19999.90", "currency": "CNY"}
    assert contract["lines"][0]["amount"] == {"amount": "19999.90"}
    cid = contract["id"]
    body = await gql(STEP % "startContractExecution", {"id": cid}, user=rep)
    assert body["data"]["startContractExecution"]["errors"] == [
        {
            "field": "status",
            "code": "INVALID_TRANSITION",
            "message": "Cannot move a contract from draft to in_execution",
        }
    ]
    body = await gql(STEP % "submitContract", {"id": cid}, user=rep)
    assert body["data"]["submitContract"]["contract"]["status"] == "PENDING_APPROVAL"
    for user in (manager, admin, finance):
        body = await gql(
            DECIDE, {"input": {"id": cid, "approve": True, "comment": "ok"}}, user=user
        )
    result = body["data"]["decideContractApproval"]["contract"]
    assert result["status"] == "APPROVED"
    assert [(a["name"], a["decidedBy"]["username"]) for a in result["approvals"]] == [
        ("department_head", manager.username),
        ("legal", admin.username),
        ("finance", finance.username),
    ]

    body = await gql(SIGN, {"input": {"id": cid, "signedOn": "2026-01-15"}}, user=rep)
    signed = body["data"]["signContract"]["contract"]
    assert signed["status"] == "SIGNED"
    assert [(i["dueDate"], i["amount"]["amount"]) for i in signed["installments"]] == [
        ("2026-01-15", "5999.97"),
        ("2026-02-14", "13999.93"),
    ]
    first, second = (i["id"] for i in signed["installments"])

    pay = {
        "customerId": encode_id("Customer", acme["id"]),
        "amount": _money("7000.00"),
        "method": "BANK_TRANSFER",
        "receivedOn": "2026-01-20",
        "idempotencyKey": "B-001",
        "allocations": [
            {"installmentId": first, "amount": _money("5999.97")},
            {"installmentId": second, "amount": _money("1000.03")},
        ],
    }
    body = await gql(PAY, {"input": pay}, user=rep, expect_errors=True)  # finance only
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for _ in range(2):  # the retry returns the same payment
        body = await gql(PAY, {"input": pay}, user=finance)
        payment = body["data"]["recordPayment"]["payment"]
        assert payment["allocated"] == {"amount": "7000.00"}
        assert payment["unallocated"] == {"amount": "0.00"}
    over = {
        **pay,
        "idempotencyKey": "B-002",
        "amount": _money("99999"),
        "allocations": [{"installmentId": second, "amount": _money("13000.00")}],
    }
    body = await gql(PAY, {"input": over}, user=finance)
    assert body["data"]["recordPayment"]["errors"][0]["code"] == "OVER_ALLOCATION"

    body = await gql(STEP % "startContractExecution", {"id": cid}, user=rep)
    assert body["data"]["startContractExecution"]["contract"]["status"] == "IN_EXECUTION"
    body = await gql(CONTRACT, {"id": cid}, user=rep)
    c = body["data"]["contract"]
    assert c["openAmount"] == {"amount": "12999.90"}
    assert [i["open"]["amount"] for i in c["installments"]] == ["0.00", "12999.90"]
    assert c["customer"]["receivables"]["open"] == {"amount": "12999.90"}
    assert c["versions"] == [{"number": 1}]
    assert "overdue" in c["riskFlags"]  # the second installment was due in February

    body = await gql(
        """query($c: ID!) { statement(customerId: $c, dateFrom: "2026-01-01",
        dateTo: "2026-12-31") { openingBalance { amount } payments { amount }
        closingBalance { amount } } agingReport(asOf: "2026-03-01") { groupId total { amount }
        buckets { name amount { amount } } } }""",
        {"c": encode_id("Customer", acme["id"])},
        user=finance,
    )
    assert body["data"]["statement"]["closingBalance"] == {"amount": "-7000.00"}
    (aging,) = body["data"]["agingReport"]
    assert aging["total"] == {"amount": "12999.90"}
    assert {b["name"]: b["amount"]["amount"] for b in aging["buckets"]}["1-30"] == "12999.90"

    body = await gql(STEP % "completeContract", {"id": cid}, user=rep)
    assert body["data"]["completeContract"]["contract"]["status"] == "COMPLETED"


async def test_credit_override_and_metrics_through_graphql(
    kehu, make_user, gql, make_customer, make_contract
):
    finance = await make_user("finance")
    acme = await make_customer("ACME")
    gid = encode_id("Customer", acme["id"])
    body = await gql(
        """mutation($i: SetCreditProfileInput!) { setCreditProfile(input: $i) {
        creditStatus { creditLimit { amount } rating highRisk } errors { code } } }""",
        {"i": {"customerId": gid, "creditLimit": _money("100"), "rating": "D"}},
        user=finance,
    )
    assert body["data"]["setCreditProfile"]["creditStatus"] == {
        "creditLimit": {"amount": "100.00"},
        "rating": "D",
        "highRisk": True,
    }
    row = await make_contract(acme, "approved")
    cid = encode_id("Contract", row["id"])
    body = await gql(SIGN, {"input": {"id": cid}}, user=finance)
    assert {e["code"] for e in body["data"]["signContract"]["errors"]} == {
        "HIGH_RISK_CUSTOMER",
        "CREDIT_LIMIT_EXCEEDED",
    }
    body = await gql(
        SIGN, {"input": {"id": cid, "creditOverrideReason": "CEO approved"}}, user=finance
    )
    assert body["data"]["signContract"]["contract"]["status"] == "SIGNED"
    today = date.today()
    body = await gql(
        """query($f: Date!, $t: Date!) { receivablesMetrics(dateFrom: $f,
        dateTo: $t) { contractsSigned signingRate openAmount { amount }
        agingTotals { name } } }""",
        {"f": (today - timedelta(days=1)).isoformat(), "t": today.isoformat()},
        user=finance,
    )
    metrics = body["data"]["receivablesMetrics"]
    assert metrics["contractsSigned"] == 1 and metrics["openAmount"] == {"amount": "1000.00"}
    assert [b["name"] for b in metrics["agingTotals"]] == [
        "current",
        "1-30",
        "31-60",
        "61-90",
        "90+",
    ]


async def test_sales_rep_sees_only_visible_contracts(
    kehu, make_user, gql, make_customer, make_contract
):
    rep = await make_user("sales", team="North")
    other = await make_user("sales", team="North")
    viewer = await make_user("viewer", team="South")
    mine = await make_contract(await make_customer("Mine", owner=rep), actor=rep.actor)
    theirs = await make_contract(await make_customer("Theirs", owner=other), actor=other.actor)
    body = await gql("{ contracts { totalCount nodes { number } } }", user=rep)
    assert body["data"]["contracts"] == {"totalCount": 1, "nodes": [{"number": mine["number"]}]}
    body = await gql(
        CONTRACT, {"id": encode_id("Contract", theirs["id"])}, user=rep, expect_errors=True
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await gql(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": encode_id("Contract", theirs["id"])},
        user=rep,
    )
    assert body["data"]["node"] is None
    body = await gql(
        CREATE,
        {"input": {"customerId": encode_id("Customer", theirs["customer"])}},
        user=rep,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await gql("{ contracts { totalCount } }", user=viewer)
    assert body["data"]["contracts"]["totalCount"] == 0
    body = await gql(
        CREATE,
        {"input": {"customerId": encode_id("Customer", mine["customer"])}},
        user=viewer,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


LIST = """{ contracts(first: 50) { nodes { number status total { amount } riskFlags
  customer { name receivables { open { amount } overdue { amount } creditLimit { amount } }
             contracts { number } }
  owner { username } lines { product } installments { open { amount } } approvals { name } } } }"""


async def _count(gql, user) -> int:
    await gql(LIST, user=user)
    with count_queries() as log:
        body = await gql(LIST, user=user)
    assert all(n["customer"]["receivables"] is not None for n in body["data"]["contracts"]["nodes"])
    return log.count


async def test_listing_contracts_uses_constant_queries(
    kehu, make_user, gql, make_customer, make_contract, system
):
    admin = await make_user("admin")
    for n in range(12):
        customer = await make_customer(f"Customer {n:02}")
        row = await make_contract(customer, "signed")
        inst = (await r.installments_by_contract([row["id"]]))[row["id"]][0]
        await r.record_payment(
            system, customer["id"], cny("10"), allocations=[(inst["id"], cny("10"))]
        )
        if n == 2:
            few = await _count(gql, admin)
    many = await _count(gql, admin)
    assert few == many


async def test_customer_fields(kehu, make_user, gql, make_customer, make_contract, system):
    finance = await make_user("finance")
    support = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=support)
    await services.set_credit_profile(system, acme["id"], limit=cny("5000"), rating="A")
    await make_contract(acme, "signed", prices=("1000.00",))
    query = """query($id: ID!) { customer(id: $id) { contracts { number status }
      receivables { open { amount } overdue { amount } creditLimit { amount } rating
                    exposure { amount } } } }"""
    body = await gql(query, {"id": encode_id("Customer", acme["id"])}, user=finance)
    customer = body["data"]["customer"]
    assert customer["contracts"][0]["status"] == "SIGNED"
    assert customer["receivables"] == {
        "open": {"amount": "1000.00"},
        "overdue": {"amount": "1000.00"},
        "creditLimit": {"amount": "5000.00"},
        "rating": "A",
        "exposure": {"amount": "1000.00"},
    }
    body = await gql(query, {"id": encode_id("Customer", acme["id"])}, user=support)
    assert body["data"]["customer"]["receivables"] is None  # no receivable:read
