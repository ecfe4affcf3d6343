"""With loyalty disabled (``kehu_plugins`` overridden) nothing of it is loaded."""

import pytest

from kehu.core.services import activities


@pytest.fixture
def kehu_plugins():
    return ["core"]


async def test_plugin_disabled(kehu, system, make_customer):
    assert kehu.names == ["core"]
    sdl = kehu.graphql().schema.as_str()
    assert "loyaltyPoints" not in sdl and "awardLoyaltyPoints" not in sdl
    assert "Customer" in sdl
    assert not hasattr(kehu.pm.hook, "kehu_loyalty_points_changed")
    assert "loyalty.expire" not in kehu.jobs()
    assert not any(t._meta.tablename.startswith("loyalty_") for t in kehu.tables())
    acme = await make_customer()
    await activities.log_activity(system, acme["id"], {"subject": "Call"})  # no handler runs
