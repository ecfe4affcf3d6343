"""Plugin settings (``[plugin_settings.loyalty]``) reach the event handler and the job."""

import pytest
from kehu_loyalty import services

from kehu.core.services import activities


@pytest.fixture
def kehu_settings_overrides():
    return {"plugin_settings": {"loyalty": {"points_per_activity": 5, "expire_after_days": 0}}}


async def test_settings_are_used(kehu, system, make_customer):
    acme = await make_customer()
    await activities.log_activity(system, acme["id"], {"subject": "Visit", "kind": "visit"})
    assert await services.balance(system, acme["id"]) == 5
    assert await kehu.jobs()["loyalty.expire"].func(kehu) is None  # expiry switched off


def test_invalid_settings_refuse_to_start():
    from kehu.core.context import current
    from kehu.core.errors import PluginError
    from kehu.core.runtime import Kehu
    from kehu.core.settings import Settings

    previous = current()
    bad = {"loyalty": {"points_per_activity": -1}}
    with pytest.raises(PluginError, match=r"plugin_settings\.loyalty"):
        Kehu(Settings(database_url="sqlite:///unused.db", plugin_settings=bad, _env_file=None))
    assert current() is previous
