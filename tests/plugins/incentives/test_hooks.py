"""Hooks incentives publishes (after commit): period locked, incentive approved."""

from contextlib import asynccontextmanager

from kehu import Kehu, PluginInfo, hookimpl
from kehu.plugins.incentives.services import events, ledger

from .conftest import cny


class Listener:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    @hookimpl
    def kehu_plugin_info(self) -> PluginInfo:
        return PluginInfo("listener", "1.0")

    @hookimpl(optionalhook=True)
    async def kehu_commission_period_locked(self, period, total, lines):
        self.calls.append(("locked", period, total, lines))

    @hookimpl(optionalhook=True)
    def kehu_incentive_approved(self, event_id, user_id, kind, subtype, amount, period):
        self.calls.append(("approved", event_id, user_id, kind, subtype, amount, period))


@asynccontextmanager
async def runtime_with(kehu: Kehu, listener: object):
    available = {p.info.name: p.module for p in kehu.plugins} | {"listener": listener}
    settings = kehu.settings.model_copy(update={"plugins": [*kehu.names, "listener"]})
    other = Kehu(settings, available=available)
    await other.start()
    try:
        yield other
    finally:
        await other.stop()
        kehu.activate()


async def test_published_hooks(kehu, system, make_user, won_deal, make_plan):
    rep = await make_user("sales", team="North")
    manager = await make_user("manager", team="North")
    await make_plan([rep])
    await won_deal(rep, "100.00", closed_on=ledger.periods.parse("2026-Q3").start)
    listener = Listener()
    async with runtime_with(kehu, listener):
        await ledger.run_payout(system, "2026-Q3")
        row = await events.propose(
            manager.actor,
            {
                "kind": "allowance",
                "subtype": "travel",
                "user": rep.id,
                "period": "2026-Q3",
                "reason": "trip",
                "amount": cny("50.00"),
            },
        )
        await events.decide(system, row["id"], True)
    assert listener.calls == [
        ("locked", "2026-Q3", cny("10.00"), 1),
        ("approved", row["id"], rep.id, "allowance", "travel", cny("50.00"), "2026-Q3"),
    ]
