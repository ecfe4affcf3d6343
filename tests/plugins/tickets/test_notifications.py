"""The tickets plugin's e-mails: survey invitations (on close, on request, for a won deal) with
a working single-use link to the contact, SLA reminders and escalations to the users the job
notifies, churn alerts to the account manager; each queued once however often its event is
delivered, and sent through a real SMTP server (aiosmtpd) once ``smtp_url`` is set."""

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from kehu import PluginInfo, hookimpl
from kehu.core.mail import send_due, set_preference
from kehu.core.services import contacts, customers, users
from kehu.core.services.events import replay
from kehu.core.tables import EventRecord, MailMessage, User
from kehu.core.testing import eventually
from kehu.plugins.tickets.hookspecs import Signal
from kehu.plugins.tickets.services import churn, escalation, surveys, tickets
from kehu.plugins.tickets.tables import Survey, Ticket

from .conftest import MON, H, M

LINK = re.compile(r"(\S+/surveys/([A-Za-z0-9_-]+))")


async def with_address(system: Any, user: Any, locale: str = "") -> str:
    address = f"{user.username}@example.com"
    await users.update_user(system, user.id, {"email": address})
    if locale:
        await User.update({User.locale: locale}).where(User.id == user.id)
    return address


async def add_contact(system: Any, customer: dict, name: str, email: str, **data: Any) -> dict:
    return await contacts.create_contact(
        system, customer["id"], {"name": name, "email": email, **data}
    )


async def mails(kind: str) -> list[dict[str, Any]]:
    return await MailMessage.select().where(MailMessage.kind == kind).order_by(MailMessage.id)


@pytest.fixture
def handler_calls(monkeypatch: Any) -> list[tuple[str, bool]]:
    """``(kind, queued)`` of every ``queue_mail`` call of the tickets plugin's handler."""
    from kehu.plugins.tickets import notifications

    calls: list[tuple[str, bool]] = []
    real = notifications.queue_mail

    async def counting(kind: str, **kw: Any) -> Any:
        row = await real(kind, **kw)
        calls.append((kind, row is not None))
        return row

    monkeypatch.setattr(notifications, "queue_mail", counting)
    return calls


async def deliver_again(
    kehu: Any, system: Any, name: str, calls: list | None = None, kind: str | None = None
) -> None:
    """Replay every ``name`` event to the tickets plugin: its handlers run a second time
    (and, with ``calls`` and ``kind``, try to queue ``kind`` again, queueing nothing)."""
    refs = [
        r["event_id"]
        for r in await EventRecord.select(EventRecord.event_id).where(EventRecord.name == name)
    ]
    assert refs, f"no {name} event"
    before = len(calls or [])
    assert await replay(system, event_refs=refs, subscriber="plugin:tickets") == len(refs)
    await kehu.events.drain()
    if calls is not None:
        again = [c for c in calls[before:] if c[0] == kind]
        assert again and not any(queued for _, queued in again), calls[before:]


def link_of(body: str) -> tuple[str, str]:
    """``(link, token)`` of the survey link in a mail body."""
    found = LINK.search(body)
    assert found, body
    return found.group(1), found.group(2)


async def test_closing_a_ticket_invites_its_contact(
    kehu, system, make_user, make_customer, kehu_client, smtp_server, monkeypatch, handler_calls
):
    monkeypatch.setattr(kehu.settings, "public_url", "https://crm.example.com/")
    agent = await make_user("support", team="North")
    await with_address(system, agent)
    acme = await make_customer("ACME", owner=agent)
    await add_contact(system, acme, "Wang Wei", "wang@acme.example", is_primary=True)
    li = await add_contact(system, acme, "Li Na", "li@acme.example")
    t = await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {"subject": "Printer", "channel": "phone", "contact": li["id"], "assignee": agent.id},
        now=MON,
    )
    await tickets.add_message(agent.actor, t["id"], "Fixed", now=MON + H)
    await tickets.change_status(agent.actor, t["id"], "resolved", now=MON + 2 * H)
    assert await mails("survey_invitation") == []  # not before the ticket is closed
    await tickets.change_status(agent.actor, t["id"], "closed", now=MON + 3 * H)

    [invite] = await mails("survey_invitation")  # the handler ran when the close committed
    assert (invite["to_address"], invite["to_user"], invite["customer"]) == (
        "li@acme.example",  # the ticket's contact, not the primary one
        None,
        acme["id"],
    )
    assert (invite["status"], invite["locale"]) == ("queued", "zh")
    assert invite["subject"] == "请评价我们的服务 — ACME"
    assert invite["body"].startswith("Li Na，您好")
    assert "满意度调查" in invite["body"] and "30 天内有效" in invite["body"]
    link, token = link_of(invite["body"])
    assert link == f"https://crm.example.com/surveys/{token}"
    [survey] = await Survey.select().where(Survey.ticket == t["id"])
    assert survey["token_hash"] == surveys.hash_token(token)

    # the link works: the public route shows the survey and takes one answer
    path = urlsplit(link).path
    shown = await kehu_client.get(path)
    assert shown.status_code == 200 and shown.json()["kind"] == "csat"
    assert shown.json()["customer"] == "ACME"
    answered = await kehu_client.post(path, json={"score": 5})
    assert answered.status_code == 200, answered.text
    assert (await kehu_client.post(path, json={"score": 5})).status_code == 404

    await deliver_again(kehu, system, "ticket_survey.created", handler_calls, "survey_invitation")
    assert len(await mails("survey_invitation")) == 1  # once per event

    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    assert await send_due() == 1
    [message] = smtp_server.messages
    assert (message["To"], message["Subject"]) == ("li@acme.example", "请评价我们的服务 — ACME")
    assert message["Message-ID"] == invite["message_id"]
    assert link in message.get_content()


async def test_requested_survey_goes_to_the_customers_contact(
    kehu, system, make_user, make_customer, smtp_server, monkeypatch, handler_calls
):
    monkeypatch.setattr(kehu.settings, "mail_default_locale", "en")
    agent = await make_user("support", team="North")
    acme = await make_customer("ACME", owner=agent)
    await add_contact(system, acme, "Zhao Lei", "zhao@acme.example")
    await add_contact(system, acme, "Wang Wei", "wang@acme.example", is_primary=True)
    await add_contact(system, acme, "No Mail", "")
    lone = await make_customer("Lone Co", owner=agent)  # no contact, but its own address
    await customers.update_customer(system, lone["id"], lone["version"], {"email": "hi@lone.co"})
    mute = await make_customer("Mute Co", owner=agent)  # nobody to write to

    _, token = await surveys.create_survey(agent.actor, acme["id"], "nps")
    await surveys.create_survey(agent.actor, lone["id"], "csat")
    await surveys.create_survey(agent.actor, mute["id"], "csat")
    sent = await mails("survey_invitation")
    assert [(m["to_address"], m["customer"]) for m in sent] == [
        ("wang@acme.example", acme["id"]),  # the primary contact
        ("hi@lone.co", lone["id"]),
    ]
    first = sent[0]
    assert (first["locale"], first["subject"]) == ("en", "How did we do? — ACME")
    assert first["body"].startswith("Dear Wang Wei,") and "NPS survey" in first["body"]
    link, found = link_of(first["body"])
    assert found == token and link == f"{kehu.settings.public_url}/surveys/{token}"
    assert (await surveys.public_survey(found)).kind == "nps"
    await surveys.answer_survey(found, 9)

    await deliver_again(kehu, system, "ticket_survey.created", handler_calls, "survey_invitation")
    assert len(await mails("survey_invitation")) == 2

    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    assert await send_due() == 2
    assert sorted(m["To"] for m in smtp_server.messages) == ["hi@lone.co", "wang@acme.example"]


class TestWonDeal:
    """With the pipeline plugin: a won deal's NPS survey (``survey_on_deal_won``) is mailed."""

    @pytest.fixture
    def kehu_plugins(self) -> list[str]:
        return ["pipeline", "tickets"]

    async def test_won_deal_invites_the_customers_contact(
        self, kehu, system, make_user, make_customer, smtp_server, monkeypatch, handler_calls
    ):
        from kehu.core.money import Money
        from kehu.plugins.pipeline import services as pipeline

        rep = await make_user("sales", team="North")
        acme = await make_customer("ACME", owner=rep)
        await add_contact(system, acme, "Wang Wei", "wang@acme.example", is_primary=True)
        flow = await pipeline.create_pipeline(system, "consultative", template="consultative")
        stages = {
            s["name"]: s for s in (await pipeline.stages_by_pipeline([flow["id"]]))[flow["id"]]
        }
        deal = await pipeline.create_opportunity(
            rep.actor,
            {
                "name": "Deal",
                "customer": acme["id"],
                "amount": Money(100_000, "CNY"),
                "pipeline": flow["id"],
            },
        )
        await pipeline.move_stage(rep.actor, deal["id"], stages["Introduction & Solution"]["id"])
        await pipeline.win_opportunity(rep.actor, deal["id"])

        assert await eventually(lambda: mails("survey_invitation"), kehu)
        [survey] = await Survey.select().where(Survey.customer == acme["id"])
        assert (survey["kind"], survey["related_type"], survey["related_id"]) == (
            "nps",
            "opportunity",
            deal["id"],
        )
        [invite] = await mails("survey_invitation")
        assert (invite["to_address"], invite["customer"]) == ("wang@acme.example", acme["id"])
        assert "推荐意愿调查" in invite["body"]
        _, token = link_of(invite["body"])
        assert surveys.hash_token(token) == survey["token_hash"]
        answered = await surveys.answer_survey(token, 10)
        assert answered["score"] == 10

        await deliver_again(
            kehu, system, "ticket_survey.created", handler_calls, "survey_invitation"
        )
        await deliver_again(kehu, system, "opportunity.won")  # no second survey, no mail
        assert await Survey.count() == 1
        assert len(await mails("survey_invitation")) == 1

        monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
        assert await send_due() == 1
        [message] = smtp_server.messages
        assert message["To"] == "wang@acme.example" and token in message.get_content()


async def test_sla_reminder_and_escalation_mail_the_notified_users(
    kehu, system, make_user, make_customer, smtp_server, monkeypatch, handler_calls
):
    agent = await make_user("support", team="North")
    boss = await make_user("manager", team="North")
    other_boss = await make_user("manager", team="South")  # another team's: not told
    agent_mail = await with_address(system, agent)
    boss_mail = await with_address(system, boss, locale="en")
    await with_address(system, other_boss)
    acme = await make_customer("ACME", owner=agent)
    t = await tickets.create_ticket(
        agent.actor,
        acme["id"],
        {"subject": "Down", "channel": "phone", "priority": "high", "assignee": agent.id},
        now=MON,
    )  # first response due 14:00 Shanghai = 06:00 UTC
    number = (await Ticket.select(Ticket.number).where(Ticket.id == t["id"]).first())["number"]

    assert await escalation.sla_check(MON + 3 * H) == []
    assert await mails("sla_reminder") == []
    await escalation.sla_check(MON + 3 * H + 40 * M)  # 20 minutes left: the assignee
    [reminder] = await mails("sla_reminder")
    assert (reminder["to_address"], reminder["to_user"]) == (agent_mail, agent.id)
    assert (
        reminder["subject"] == f"SLA 提醒：工单 {number} 的首次响应将于 2026-11-16 06:00 UTC 到期"
    )
    assert f"工单 {number}（high）：Down" in reminder["body"]

    await escalation.sla_check(MON + 4 * H + 10 * M)  # breached: the team's managers
    [breach] = await mails("sla_escalation")
    assert (breach["to_address"], breach["to_user"], breach["locale"]) == (
        boss_mail,
        boss.id,
        "en",
    )
    assert breach["subject"] == f"SLA breached: ticket {number} Down"
    assert f"ticket {number} (high) was breached (due 2026-11-16 06:00 UTC)" in breach["body"]
    assert "Customer: ACME" in breach["body"]
    await escalation.sla_check(MON + 4 * H + 20 * M)  # the job does each step once

    await deliver_again(kehu, system, "ticket.sla_reminder", handler_calls, "sla_reminder")
    await deliver_again(kehu, system, "ticket.sla_breach", handler_calls, "sla_escalation")
    assert len(await mails("sla_reminder")) == 1 and len(await mails("sla_escalation")) == 1
    assert await MailMessage.count() == 2

    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    assert await send_due() == 2
    got = {m["To"]: m["Subject"] for m in smtp_server.messages}
    assert set(got) == {agent_mail, boss_mail}
    assert number in got[agent_mail] and number in got[boss_mail]


async def test_sla_reminder_of_an_unassigned_ticket_goes_to_the_supervisors(
    kehu, system, make_user, make_customer
):
    boss = await make_user("manager", team="South")
    muted = await make_user("manager", team="South")
    quiet = await make_user("manager", team="South")
    for user in (boss, muted, quiet):
        await with_address(system, user)
    await set_preference(muted.actor, "sla_reminder", False)  # told by the job, but no mail
    await users.update_user(system, quiet.id, {"active": False})  # not a supervisor any more
    acme = await make_customer("ACME")
    team = (await users.team_by_name("South"))["id"]
    t = await tickets.create_ticket(
        system,
        acme["id"],
        {"subject": "Slow", "channel": "phone", "priority": "high", "team": team},
        now=MON,
    )
    await Ticket.update({Ticket.assignee: None}).where(Ticket.id == t["id"])
    steps = await escalation.sla_check(MON + 3 * H + 40 * M)
    assert [(s.step, s.notify) for s in steps] == [("reminder", [boss.id, muted.id])]
    [reminder] = await mails("sla_reminder")
    assert reminder["to_user"] == boss.id


class Risky:
    """A churn signal of 100 points for one customer."""

    def __init__(self, customer_ids: list[int]) -> None:
        self.customer_ids = customer_ids

    @hookimpl
    def kehu_plugin_info(self) -> PluginInfo:
        return PluginInfo("risky", "0")

    @hookimpl
    def kehu_churn_signals(self, customer_ids: list[int], now: datetime) -> list[Signal]:
        return [
            Signal(c, "risky", "Test risk", 100, 1.0)
            for c in customer_ids
            if c in self.customer_ids
        ]


async def test_churn_alert_mails_the_account_manager(
    kehu, system, make_user, make_customer, smtp_server, monkeypatch, handler_calls
):
    rep = await make_user("sales", team="North")
    boss = await make_user("manager", team="North")
    rep_mail = await with_address(system, rep)
    boss_mail = await with_address(system, boss)
    acme = await make_customer("ACME", owner=rep)
    orphan = await customers.create_customer(system, {"name": "Orphan", "team": rep.team_id})
    calm = await make_customer("Calm", owner=rep)
    plugin = Risky([acme["id"], orphan["id"]])
    kehu.pm.register(plugin, name="risky")
    try:
        result = await churn.churn_check()
        assert sorted(result.raised) == sorted([acme["id"], orphan["id"]])
        assert calm["id"] not in result.raised
        assert (await churn.churn_check()).raised == []  # one open alert each
    finally:
        kehu.pm.unregister(name="risky")

    alerts = {m["customer"]: m for m in await mails("churn_alert")}
    assert set(alerts) == {acme["id"], orphan["id"]}
    assert (alerts[acme["id"]]["to_address"], alerts[acme["id"]]["to_user"]) == (rep_mail, rep.id)
    assert alerts[acme["id"]]["subject"] == "流失预警：ACME（风险分 100）"
    assert "已为您创建挽留任务" in alerts[acme["id"]]["body"]
    # no owner: the team's manager is the account manager
    assert alerts[orphan["id"]]["to_user"] == boss.id
    assert alerts[orphan["id"]]["to_address"] == boss_mail

    await deliver_again(kehu, system, "customer.churn_alert_raised", handler_calls, "churn_alert")
    assert len(await mails("churn_alert")) == 2

    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    assert await send_due() == 2
    got = {m["To"]: m["Subject"] for m in smtp_server.messages}
    assert got == {
        rep_mail: "流失预警：ACME（风险分 100）",
        boss_mail: "流失预警：Orphan（风险分 100）",
    }
