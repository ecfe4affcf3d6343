"""The pipeline ↔ contracts bridge: auto-enabled with both plugins; a won deal drafts a
contract that remembers its source opportunity."""

from decimal import Decimal

import pytest

from kehu.core.graphql.base import encode_id
from kehu.core.money import Money
from kehu.core.runtime import Kehu
from kehu.core.services import customers
from kehu.core.settings import Settings
from kehu.plugins.pipeline import services as pipeline


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["pipeline", "contracts"]


def test_bridge_follows_both_sides(tmp_path) -> None:
    from kehu.core.context import current

    try:
        previous = current()
    except RuntimeError:
        previous = None
    try:
        both = Kehu(
            Settings(database_url=f"sqlite:///{tmp_path}/a.db", plugins=["pipeline", "contracts"])
        )
        assert both.names[-1] == "pipeline_contracts"
        one = Kehu(Settings(database_url=f"sqlite:///{tmp_path}/b.db", plugins=["pipeline"]))
        assert "pipeline_contracts" not in one.names
        assert "draftContractFromOpportunity" not in one.graphql().schema.as_str()
    finally:
        if previous is not None:
            previous.activate()


async def _won_deal(system, rep, *, lines: bool = True) -> dict:
    customer = await customers.create_customer(system, {"name": "ACME", "owner": rep.id})
    flow = await pipeline.create_pipeline(system, "Web", template="online")
    opp = await pipeline.create_opportunity(
        system,
        {
            "name": "ERP rollout",
            "customer": customer["id"],
            "pipeline": flow["id"],
            "amount": Money(1_000_000, "CNY"),
            "owner": rep.id,
        },
    )
    if lines:
        await pipeline.add_line_item(system, opp["id"], "ERP licence", 3, Money(250_000, "CNY"))
        await pipeline.add_line_item(system, opp["id"], "Training", 1, Money(99_99, "CNY"))
    return await pipeline.win_opportunity(system, opp["id"])


DRAFT = """mutation($id: ID!) { draftContractFromOpportunity(input: {opportunityId: $id}) {
  contract { id title status currency total { amount currency }
             lines { product quantity unitPrice { amount } amount { amount } }
             sourceOpportunity { name } owner { username } }
  errors { field code message } } }"""


async def test_won_deal_drafts_a_contract(kehu, system, make_user, gql):
    rep = await make_user("sales", team="North")
    opp = await _won_deal(system, rep)
    body = await gql(DRAFT, {"id": encode_id("Opportunity", opp["id"])}, user=rep)
    result = body["data"]["draftContractFromOpportunity"]
    assert result["errors"] == []
    contract = result["contract"]
    assert (contract["status"], contract["currency"], contract["title"]) == (
        "DRAFT",
        "CNY",
        "ERP rollout",
    )
    assert [(li["product"], li["quantity"]) for li in contract["lines"]] == [
        ("ERP licence", 3),
        ("Training", 1),
    ]
    assert Decimal(contract["total"]["amount"]) == Decimal("7599.99")
    assert contract["sourceOpportunity"]["name"] == "ERP rollout"
    assert contract["owner"]["username"] == rep.username

    body = await gql(
        """query($id: ID!) { node(id: $id) { ... on Opportunity {
        contracts { id title } } } }""",
        {"id": encode_id("Opportunity", opp["id"])},
        user=rep,
    )
    assert [c["id"] for c in body["data"]["node"]["contracts"]] == [contract["id"]]

    again = await gql(DRAFT, {"id": encode_id("Opportunity", opp["id"])}, user=rep)
    assert again["data"]["draftContractFromOpportunity"]["errors"][0]["code"] == "DUPLICATE"


async def test_deal_without_line_items_gives_one_line_with_the_amount(kehu, system, make_user, gql):
    rep = await make_user("sales")
    opp = await _won_deal(system, rep, lines=False)
    body = await gql(DRAFT, {"id": encode_id("Opportunity", opp["id"])}, user=rep)
    contract = body["data"]["draftContractFromOpportunity"]["contract"]
    assert [(li["product"], Decimal(li["amount"]["amount"])) for li in contract["lines"]] == [
        ("ERP rollout", Decimal("10000.00"))
    ]


async def test_open_deals_and_invisible_deals_are_refused(kehu, system, make_user, gql):
    rep, other = await make_user("sales", team="North"), await make_user("sales", team="South")
    customer = await customers.create_customer(system, {"name": "Open Co", "owner": rep.id})
    flow = await pipeline.create_pipeline(system, "Web", template="online")
    opp = await pipeline.create_opportunity(
        system,
        {
            "name": "Open deal",
            "customer": customer["id"],
            "pipeline": flow["id"],
            "amount": Money(500, "CNY"),
            "owner": rep.id,
        },
    )
    body = await gql(DRAFT, {"id": encode_id("Opportunity", opp["id"])}, user=rep)
    assert body["data"]["draftContractFromOpportunity"]["errors"][0]["code"] == (
        "OPPORTUNITY_NOT_WON"
    )
    body = await gql(
        DRAFT, {"id": encode_id("Opportunity", opp["id"])}, user=other, expect_errors=True
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


class TestAutomaticDraft:
    @pytest.fixture
    def kehu_settings_overrides(self) -> dict:
        return {"plugin_settings": {"pipeline_contracts": {"draft_contract_on_won": True}}}

    async def test_winning_drafts_the_contract(self, kehu, system, make_user):
        from kehu.plugins.pipeline_contracts.services import contracts_of

        rep = await make_user("sales")
        opp = await _won_deal(system, rep)
        (contract,) = (await contracts_of(system, [opp["id"]]))[opp["id"]]
        assert contract["status"] == "draft" and contract["customer"] == opp["customer"]
