"""Webhook settings from the environment (containers): JSON lists and comma-separated hosts."""

import pytest

from kehu.core.context import current
from kehu.core.errors import PluginError
from kehu.core.runtime import Kehu
from kehu.core.settings import Settings


@pytest.fixture
def restore():
    try:
        previous = current()
    except RuntimeError:
        previous = None
    yield
    if previous is not None:
        previous.activate()


@pytest.mark.parametrize(
    ("env", "hosts"),
    [
        ('["127.0.0.1", "10.0.0.0/8"]', ["127.0.0.1", "10.0.0.0/8"]),
        ("127.0.0.1, localhost", ["127.0.0.1", "localhost"]),
    ],
)
def test_allowed_hosts_from_the_environment(tmp_path, monkeypatch, restore, env, hosts):
    monkeypatch.setenv("KEHU_PLUGIN_SETTINGS__WEBHOOKS__ALLOWED_HOSTS", env)
    monkeypatch.setenv("KEHU_PLUGIN_SETTINGS__WEBHOOKS__RETRY_SCHEDULE_SECONDS", "[1, 2.5]")
    kehu = Kehu(Settings(database_url=f"sqlite:///{tmp_path}/s.db", plugins=["webhooks"]))
    settings = kehu.plugin_settings("webhooks")
    assert settings.allowed_hosts == hosts
    assert settings.retry_schedule_seconds == [1, 2.5]


def test_a_bad_value_stops_startup_with_a_clear_message(tmp_path, monkeypatch, restore):
    monkeypatch.setenv("KEHU_PLUGIN_SETTINGS__WEBHOOKS__RETRY_SCHEDULE_SECONDS", "[]")
    with pytest.raises(PluginError, match=r"plugin_settings\.webhooks.*retry_schedule_seconds"):
        Kehu(Settings(database_url=f"sqlite:///{tmp_path}/s.db", plugins=["webhooks"]))
