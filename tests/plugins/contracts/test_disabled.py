"""With contracts disabled (``kehu_plugins`` overridden) core works and nothing of it loads."""

import pytest

from kehu.core.services import customers
from kehu.core.services.timeline import customer_timeline


@pytest.fixture
def kehu_plugins():
    return ["core"]


async def test_plugin_disabled(kehu, system, make_user, gql):
    assert kehu.names == ["core"]
    sdl = kehu.graphql().schema.as_str()
    for name in ("contracts", "receivables", "recordPayment", "agingReport", "type Contract"):
        assert name not in sdl
    assert not hasattr(kehu.pm.hook, "kehu_contract_signed")
    assert "contracts.dunning" not in kehu.jobs()
    assert not any(t._meta.tablename.startswith("contracts_") for t in kehu.tables())
    assert "contract:write" not in kehu.permissions()
    acme = await customers.create_customer(system, {"name": "ACME"})
    other = await customers.create_customer(system, {"name": "ACME Ltd"}, allow_duplicate=True)
    await customers.merge_customers(system, acme["id"], other["id"])  # no contracts hook
    assert (await customer_timeline(system, acme["id"], first=5)).entries == []
    admin = await make_user("admin")
    body = await gql("{ customers { nodes { name } } }", user=admin)
    assert body["data"]["customers"]["nodes"] == [{"name": "ACME"}]
