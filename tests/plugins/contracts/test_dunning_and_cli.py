"""The dunning ladder (job, activities, never repeated, dry run) and ``kehu contracts``."""

import asyncio
from datetime import date, timedelta
from typing import Any

from click.testing import CliRunner

from kehu.core.tables import Activity
from kehu.plugins.contracts import services as r
from kehu.plugins.contracts.cli import contracts
from kehu.plugins.contracts.tables import DunningStep

from .conftest import cny


class Obj:
    def __init__(self, kehu: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.kehu = kehu
        self.loop = loop

    def run(self, fn: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(fn(self.kehu), self.loop).result(timeout=60)


async def _invoke(kehu: Any, *args: str) -> Any:
    obj = Obj(kehu, asyncio.get_running_loop())
    return await asyncio.to_thread(CliRunner().invoke, contracts, list(args), obj=obj)


async def _setup(system, make_user, make_customer, make_contract):
    rep = await make_user("sales", team="North")
    acme = await make_customer("ACME", owner=rep)
    row = await make_contract(acme, "signed", prices=("1000.00",), signed_on=date(2026, 1, 1))
    await r.set_schedule(
        system, row["id"], [(date(2026, 3, 10), cny("400")), (date(2026, 4, 1), cny("600"))]
    )
    return rep, acme, row


async def test_ladder_steps_are_activities_never_repeated(
    kehu, system, make_user, make_customer, make_contract
):
    rep, acme, row = await _setup(system, make_user, make_customer, make_contract)
    plan = await r.run_dunning(date(2026, 3, 5), dry_run=True)
    assert [(a.step, a.days_overdue) for a in plan] == [("pre_due_reminder", -5)]
    assert await Activity.count() == 0
    done = await r.run_dunning(date(2026, 3, 5))
    assert [a.step for a in done] == ["pre_due_reminder"]
    activity = await Activity.select().where(Activity.id == done[0].activity_id).first()
    assert activity["owner"] == rep.id and activity["status"] == "planned"
    assert (activity["related_type"], activity["related_id"]) == (
        "contracts_installment",
        done[0].installment_id,
    )
    assert "pre_due_reminder" in activity["subject"]
    assert await r.run_dunning(date(2026, 3, 6)) == []  # never repeated
    steps = await r.run_dunning(date(2026, 3, 11))
    assert [(a.step, a.days_overdue) for a in steps] == [("reminder", 1)]
    # the second installment: pre-due reminder; the first reaches collection at 30 days
    steps = await r.run_dunning(date(2026, 4, 9))
    assert [(a.step, a.days_overdue) for a in steps] == [("collection", 30), ("reminder", 8)]
    # paying the first installment stops its ladder
    first = (await r.installments_by_contract([row["id"]]))[row["id"]][0]
    await r.record_payment(system, acme["id"], cny("400"), allocations=[(first["id"], cny("400"))])
    steps = await r.run_dunning(date(2026, 7, 1))
    assert [(a.step, a.days_overdue) for a in steps] == [("legal", 91)]
    assert await DunningStep.count() == 5 and await Activity.count() == 5


async def test_dunning_job_and_overdue_hook(kehu, system, make_user, make_customer, make_contract):
    from kehu import hookimpl

    seen = []

    class Listener:
        @hookimpl
        def kehu_receivable_overdue(
            self, installment_id, customer_id, step, days_overdue, open_amount
        ):
            seen.append((step, days_overdue, open_amount))

    await _setup(system, make_user, make_customer, make_contract)
    kehu.pm.register(Listener(), name="overdue-listener")
    try:
        job = kehu.jobs()["contracts.dunning"]
        assert job.every == timedelta(days=1)
        summary = await job.func(kehu)  # today: far past both due dates
        assert summary == "2 dunning step(s)"
        assert sorted(s for s, _, _ in seen) == ["legal", "legal"]
        assert {m for _, _, m in seen} == {cny("400"), cny("600")}
        assert await job.func(kehu) == "0 dunning step(s)"
    finally:
        kehu.pm.unregister(name="overdue-listener")


async def test_cli_dunning_and_statement(kehu, system, make_user, make_customer, make_contract):
    _, acme, row = await _setup(system, make_user, make_customer, make_contract)
    await r.issue_invoice(system, row["id"], amount=cny("1000"), issued_on=date(2026, 1, 5))
    await r.record_payment(
        system, acme["id"], cny("250.50"), received_on=date(2026, 2, 1), reference="BANK-7"
    )
    result = await _invoke(kehu, "dunning", "--as-of", "2026-03-11", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "reminder" in result.output and "Would take 1 dunning step(s)" in result.output
    assert await DunningStep.count() == 0
    result = await _invoke(kehu, "dunning", "--as-of", "2026-03-11")
    assert "Took 1 dunning step(s)" in result.output and await DunningStep.count() == 1
    result = await _invoke(
        kehu, "statement", str(acme["id"]), "--from", "2026-01-01", "--to", "2026-02-28"
    )
    assert result.exit_code == 0, result.output
    out = result.output
    totals = {ln[:17].strip(): ln[17:].strip() for ln in out.splitlines()[-5:]}
    assert totals == {
        "Opening balance": "0.00",
        "+ Invoices": "1000.00",
        "- Payments": "250.50",
        "- Credits": "0.00",
        "= Closing balance": "749.50",
    }
    assert "BANK-7" in out
    result = await _invoke(
        kehu, "statement", "999999", "--from", "2026-01-01", "--to", "2026-02-28"
    )
    assert result.exit_code == 1 and "not found" in result.output
    result = await _invoke(kehu, "aging", "--as-of", "2026-04-15", "--by", "customer")
    assert result.exit_code == 0 and "1000.00" in result.output
    result = await _invoke(kehu, "dunning", "--as-of", "yesterday")
    assert result.exit_code == 2
