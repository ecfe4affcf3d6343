"""The published hook ``kehu_loyalty_points_changed``, implemented by another plugin."""

from contextlib import asynccontextmanager

import pytest
from kehu_loyalty import services

from kehu import Kehu, PluginInfo, hookimpl
from kehu.core.errors import PluginError
from kehu.core.settings import Settings


class Listener:
    """A third plugin that depends on loyalty and implements the hook it publishes."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[int, int, int]] = []
        self.fail = fail

    @hookimpl
    def kehu_plugin_info(self) -> PluginInfo:
        return PluginInfo("listener", "1.0", depends=("loyalty",))

    @hookimpl
    async def kehu_loyalty_points_changed(self, customer_id: int, delta: int, balance: int):
        self.calls.append((customer_id, delta, balance))
        if self.fail:
            raise RuntimeError("listener refuses")


@asynccontextmanager
async def runtime_with(kehu: Kehu, listener: object, settings: Settings | None = None):
    """A runtime on the test database with ``listener`` installed next to the plugins."""
    available = {p.info.name: p.module for p in kehu.plugins} | {"listener": listener}
    other = Kehu(settings or kehu.settings, available=available)
    await other.start()
    try:
        yield other
    finally:
        await other.stop()
        kehu.activate()


async def test_listener_receives_point_changes(kehu, system, make_customer):
    acme = await make_customer()
    listener = Listener()
    async with runtime_with(kehu, listener) as other:
        assert other.names.index("listener") > other.names.index("loyalty")
        await services.award_points(system, acme["id"], 40, "Order")
        await services.redeem_points(system, acme["id"], 15, "Mug")
    assert listener.calls == [(acme["id"], 40, 40), (acme["id"], -15, 25)]


async def test_object_registered_on_pm_receives_calls(kehu, system, make_customer):
    acme = await make_customer()
    spy = Listener()
    kehu.pm.register(spy, name="spy")
    try:
        await services.award_points(system, acme["id"], 7, "Order")
    finally:
        kehu.pm.unregister(spy)
    assert spy.calls == [(acme["id"], 7, 7)]


async def test_failing_listener_rolls_the_award_back(kehu, system, make_customer):
    acme = await make_customer()
    async with runtime_with(kehu, Listener(fail=True)):
        with pytest.raises(RuntimeError, match="listener refuses"):
            await services.award_points(system, acme["id"], 40, "Order")
    assert await services.balance(system, acme["id"]) == 0


def _listener(name: str, optional: bool) -> object:
    """A plugin that does not depend on loyalty but implements its hook."""

    class Plugin:
        @hookimpl
        def kehu_plugin_info(self) -> PluginInfo:
            return PluginInfo(name, "1.0")

        @hookimpl(optionalhook=optional)
        def kehu_loyalty_points_changed(self, customer_id, delta, balance) -> None:
            pass

    return Plugin()


def test_hook_of_disabled_plugin_needs_optionalhook(kehu):
    modules = {p.info.name: p.module for p in kehu.plugins}
    settings = Settings(
        database_url=kehu.settings.database_url, plugins=["strict", "lenient"], _env_file=None
    )
    try:
        with pytest.raises(PluginError, match="kehu_loyalty_points_changed"):
            Kehu(
                settings,
                available=modules
                | {"strict": _listener("strict", False), "lenient": _listener("lenient", True)},
            )
        lenient = Settings(
            database_url=kehu.settings.database_url, plugins=["lenient"], _env_file=None
        )
        other = Kehu(lenient, available=modules | {"lenient": _listener("lenient", True)})
        assert other.names == ["core", "lenient"]
    finally:
        kehu.activate()
