"""With pipeline enabled and contracts disabled, pipeline works and nothing of contracts loads."""

import pytest


@pytest.fixture
def kehu_plugins():
    return ["core", "pipeline"]


async def test_pipeline_without_contracts(kehu, make_user, gql):
    assert kehu.names == ["core", "pipeline"]
    sdl = kehu.graphql().schema.as_str()
    assert "opportunit" in sdl.lower()
    assert "type Contract " not in sdl and "recordPayment" not in sdl
    assert not hasattr(kehu.pm.hook, "kehu_contract_signed")
    admin = await make_user("admin")
    body = await gql("{ customers { totalCount } }", user=admin)
    assert body["data"]["customers"]["totalCount"] == 0
