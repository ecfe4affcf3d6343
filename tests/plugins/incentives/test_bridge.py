"""With the pipeline_contracts bridge, money collected on a contract drafted from a won deal
is split across that deal's team (AM/TS/...), not just the contract owner."""

from datetime import date

import pytest

from kehu.plugins.contracts import services as contracts
from kehu.plugins.contracts import services as r
from kehu.plugins.incentives.services import ledger
from kehu.plugins.incentives.tables import CommissionLine
from kehu.plugins.pipeline_contracts import services as bridge

from .conftest import cny
from .test_contracts import CLAUSES

Q3_DAY = date(2026, 8, 10)


@pytest.fixture
def kehu_plugins():
    return ["core", "pipeline", "contracts", "pipeline_contracts", "incentives"]


async def test_collected_money_follows_the_deal_team(kehu, system, make_user, won_deal, make_plan):
    am, ts = await make_user("sales"), await make_user("sales")
    await make_plan([am, ts], basis="collected", splits={"am": 75, "ts": 25})
    deal = await won_deal(am, "1000.00", team=[(ts, "ts")])
    from kehu.plugins.pipeline_contracts.tables import ContractSource

    link = await ContractSource.select().where(ContractSource.opportunity == deal["id"]).first()
    contract = (
        await contracts.get_contract(system, link["contract"])
        if link
        else await bridge.draft_contract(system, deal["id"])
    )
    await contracts.update_contract(
        system,
        contract["id"],
        contract["version"],
        {
            **{k: v for k, v in CLAUSES.items() if k != "title"},
            "lines": [
                {
                    "product": "Deal",
                    "specification": "Std",
                    "quantity": 1,
                    "unit_price": cny("1000.00"),
                }
            ],
        },
    )
    row = await contracts.submit_contract(system, contract["id"])
    while row["status"] == "pending_approval":
        row = await contracts.decide_approval(system, row["id"], True, "ok")
    await contracts.sign_contract(system, row["id"], signed_on=date(2026, 7, 1))
    await r.record_payment(
        system, deal["customer"], cny("400.00"), received_on=Q3_DAY, contract_id=row["id"]
    )
    await ledger.recompute(system, "2026-Q3")
    lines = await CommissionLine.select().order_by(CommissionLine.id)
    assert [(x["user"], x["role"], x["base_minor"], x["amount_minor"]) for x in lines] == [
        (am.id, "am", 30000, 3000),
        (ts.id, "ts", 10000, 1000),
    ]
