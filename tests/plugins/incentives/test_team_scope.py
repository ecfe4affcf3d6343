"""A manager sees and changes the incentive data of their own team only, over GraphQL;
finance and admins see everyone's. Nothing changes when a request is refused."""

from datetime import date

import pytest

from kehu.core.graphql.base import encode_id
from kehu.plugins.incentives.services import ledger, targets
from kehu.plugins.incentives.tables import PlanAssignment, Target

from .conftest import cny

Q3 = date(2026, 8, 1)
LINES = """query($u: ID) { commissionLines(period: "2026-Q3", userId: $u) { totalCount } }"""
STATEMENT = """query($u: ID) { commissionStatement(period: "2026-Q3", userId: $u) { period } }"""
SCORECARD = """query($u: ID) { scorecard(period: "2026-Q3", userId: $u) { period } }"""
CREATE = """mutation($i: TargetInput!) { createIncentiveTarget(input: $i) {
  target { id } errors { code } } }"""
DELETE = """mutation($t: ID!) { deleteIncentiveTarget(targetId: $t) { errors { code } } }"""
ASSIGN = """mutation($i: AssignPlanInput!) { assignCommissionPlan(input: $i) {
  errors { code } } }"""


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


@pytest.fixture
async def teams(make_user, make_plan, won_deal, system):
    people = {
        "north_rep": await make_user("sales", team="North"),
        "south_rep": await make_user("sales", team="South"),
        "north_manager": await make_user("manager", team="North"),
        "finance": await make_user("finance"),
        "admin": await make_user("admin"),
    }
    await make_plan([people["north_rep"], people["south_rep"]])
    await won_deal(people["north_rep"], "100.00", closed_on=Q3)
    await won_deal(people["south_rep"], "200.00", closed_on=Q3)
    await ledger.recompute(system, "2026-Q3")
    return people


async def test_a_manager_reads_their_teams_incentives_only(gql, teams):
    manager, north, south = teams["north_manager"], teams["north_rep"], teams["south_rep"]
    for query in (LINES, STATEMENT, SCORECARD):
        assert "errors" not in await gql(query, {"u": north.gid}, user=manager)
        refused = await gql(query, {"u": south.gid}, user=manager, expect_errors=True)
        assert codes(refused) == ["FORBIDDEN"], query
    team_total = (await gql(LINES, user=manager))["data"]["commissionLines"]["totalCount"]
    north_total = (await gql(LINES, {"u": north.gid}, user=manager))["data"]
    assert team_total == north_total["commissionLines"]["totalCount"] > 0
    for everyone in (teams["finance"], teams["admin"]):
        assert "errors" not in await gql(STATEMENT, {"u": south.gid}, user=everyone)
        total = (await gql(LINES, user=everyone))["data"]["commissionLines"]["totalCount"]
        assert total > team_total


async def test_a_manager_changes_their_teams_targets_and_plans_only(gql, teams, system):
    manager, north, south = teams["north_manager"], teams["north_rep"], teams["south_rep"]
    target = {
        "metric": "won_revenue",
        "period": "2026-Q4",
        "amount": {"amount": "10.00", "currency": "CNY"},
    }
    mine = await gql(CREATE, {"i": {**target, "userId": north.gid}}, user=manager)
    assert mine["data"]["createIncentiveTarget"]["target"]["id"]
    before = await Target.count()
    for refused in (
        {**target, "userId": south.gid},
        {**target, "scope": "team", "teamId": encode_id("Team", south.team_id)},
        {**target, "scope": "company", "userId": None},
    ):
        body = await gql(CREATE, {"i": refused}, user=manager, expect_errors=True)
        assert codes(body) == ["FORBIDDEN"], refused
    assert await Target.count() == before

    theirs = await targets.create_target(
        system,
        {"metric": "won_revenue", "user": south.id, "period": "2026-Q4", "amount": cny("5.00")},
    )
    gone = await gql(
        DELETE, {"t": encode_id("IncentiveTarget", theirs["id"])}, user=manager, expect_errors=True
    )
    assert codes(gone) == ["NOT_FOUND"], gone  # not even visible to them
    assert await Target.exists().where(Target.id == theirs["id"])

    plan = await gql("{ commissionPlans { id } }", user=manager)
    plan_id = plan["data"]["commissionPlans"][0]["id"]
    assignments = await PlanAssignment.count()
    south_assign = await gql(
        ASSIGN, {"i": {"planId": plan_id, "userId": south.gid}}, user=manager, expect_errors=True
    )
    assert codes(south_assign) == ["FORBIDDEN"]
    assert await PlanAssignment.count() == assignments
    ok = await gql(ASSIGN, {"i": {"planId": plan_id, "userId": north.gid}}, user=manager)
    assert ok["data"]["assignCommissionPlan"]["errors"] == []
    admin_ok = await gql(
        ASSIGN, {"i": {"planId": plan_id, "userId": south.gid}}, user=teams["admin"]
    )
    assert admin_ok["data"]["assignCommissionPlan"]["errors"] == []
