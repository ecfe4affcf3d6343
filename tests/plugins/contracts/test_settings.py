"""Plugin settings: approval tiers by amount, the legal role, aging buckets, the ladder."""

import pytest
from pydantic import ValidationError

from kehu.plugins.contracts import services
from kehu.plugins.contracts import services as r
from kehu.plugins.contracts.settings import ContractsSettings

SETTINGS = {
    "number_prefix": "K",
    "aging_buckets": [10, 20],
    "approval_tiers": [
        {"min_amount": "0", "steps": [{"name": "department_head", "role": "manager"}]},
        {
            "min_amount": "10000",
            "steps": [
                {"name": "department_head", "role": "manager"},
                {"name": "legal", "role": "support"},
                {"name": "finance", "role": "finance"},
            ],
        },
    ],
}


@pytest.fixture
def kehu_settings_overrides():
    return {"plugin_settings": {"contracts": SETTINGS}}


async def test_approval_chain_depends_on_the_amount(
    kehu, system, make_user, make_customer, make_contract
):
    manager = await make_user("manager", team="North")
    legal = await make_user("support")
    acme = await make_customer(owner=manager)
    small = await make_contract(acme, "pending_approval", prices=("9999.99",), actor=manager.actor)
    assert small["number"].startswith("K-")
    small = await services.decide_approval(manager.actor, small["id"], True)
    assert small["status"] == "approved"
    big = await make_contract(acme, "pending_approval", prices=("10000.00",), actor=manager.actor)
    await services.decide_approval(manager.actor, big["id"], True)
    steps = (await services.approvals_by_contract([big["id"]]))[big["id"]]
    assert [(s["name"], s["role"]) for s in steps] == [
        ("department_head", "manager"),
        ("legal", "support"),
        ("finance", "finance"),
    ]
    # support has no contract:approve scope by default: grant via core settings to use it
    assert not legal.actor.can("contract:approve")
    assert services.config().bucket_names() == ["current", "1-10", "11-20", "20+"]
    assert r.bucket_names([10, 20]) == services.config().bucket_names()


def test_invalid_settings_are_rejected():
    with pytest.raises(ValidationError):
        ContractsSettings(aging_buckets=[60, 30])
    with pytest.raises(ValidationError):
        ContractsSettings(approval_tiers=[])
    with pytest.raises(ValidationError):
        ContractsSettings(default_rating="Z")
    assert ContractsSettings().tier_for(0).steps[1].role == "admin"  # legal defaults to admin
