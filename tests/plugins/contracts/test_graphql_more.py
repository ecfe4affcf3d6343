"""The remaining mutations through GraphQL: schedules, invoices, allocation, credits,
refunds, write-offs, milestones, disputes, amendments, withdraw/terminate, edits."""

from kehu.core.graphql.base import encode_id

from .conftest import cny


def _m(value: str) -> dict:
    return {"amount": value, "currency": "CNY"}


async def test_money_mutations(kehu, make_user, gql, make_customer, make_contract, system):
    finance = await make_user("finance")
    acme = await make_customer()
    row = await make_contract(acme, "signed", prices=("1000.00",))
    cid = encode_id("Contract", row["id"])
    sales = await make_user("sales")
    body = await gql(
        """mutation($i: SetScheduleInput!) { setPaymentSchedule(input: $i) { errors { code } } }""",
        {"i": {"contractId": cid}},
        user=sales,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # not their contract
    body = await gql(
        """mutation($i: SetScheduleInput!) { setPaymentSchedule(input: $i) {
        installments { id seq dueDate amount { amount } } errors { field code } } }""",
        {
            "i": {
                "contractId": cid,
                "installments": [
                    {"dueDate": "2026-02-01", "amount": _m("400")},
                    {"dueDate": "2026-01-01", "amount": _m("600")},
                ],
            }
        },
        user=finance,
    )
    inst = body["data"]["setPaymentSchedule"]["installments"]
    assert [(i["seq"], i["dueDate"], i["amount"]["amount"]) for i in inst] == [
        (1, "2026-01-01", "600.00"),
        (2, "2026-02-01", "400.00"),
    ]
    first, second = inst[0]["id"], inst[1]["id"]

    body = await gql(
        """mutation($i: IssueInvoiceInput!) { issueInvoice(input: $i) {
        invoice { number amount { amount } installmentId } errors { code } } }""",
        {"i": {"contractId": cid, "installmentId": first, "issuedOn": "2026-01-01"}},
        user=finance,
    )
    assert body["data"]["issueInvoice"]["invoice"]["amount"] == {"amount": "600.00"}

    body = await gql(
        """mutation($i: RecordPaymentInput!) { recordPayment(input: $i) {
        payment { id unallocated { amount } } errors { code } } }""",
        {
            "i": {
                "customerId": encode_id("Customer", acme["id"]),
                "amount": _m("700"),
                "method": "CASH",
            }
        },
        user=finance,
    )
    payment = body["data"]["recordPayment"]["payment"]
    assert payment["unallocated"] == {"amount": "700.00"}
    body = await gql(
        """mutation($i: AllocatePaymentInput!) { allocatePayment(input: $i) {
        payment { allocated { amount } unallocated { amount } } errors { field code } } }""",
        {
            "i": {
                "paymentId": payment["id"],
                "allocations": [
                    {"installmentId": first, "amount": _m("600")},
                    {"installmentId": second, "amount": _m("50")},
                ],
            }
        },
        user=finance,
    )
    assert body["data"]["allocatePayment"]["payment"] == {
        "allocated": {"amount": "650.00"},
        "unallocated": {"amount": "50.00"},
    }
    body = await gql(
        """mutation($i: RefundPaymentInput!) { refundPayment(input: $i) {
        credit { kind amount { amount } } errors { code } } }""",
        {"i": {"paymentId": payment["id"], "amount": _m("50.01"), "reason": "overpaid"}},
        user=finance,
    )
    assert body["data"]["refundPayment"]["errors"] == [{"code": "EXCEEDS_PAYMENT"}]
    body = await gql(
        """mutation($i: RefundPaymentInput!) { refundPayment(input: $i) {
        credit { kind amount { amount } } errors { code } } }""",
        {"i": {"paymentId": payment["id"], "amount": _m("50"), "reason": "overpaid"}},
        user=finance,
    )
    assert body["data"]["refundPayment"]["credit"] == {
        "kind": "REFUND",
        "amount": {"amount": "50.00"},
    }
    credit = """mutation($i: CreditInstallmentInput!) { %s(input: $i) {
        credit { kind amount { amount } } errors { field code } } }"""
    body = await gql(
        credit % "issueCreditNote",
        {"i": {"installmentId": second, "amount": _m("25"), "reason": "discount"}},
        user=finance,
    )
    assert body["data"]["issueCreditNote"]["credit"]["kind"] == "CREDIT_NOTE"
    body = await gql(
        credit % "issueCreditNote",
        {"i": {"installmentId": second, "reason": "no amount"}},
        user=finance,
    )
    assert body["data"]["issueCreditNote"]["errors"][0]["field"] == "amount"
    body = await gql(
        credit % "writeOffInstallment",
        {"i": {"installmentId": second, "reason": "insolvent"}},
        user=finance,
    )
    assert body["data"]["writeOffInstallment"]["credit"] == {
        "kind": "WRITE_OFF",
        "amount": {"amount": "325.00"},
    }
    body = await gql(
        """query($id: ID!) { contract(id: $id) { openAmount { amount }
        installments { open { amount } credited { amount } } invoices { number } } }""",
        {"id": cid},
        user=finance,
    )
    contract = body["data"]["contract"]
    assert contract["openAmount"] == {"amount": "0.00"}
    assert [i["credited"]["amount"] for i in contract["installments"]] == ["0.00", "350.00"]
    body = await gql(
        """query($c: ID!) { payments(customerId: $c) { method refunded { amount } } }""",
        {"c": encode_id("Customer", acme["id"])},
        user=finance,
    )
    assert body["data"]["payments"] == [{"method": "CASH", "refunded": {"amount": "50.00"}}]
    assert cny("1") == cny("1.00")


async def test_execution_mutations(kehu, make_user, gql, make_customer, make_contract):
    admin = await make_user("admin")
    acme = await make_customer()
    row = await make_contract(acme, "in_execution")
    cid = encode_id("Contract", row["id"])
    body = await gql(
        """mutation($i: AddMilestoneInput!) { addContractMilestone(input: $i) {
        milestone { databaseId kind dueDate completedOn } errors { code } } }""",
        {"i": {"contractId": cid, "kind": "DELIVERY", "title": "Ship", "dueDate": "2020-01-01"}},
        user=admin,
    )
    milestone = body["data"]["addContractMilestone"]["milestone"]
    assert milestone["kind"] == "DELIVERY" and milestone["completedOn"] is None
    body = await gql("query($id: ID!) { contract(id: $id) { riskFlags } }", {"id": cid}, user=admin)
    assert "delivery_delay" in body["data"]["contract"]["riskFlags"]
    body = await gql(
        """mutation($i: CompleteMilestoneInput!) { completeContractMilestone(input: $i) {
        milestone { completedOn } errors { code } } }""",
        {"i": {"milestoneId": milestone["databaseId"], "completedOn": "2020-01-02"}},
        user=admin,
    )
    assert body["data"]["completeContractMilestone"]["milestone"]["completedOn"] == "2020-01-02"

    body = await gql(
        """mutation($i: OpenDisputeInput!) { openContractDispute(input: $i) {
        dispute { databaseId kind status amount { amount } legalInvolved } errors { code } } }""",
        {"i": {"contractId": cid, "kind": "quality", "amount": _m("10"), "legalInvolved": True}},
        user=admin,
    )
    dispute = body["data"]["openContractDispute"]["dispute"]
    assert dispute["status"] == "OPEN" and dispute["legalInvolved"] is True
    body = await gql(
        """mutation($i: ResolveDisputeInput!) { resolveContractDispute(input: $i) {
        dispute { status resolution } errors { code } } }""",
        {"i": {"disputeId": dispute["databaseId"], "resolution": "Refunded 10"}},
        user=admin,
    )
    assert body["data"]["resolveContractDispute"]["dispute"] == {
        "status": "RESOLVED",
        "resolution": "Refunded 10",
    }

    body = await gql(
        """mutation($i: RequestAmendmentInput!) { requestContractAmendment(input: $i) {
        amendment { databaseId status changes } errors { field code } } }""",
        {
            "i": {
                "contractId": cid,
                "reason": "More time",
                "changes": {"endDate": "2027-12-31", "afterSalesTerms": "2 years"},
            }
        },
        user=admin,
    )
    amendment = body["data"]["requestContractAmendment"]["amendment"]
    assert amendment["status"] == "PENDING"
    assert amendment["changes"] == {"end_date": "2027-12-31", "after_sales_terms": "2 years"}
    body = await gql(
        """mutation($i: DecideAmendmentInput!) { decideContractAmendment(input: $i) {
        amendment { status } errors { code } } }""",
        {"i": {"amendmentId": amendment["databaseId"], "approve": True, "comment": "ok"}},
        user=admin,
    )
    assert body["data"]["decideContractAmendment"]["amendment"]["status"] == "APPROVED"
    body = await gql(
        """query($id: ID!) { contract(id: $id) { endDate afterSalesTerms
        versions { number changes } amendments { status comment } } }""",
        {"id": cid},
        user=admin,
    )
    c = body["data"]["contract"]
    assert (c["endDate"], c["afterSalesTerms"]) == ("2027-12-31", "2 years")
    assert c["versions"][1]["changes"]["after_sales_terms"] == {"before": "", "after": "2 years"}
    body = await gql(
        """mutation($i: TerminateContractInput!) { terminateContract(input: $i) {
        contract { status terminationReason } errors { code } } }""",
        {"i": {"id": cid, "reason": "Mutual agreement"}},
        user=admin,
    )
    assert body["data"]["terminateContract"]["contract"] == {
        "status": "TERMINATED",
        "terminationReason": "Mutual agreement",
    }


async def test_edit_and_withdraw(kehu, make_user, gql, make_customer, make_contract):
    rep = await make_user("sales")
    acme = await make_customer(owner=rep)
    row = await make_contract(acme, actor=rep.actor)
    cid = encode_id("Contract", row["id"])
    update = """mutation($i: UpdateContractInput!) { updateContract(input: $i) {
        contract { title version total { amount } } errors { field code } } }"""
    body = await gql(
        update,
        {
            "i": {
                "id": cid,
                "expectedVersion": row["version"],
                "title": "Renamed",
                "lines": [
                    {"product": "A", "specification": "B", "quantity": 2, "unitPrice": _m("0.05")}
                ],
            }
        },
        user=rep,
    )
    assert body["data"]["updateContract"]["contract"] == {
        "title": "Renamed",
        "version": 2,
        "total": {"amount": "0.10"},
    }
    body = await gql(
        update, {"i": {"id": cid, "expectedVersion": 1, "title": "x"}}, user=rep, expect_errors=True
    )
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    body = await gql(
        "mutation($id: ID!) { submitContract(input: {id: $id}) { contract "
        "{ status } errors { code } } }",
        {"id": cid},
        user=rep,
    )
    assert body["data"]["submitContract"]["contract"]["status"] == "PENDING_APPROVAL"
    body = await gql(
        "mutation($id: ID!) { withdrawContract(input: {id: $id}) { contract "
        "{ status approvals { decision } } errors { code } } }",
        {"id": cid},
        user=rep,
    )
    result = body["data"]["withdrawContract"]["contract"]
    assert result["status"] == "DRAFT"
    assert {a["decision"] for a in result["approvals"]} == {"CANCELLED"}
