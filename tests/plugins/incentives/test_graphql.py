"""Incentives over GraphQL: plans with validation errors, targets with attainment, ledger
recomputation, statements and leaderboard visibility, events, scorecards, payouts."""

from datetime import date
from decimal import Decimal

from kehu.plugins.incentives.services import ledger

Q3 = date(2026, 8, 10)

PLAN = """mutation($input: CommissionPlanInput!) { createCommissionPlan(input: $input) {
  plan { id name basis tiers { fromAttainment rate } splits { role percent } cap { amount } }
  errors { field code } } }"""
ASSIGN = """mutation($input: AssignPlanInput!) { assignCommissionPlan(input: $input) {
  plan { name } errors { field code } } }"""
TARGET = """mutation($input: TargetInput!) { createIncentiveTarget(input: $input) {
  target { id period amount { amount currency } } errors { field code } } }"""
BOARD = """query($p: String!) { incentiveLeaderboard(period: $p, metric: "won_revenue") {
  rank actual attainment commission { amount } user { username } } }"""
STATEMENT = """query($p: String!, $u: ID) { commissionStatement(period: $p, userId: $u) {
  period locked total { amount currency } totals { kind amount { amount } }
  lines { kind role base { amount } rate share amount { amount } explanation
          user { username } } } }"""


async def _plan(gql, admin, users, **extra):
    body = await gql(
        PLAN,
        {
            "input": {
                "name": "Tiered",
                "basis": "WON",
                "effectiveFrom": "2026-01-01",
                "tiers": [
                    {"fromAttainment": "0", "rate": "0.05"},
                    {"fromAttainment": "0.8", "rate": "0.08"},
                    {"fromAttainment": "1", "rate": "0.12"},
                ],
                "splits": [{"role": "am", "percent": "60"}, {"role": "ts", "percent": "40"}],
                **extra,
            }
        },
        user=admin,
    )
    plan = body["data"]["createCommissionPlan"]["plan"]
    for u in users:
        body = await gql(ASSIGN, {"input": {"planId": plan["id"], "userId": u.gid}}, user=admin)
        assert body["data"]["assignCommissionPlan"]["errors"] == []
    return plan


async def test_plan_validation_errors(kehu, gql, make_user):
    admin = await make_user("admin")
    body = await gql(
        PLAN,
        {
            "input": {
                "name": "Bad",
                "basis": "COLLECTED",
                "effectiveFrom": "2026-01-01",
                "tiers": [{"fromAttainment": "0.5", "rate": "0.05"}],
                "splits": [{"role": "am", "percent": "60"}, {"role": "ts", "percent": "30"}],
            }
        },
        user=admin,
    )
    result = body["data"]["createCommissionPlan"]
    assert result["plan"] is None
    assert {(e["field"], e["code"]) for e in result["errors"]} == {
        ("basis", "PLUGIN_DISABLED"),
        ("tiers", "INVALID"),
        ("splits", "SPLITS_NOT_100"),
    }
    rep = await make_user("sales")
    body = await gql(
        PLAN,
        {"input": {"name": "X", "basis": "WON", "rate": "0.1", "effectiveFrom": "2026-01-01"}},
        user=rep,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_ledger_statement_and_leaderboard_visibility(kehu, gql, make_user, won_deal, system):
    admin = await make_user("admin")
    a = await make_user("sales", username="alice")
    b = await make_user("sales", username="bob")
    plan = await _plan(gql, admin, [a, b])
    assert plan["splits"] == [{"role": "AM", "percent": "60"}, {"role": "TS", "percent": "40"}]
    body = await gql(
        TARGET,
        {
            "input": {
                "metric": "won_revenue",
                "period": "2026-Q3",
                "userId": a.gid,
                "amount": {"amount": "1000", "currency": "CNY"},
            }
        },
        user=admin,
    )
    assert body["data"]["createIncentiveTarget"]["errors"] == []
    await won_deal(a, "900.00", team=[(b, "ts")], closed_on=Q3)
    await won_deal(b, "100.00", closed_on=Q3)
    body = await gql(
        """mutation { recomputeCommissions(period: "2026-Q3") {
        result { created unchanged } errors { code } } }""",
        user=admin,
    )
    assert body["data"]["recomputeCommissions"]["result"]["created"] == 3
    body = await gql(STATEMENT, {"p": "2026-Q3"}, user=a)
    st = body["data"]["commissionStatement"]
    assert st["locked"] is False
    [line] = st["lines"]
    assert (line["role"], line["base"]["amount"], line["rate"], line["amount"]["amount"]) == (
        "AM",
        "540.00",
        "0.08",
        "43.20",
    )  # 90 % attainment → 8 %
    assert line["explanation"].startswith("8% (Tiered, tier ≥80%) × 60% (AM) of won")
    body = await gql(STATEMENT, {"p": "2026-Q3", "u": a.gid}, user=b, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(STATEMENT, {"p": "2026-Q3", "u": b.gid}, user=admin)
    assert body["data"]["commissionStatement"]["total"]["amount"] == "23.00"  # 5 % of 460
    board = (await gql(BOARD, {"p": "2026-Q3"}, user=b))["data"]["incentiveLeaderboard"]
    assert [(e["rank"], e["user"]["username"], e["actual"]) for e in board] == [
        (1, "alice", "900.00"),
        (2, "bob", "100.00"),
    ]
    assert board[0]["commission"] is None and board[0]["attainment"] == "0.9"
    assert board[1]["commission"] == {"amount": "23.00"}
    board = (await gql(BOARD, {"p": "2026-Q3"}, user=admin))["data"]["incentiveLeaderboard"]
    assert board[0]["commission"] == {"amount": "43.20"}


async def test_payout_events_and_scorecard(kehu, gql, make_user, won_deal):
    admin = await make_user("admin")
    manager = await make_user("manager", team="North")
    rep = await make_user("sales", team="North")
    await _plan(gql, admin, [rep])
    await won_deal(rep, "100.00", closed_on=Q3)
    body = await gql(
        """mutation { runCommissionPayout(period: "2026-Q3") {
        run { period lines total { amount } } errors { code } } }""",
        user=rep,
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await gql(
        """mutation { runCommissionPayout(period: "2026-Q3") {
        run { period lines total { amount } } errors { code } } }""",
        user=admin,
    )
    assert body["data"]["runCommissionPayout"]["run"] == {
        "period": "2026-Q3",
        "lines": 1,
        "total": {"amount": "5.00"},
    }
    body = await gql(
        """mutation($input: IncentiveEventInput!) { proposeIncentiveEvent(
        input: $input) { event { id status kind } errors { field code } } }""",
        {
            "input": {
                "kind": "BONUS",
                "subtype": "spot",
                "userId": rep.gid,
                "period": "2026-Q3",
                "reason": "big win",
                "amount": {"amount": "300", "currency": "CNY"},
            }
        },
        user=manager,
    )
    event = body["data"]["proposeIncentiveEvent"]["event"]
    assert event["status"] == "PENDING" and event["kind"] == "BONUS"
    body = await gql(
        """mutation($input: DecideIncentiveEventInput!) { decideIncentiveEvent(
        input: $input) { event { status } errors { code } } }""",
        {"input": {"id": event["id"], "approve": True}},
        user=admin,
    )
    assert body["data"]["decideIncentiveEvent"]["event"]["status"] == "APPROVED"
    body = await gql(STATEMENT, {"p": "2026-Q3"}, user=rep)
    st = body["data"]["commissionStatement"]
    assert st["locked"] is True and st["total"]["amount"] == "305.00"
    body = await gql(
        """{ scorecard(period: "2026-Q3") { total items { metric score } }
        incentiveMetrics commissionPayoutRuns { period } }""",
        user=admin,
    )
    assert body["data"]["incentiveMetrics"] == ["won_revenue", "new_customers", "conversion_rate"]
    assert body["data"]["commissionPayoutRuns"] == [{"period": "2026-Q3"}]
    body = await gql(
        """query($u: ID) { scorecard(period: "2026-Q3", userId: $u) {
        total items { metric score } } }""",
        {"u": rep.gid},
        user=manager,
    )
    assert body["data"]["scorecard"]["items"] == [{"metric": "conversion_rate", "score": "100.00"}]
    assert await ledger.locked_periods() == {"2026-Q3"}


async def test_targets_query_with_attainment(kehu, gql, make_user, won_deal):
    admin = await make_user("admin")
    rep = await make_user("sales")
    body = await gql(
        TARGET,
        {
            "input": {
                "metric": "won_revenue",
                "period": "2026",
                "scope": "company",
                "amount": {"amount": "1000.01", "currency": "CNY"},
            }
        },
        user=admin,
    )
    target_id = body["data"]["createIncentiveTarget"]["target"]["id"]
    body = await gql(
        """mutation($input: DecomposeTargetInput!) { decomposeIncentiveTarget(
        input: $input) { targets { period amount { amount } } errors { code } } }""",
        {
            "input": {
                "targetId": target_id,
                "by": "period",
                "weights": [{"key": "2026-Q3", "weight": "2"}],
            }
        },
        user=admin,
    )
    parts = body["data"]["decomposeIncentiveTarget"]["targets"]
    assert [p["amount"]["amount"] for p in parts] == ["200.00", "200.00", "400.01", "200.00"]
    await won_deal(rep, "100.00", closed_on=Q3)
    body = await gql(
        """{ incentiveTargets(period: "2026-Q3") { scope amount { amount }
        attainment { actual ratio actualMoney { amount currency } } } }""",
        user=rep,
    )
    assert body["data"]["incentiveTargets"] == [
        {
            "scope": "company",
            "amount": {"amount": "400.01"},
            "attainment": {
                "actual": "100.00",
                "ratio": str(Decimal(10000) / Decimal(40001)),
                "actualMoney": {"amount": "100.00", "currency": "CNY"},
            },
        }
    ]


async def _board_queries(gql, user) -> int:
    from kehu.core.db import count_queries

    await gql(BOARD, {"p": "2026-Q3"}, user=user)  # warm-up
    with count_queries() as log:
        body = await gql(BOARD, {"p": "2026-Q3"}, user=user)
    assert all(e["user"]["username"] for e in body["data"]["incentiveLeaderboard"])
    return log.count


async def test_leaderboard_and_statement_use_constant_queries(
    kehu, gql, make_user, won_deal, make_plan, system
):
    admin = await make_user("admin")
    reps = [await make_user("sales") for _ in range(8)]
    await make_plan(reps)
    for rep in reps[:2]:
        await won_deal(rep, "10.00", closed_on=Q3)
    await ledger.recompute(system, "2026-Q3")
    few = await _board_queries(gql, admin)
    for rep in reps[2:]:
        await won_deal(rep, "10.00", closed_on=Q3)
    await ledger.recompute(system, "2026-Q3")
    assert await _board_queries(gql, admin) == few


async def test_invalid_period_is_a_payload_error(kehu, gql, make_user):
    admin = await make_user("admin")
    body = await gql(
        """mutation { recomputeCommissions(period: "2026-07") {
        result { created } errors { field code message } } }""",
        user=admin,
    )
    [error] = body["data"]["recomputeCommissions"]["errors"]
    assert (error["field"], error["code"]) == ("period", "INVALID")
    assert "2026-Q3" in error["message"]  # commission periods are quarters


async def test_commission_lines_visibility(kehu, gql, make_user, won_deal, make_plan, system):
    manager = await make_user("manager", team="North")
    a, b = await make_user("sales", team="North"), await make_user("sales", team="North")
    await make_plan([a, b])
    await won_deal(a, "10.00", closed_on=Q3)
    await won_deal(b, "20.00", closed_on=Q3)
    await ledger.recompute(system, "2026-Q3")
    query = """query($u: ID) { commissionLines(period: "2026-Q3", userId: $u) {
        totalCount nodes { amount { amount } user { username } } } }"""
    mine = (await gql(query, user=a))["data"]["commissionLines"]["nodes"]
    assert mine == [{"amount": {"amount": "1.00"}, "user": {"username": a.username}}]
    body = await gql(query, {"u": b.gid}, user=a, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql(query, user=manager))["data"]["commissionLines"]["totalCount"] == 2


async def test_end_plan_and_delete_target(kehu, gql, make_user, won_deal, system):
    admin = await make_user("admin")
    rep = await make_user("sales")
    plan = await _plan(gql, admin, [rep])
    await won_deal(rep, "100.00", closed_on=date(2026, 9, 20))
    body = await gql(
        """mutation($id: ID!) { endCommissionPlan(planId: $id,
        effectiveTo: "2026-08-31") { plan { effectiveTo } errors { code } } }""",
        {"id": plan["id"]},
        user=admin,
    )
    assert body["data"]["endCommissionPlan"]["plan"]["effectiveTo"] == "2026-08-31"
    await ledger.recompute(system, "2026-Q3")
    assert (await gql(STATEMENT, {"p": "2026-Q3"}, user=rep))["data"]["commissionStatement"][
        "lines"
    ] == []
    body = await gql(
        TARGET,
        {
            "input": {
                "metric": "won_revenue",
                "period": "2026",
                "scope": "company",
                "amount": {"amount": "10", "currency": "CNY"},
            }
        },
        user=admin,
    )
    target_id = body["data"]["createIncentiveTarget"]["target"]["id"]
    await gql(
        """mutation($input: DecomposeTargetInput!) { decomposeIncentiveTarget(
        input: $input) { errors { code } } }""",
        {"input": {"targetId": target_id, "by": "period"}},
        user=admin,
    )
    body = await gql(
        """{ incentiveTargets(period: "2026") { decompositionProblems } }""", user=admin
    )
    assert body["data"]["incentiveTargets"] == [{"decompositionProblems": []}]
    body = await gql(
        """mutation($id: ID!) { deleteIncentiveTarget(targetId: $id) {
        deletedId errors { code } } }""",
        {"id": target_id},
        user=admin,
    )
    assert body["data"]["deleteIncentiveTarget"]["deletedId"] == target_id
    body = await gql("""{ incentiveTargets { id } }""", user=admin)
    assert body["data"]["incentiveTargets"] == []  # children cascade
