"""The contracts plugin's e-mails: dunning reminders to the customer's finance contact (the
contract number and the open amount), approval requests to the deciders of the next step of
an approval chain (managers of the contract's team), none after the final approval; each
queued once however often its event is delivered, and sent through a real SMTP server."""

from datetime import date
from typing import Any

import pytest

from kehu.core.mail import send_due
from kehu.core.services import contacts, users
from kehu.core.services.events import replay
from kehu.core.tables import EventRecord, MailMessage
from kehu.plugins.contracts import services
from kehu.plugins.contracts import services as r

from .conftest import cny


async def with_address(system: Any, user: Any) -> str:
    address = f"{user.username}@example.com"
    await users.update_user(system, user.id, {"email": address})
    return address


async def add_contact(system: Any, customer: dict, name: str, email: str, **data: Any) -> dict:
    return await contacts.create_contact(
        system, customer["id"], {"name": name, "email": email, **data}
    )


async def mails(kind: str) -> list[dict[str, Any]]:
    return await MailMessage.select().where(MailMessage.kind == kind).order_by(MailMessage.id)


@pytest.fixture
def handler_calls(monkeypatch: Any) -> list[tuple[str, str, bool]]:
    """``(kind, dedup_key, queued)`` of every ``queue_mail`` call of the contracts handler."""
    from kehu.plugins.contracts import notifications

    calls: list[tuple[str, str, bool]] = []
    real = notifications.queue_mail

    async def counting(kind: str, **kw: Any) -> Any:
        row = await real(kind, **kw)
        calls.append((kind, kw["dedup_key"], row is not None))
        return row

    monkeypatch.setattr(notifications, "queue_mail", counting)
    return calls


async def deliver_again(kehu: Any, system: Any, calls: list, *names: str) -> None:
    """Replay every event named ``names`` to the contracts plugin: its handler runs again
    and tries to queue its mails again, queueing nothing."""
    refs = [
        r["event_id"]
        for r in await EventRecord.select(EventRecord.event_id)
        .where(EventRecord.name.is_in(list(names)))
        .order_by(EventRecord.id)
    ]
    assert refs, f"no {names} event"
    before = len(calls)
    assert await replay(system, event_refs=refs, subscriber="plugin:contracts") == len(refs)
    await kehu.events.drain()
    assert calls[before:] and not any(queued for *_, queued in calls[before:]), calls[before:]


async def test_dunning_mails_the_finance_contact(
    kehu, system, make_user, make_customer, make_contract, smtp_server, monkeypatch, handler_calls
):
    rep = await make_user("sales", team="North")
    await with_address(system, rep)
    acme = await make_customer("ACME", owner=rep)
    await add_contact(system, acme, "Wang Wei", "wang@acme.example", is_primary=True)
    await add_contact(system, acme, "Chen Jing", "chen@acme.example", buying_role="finance")
    contract = await make_contract(acme, "signed", prices=("1000.00",), signed_on=date(2026, 1, 1))
    await r.set_schedule(
        system,
        contract["id"],
        [(date(2026, 3, 10), cny("400")), (date(2026, 4, 1), cny("600"))],
    )
    number = contract["number"]

    done = await r.run_dunning(date(2026, 3, 5))
    assert [a.step for a in done] == ["pre_due_reminder"]
    [upcoming] = await mails("dunning_reminder")
    assert (upcoming["to_address"], upcoming["to_user"], upcoming["customer"]) == (
        "chen@acme.example",  # the finance contact, not the primary one
        None,
        acme["id"],
    )
    assert upcoming["subject"] == f"即将到期提醒：合同 {number} 待付 400.00 CNY"
    assert upcoming["body"].startswith("Chen Jing，您好")
    assert f"合同 {number} 的款项 400.00 CNY 将于 5 天后到期" in upcoming["body"]
    assert upcoming["body"].rstrip().endswith("ACME")

    # a partial payment: the next reminder asks for what is still open
    first = (await r.installments_by_contract([contract["id"]]))[contract["id"]][0]
    await r.record_payment(system, acme["id"], cny("150"), allocations=[(first["id"], cny("150"))])
    monkeypatch.setattr(kehu.settings, "mail_default_locale", "en")
    assert [a.step for a in await r.run_dunning(date(2026, 3, 13))] == ["reminder"]
    overdue = (await mails("dunning_reminder"))[1]
    assert overdue["to_address"] == "chen@acme.example" and overdue["locale"] == "en"
    assert overdue["subject"] == f"overdue payment: contract {number}, 250.00 CNY open"
    assert f"250.00 CNY on contract {number} is 3 days overdue." in overdue["body"]
    assert overdue["body"].startswith("Dear Chen Jing,")

    await deliver_again(kehu, system, handler_calls, "installment.dunned")
    assert len(await mails("dunning_reminder")) == 2
    assert await r.run_dunning(date(2026, 3, 14)) == []  # the ladder never repeats a step
    assert len(await mails("dunning_reminder")) == 2

    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    assert await send_due() == 2
    assert [m["To"] for m in smtp_server.messages] == ["chen@acme.example"] * 2
    assert {m["Message-ID"] for m in smtp_server.messages} == {
        upcoming["message_id"],
        overdue["message_id"],
    }
    contents = [m.get_content() for m in smtp_server.messages]
    assert any(number in c and "400.00 CNY" in c for c in contents)
    assert any(number in c and "250.00 CNY" in c for c in contents)


async def test_dunning_without_finance_contact_mails_the_primary_one(
    kehu, system, make_customer, make_contract
):
    beta = await make_customer("Beta")
    await add_contact(system, beta, "Sun Li", "sun@beta.example")
    await add_contact(system, beta, "Zhou Min", "zhou@beta.example", is_primary=True)
    await add_contact(system, beta, "Finance Without Mail", "", buying_role="finance")
    mute = await make_customer("Mute")  # nobody to write to: the task only
    for customer in (beta, mute):
        contract = await make_contract(customer, "signed", signed_on=date(2026, 1, 1))
        await r.set_schedule(system, contract["id"], [(date(2026, 3, 10), cny("1000"))])
    assert len(await r.run_dunning(date(2026, 3, 11))) == 2
    [mail] = await mails("dunning_reminder")
    assert (mail["to_address"], mail["customer"]) == ("zhou@beta.example", beta["id"])
    assert mail["body"].startswith("Zhou Min，您好")


async def test_dunning_on_the_due_date_and_one_day_late(
    kehu, system, make_customer, make_contract, monkeypatch
):
    gamma = await make_customer("Gamma")
    await add_contact(system, gamma, "Qian Fang", "qian@gamma.example", buying_role="finance")
    contract = await make_contract(gamma, "signed", signed_on=date(2026, 1, 1))
    await r.set_schedule(system, contract["id"], [(date(2026, 3, 10), cny("1000"))])
    # the first run is on the due date: the pre-due reminder says "today"
    assert [(a.step, a.days_overdue) for a in await r.run_dunning(date(2026, 3, 10))] == [
        ("pre_due_reminder", 0)
    ]
    [today] = await mails("dunning_reminder")
    assert f"合同 {contract['number']} 的款项 1000.00 CNY 今天到期。" in today["body"]
    monkeypatch.setattr(kehu.settings, "mail_default_locale", "en")
    await r.run_dunning(date(2026, 3, 11))
    late = (await mails("dunning_reminder"))[1]
    assert f"1000.00 CNY on contract {contract['number']} is 1 day overdue." in late["body"]


APPROVAL_EVENTS = ("contract.transitioned", "contract_approval.approved")


async def test_approval_requests_go_to_each_steps_deciders(
    kehu, system, make_user, make_customer, make_contract, smtp_server, monkeypatch, handler_calls
):
    rep = await make_user("sales", team="North")
    head = await make_user("manager", team="North")
    other_head = await make_user("manager", team="South")  # not the contract's team
    lawyer = await make_user("admin")
    treasurer = await make_user("finance")
    people = {
        u.id: await with_address(system, u) for u in (rep, head, other_head, lawyer, treasurer)
    }
    acme = await make_customer("ACME", owner=rep)
    contract = await make_contract(acme, actor=rep.actor)
    number = contract["number"]
    assert contract["team"] == rep.team_id

    def to(rows: list[dict[str, Any]]) -> list[int]:
        return [m["to_user"] for m in rows]

    await services.submit_contract(rep.actor, contract["id"])
    [first] = await mails("approval_request")
    assert first["to_user"] == head.id  # managers of the contract's team only
    assert first["to_address"] == people[head.id]
    assert first["subject"] == f"待审批：合同 {number} Supply contract（1000.00 CNY）"
    assert "“department_head”环节审批" in first["body"] and "客户：ACME" in first["body"]
    await deliver_again(kehu, system, handler_calls, "contract.transitioned")
    assert to(await mails("approval_request")) == [head.id]

    await services.decide_approval(head.actor, contract["id"], True, "ok")
    assert to(await mails("approval_request")) == [head.id, lawyer.id]  # legal: the admins
    assert "“legal”环节" in (await mails("approval_request"))[1]["body"]
    await deliver_again(kehu, system, handler_calls, "contract_approval.approved")
    await services.decide_approval(lawyer.actor, contract["id"], True, "ok")
    assert to(await mails("approval_request")) == [head.id, lawyer.id, treasurer.id]
    await deliver_again(kehu, system, handler_calls, *APPROVAL_EVENTS)
    assert len(await mails("approval_request")) == 3

    row = await services.decide_approval(treasurer.actor, contract["id"], True, "ok")
    assert row["status"] == "approved"
    assert len(await mails("approval_request")) == 3  # the final approval mails nobody
    refs = [
        r["event_id"]
        for r in await EventRecord.select(EventRecord.event_id).where(
            EventRecord.name.is_in(list(APPROVAL_EVENTS))
        )
    ]
    assert await replay(system, event_refs=refs, subscriber="plugin:contracts") == len(refs)
    await kehu.events.drain()
    assert len(await mails("approval_request")) == 3

    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    assert await send_due() == 3
    assert [m["To"] for m in smtp_server.messages] == [
        people[head.id],
        people[lawyer.id],
        people[treasurer.id],
    ]
    assert all(number in m["Subject"] for m in smtp_server.messages)
    assert people[rep.id] not in {m["To"] for m in smtp_server.messages}
    assert people[other_head.id] not in {m["To"] for m in smtp_server.messages}


async def test_rejection_and_resubmission(kehu, system, make_user, make_customer, make_contract):
    rep = await make_user("sales", team="North")
    head = await make_user("manager", team="North")
    lawyer = await make_user("admin")
    for user in (head, lawyer):
        await with_address(system, user)
    contract = await make_contract(await make_customer("ACME", owner=rep), actor=rep.actor)
    await services.submit_contract(rep.actor, contract["id"])
    row = await services.decide_approval(head.actor, contract["id"], False, "too cheap")
    assert row["status"] == "draft"
    assert [m["to_user"] for m in await mails("approval_request")] == [head.id]  # no legal
    await services.submit_contract(rep.actor, contract["id"])  # a new round: asked again
    assert [m["to_user"] for m in await mails("approval_request")] == [head.id, head.id]
    await services.decide_approval(head.actor, contract["id"], True, "ok now")
    assert [m["to_user"] for m in await mails("approval_request")] == [
        head.id,
        head.id,
        lawyer.id,
    ]


async def test_managers_of_any_team_when_the_contract_has_no_team_manager(
    kehu, system, make_user, make_customer, make_contract
):
    north = await make_user("manager", team="North")
    south = await make_user("manager", team="South")
    retired = await make_user("manager", team="South")
    for user in (north, south, retired):
        await with_address(system, user)
    await users.update_user(system, retired.id, {"active": False})
    loner = await make_user("sales", team="West")  # a team without a manager
    mute = await make_user("manager", team="West")
    await users.update_user(system, mute.id, {"active": False})
    contract = await make_contract(await make_customer("ACME", owner=loner), actor=loner.actor)
    await services.submit_contract(loner.actor, contract["id"])
    assert sorted(m["to_user"] for m in await mails("approval_request")) == sorted(
        [north.id, south.id]
    )
