"""E-mail notifications end to end against a real SMTP server (aiosmtpd): messages wait in the
outbox without ``smtp_url`` and go out once it is set (From, To, Subject, Message-ID, body),
rendering in Chinese and English, once per ``dedup_key``, per-user opt-outs through GraphQL,
no mail to inactive or address-less users, an SMTP server that is down (retries, dead
letters, ``retry_mail``), the admin-only outbox query and ``kehu mail list|send|retry``."""

import socket
import time
from datetime import timedelta
from typing import Any

import pytest
from cli import conftest as cli_conftest  # tests/cli: the ``kehu`` CLI on a migrated database

import kehu as kehu_api
from kehu.core.errors import PluginError, ValidationFailed
from kehu.core.events import unit_of_work
from kehu.core.mail import MailTemplate, list_mail, queue_mail, retry_mail, send_due
from kehu.core.runtime import PluginInfo
from kehu.core.services import users
from kehu.core.services.common import now
from kehu.core.tables import MailMessage, NotificationOptOut, User
from kehu.core.testing import SmtpServer, eventually

NOTICE = MailTemplate(
    "test_notice",
    "A test notification",
    subject={"zh": "测试通知：{title}", "en": "Test notice: {title}"},
    body={"zh": "{name}，您好：\n\n{title} 已就绪。", "en": "Hello {name},\n\n{title} is ready."},
)
DIGEST = MailTemplate(
    "test_digest",
    "Another test notification",
    subject={"zh": "摘要 {title}", "en": "Digest {title}"},
    body={"zh": "摘要：{title}", "en": "Digest: {title}"},
)
CUSTOMER_NOTE = MailTemplate(
    "test_customer_note",
    "A test mail to a customer's contact",
    subject={"zh": "致客户 {title}", "en": "To the customer {title}"},
    body={"zh": "客户 {title}", "en": "Customer {title}"},
    audience="customer",
)


class Templates:
    """A test-only plugin declaring mail templates."""

    name = "mailtest"

    @kehu_api.hookimpl
    def kehu_plugin_info(self) -> PluginInfo:
        return PluginInfo(self.name, "0")

    @kehu_api.hookimpl
    def kehu_mail_templates(self) -> list[MailTemplate]:
        return [NOTICE, DIGEST, CUSTOMER_NOTE]


@pytest.fixture
def kehu_plugins() -> list[str]:
    return ["core"]


@pytest.fixture
def templates(kehu: Any) -> Any:
    plugin = Templates()
    kehu.pm.register(plugin, name=plugin.name)
    yield plugin
    kehu.pm.unregister(name=plugin.name)


@pytest.fixture
def mail_user(make_user: Any, system: Any) -> Any:
    """``await mail_user("sales", locale="en")``: a user with an address (``email=""``: none)."""

    async def factory(
        role: str = "sales", *, email: str | None = None, locale: str = "", team: str | None = None
    ) -> Any:
        user = await make_user(role, team=team)
        address = f"{user.username}@example.com" if email is None else email
        if address:
            await users.update_user(system, user.id, {"email": address})
        if locale:
            await User.update({User.locale: locale}).where(User.id == user.id)
        return user

    return factory


def closed_port() -> int:
    """A local port nothing listens on (an SMTP server that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def text(message: Any) -> str:
    """The body as sent (SMTP lines end in CRLF)."""
    return message.get_content().replace("\r\n", "\n").strip()


async def row_of(mail_id: int) -> dict[str, Any]:
    return await MailMessage.select().where(MailMessage.id == mail_id).first()


async def notice(user: Any, key: str, title: str = "Q3 review", **kw: Any) -> Any:
    return await queue_mail(
        "test_notice",
        context={"title": title, "name": user.username},
        dedup_key=key,
        to_user=user.id,
        **kw,
    )


async def test_queued_without_smtp_then_sent(
    kehu, templates, mail_user, system, smtp_server, monkeypatch
):
    monkeypatch.setattr(kehu.settings, "mail_from", "Kehu CRM <crm@example.com>")
    alice = await mail_user()
    assert kehu.settings.smtp_url == ""
    queued = await notice(alice, "k1")
    assert (queued["status"], queued["attempts"], queued["to_address"], queued["to_user"]) == (
        "queued",
        0,
        f"{alice.username}@example.com",
        alice.id,
    )
    assert queued["subject"] == "测试通知：Q3 review" and queued["locale"] == "zh"
    assert queued["message_id"].startswith("<") and queued["message_id"].endswith("@example.com>")

    # without smtp_url nothing is sent and nothing is lost: it waits (``kehu mail list``)
    assert await send_due() == 0
    await kehu.events.drain()
    page, count = await list_mail(system, status="queued")
    assert [r["id"] for r in page.rows] == [queued["id"]] and await count() == 1
    assert smtp_server.messages == []

    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    assert await send_due() == 1
    [message] = smtp_server.messages
    assert message["From"] == "Kehu CRM <crm@example.com>"
    assert message["To"] == f"{alice.username}@example.com"
    assert message["Subject"] == "测试通知：Q3 review"
    assert message["Message-ID"] == queued["message_id"]
    assert message["X-Kehu-Notification"] == "test_notice"
    assert message["Auto-Submitted"] == "auto-generated"
    assert text(message) == f"{alice.username}，您好：\n\nQ3 review 已就绪。"
    sent = await row_of(queued["id"])
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 1, "")
    assert sent["sent_at"] is not None and sent["locked_by"] == ""

    assert await send_due() == 0  # sent once
    assert len(smtp_server.messages) == 1
    assert await count() == 0
    page, _ = await list_mail(system, status="sent")
    assert [r["id"] for r in page.rows] == [queued["id"]]
    with pytest.raises(ValidationFailed):
        await list_mail(system, status="lost")


async def test_locale_by_user_and_default(kehu, templates, mail_user, monkeypatch):
    default, english, regional, chinese = [
        await mail_user(locale=loc) for loc in ("", "en", "EN-us", "zh")
    ]
    rows = {u.id: await notice(u, f"a{u.id}") for u in (default, english, regional, chinese)}
    assert {u: (r["locale"], r["subject"]) for u, r in rows.items()} == {
        default.id: ("zh", "测试通知：Q3 review"),
        english.id: ("en", "Test notice: Q3 review"),
        regional.id: ("en", "Test notice: Q3 review"),
        chinese.id: ("zh", "测试通知：Q3 review"),
    }
    assert rows[english.id]["body"] == f"Hello {english.username},\n\nQ3 review is ready."

    monkeypatch.setattr(kehu.settings, "mail_default_locale", "en")
    again = {u.id: await notice(u, f"b{u.id}") for u in (default, chinese)}
    assert again[default.id]["locale"] == "en"  # no locale of their own: the default
    assert again[default.id]["subject"] == "Test notice: Q3 review"
    assert again[chinese.id]["locale"] == "zh"  # their own locale wins
    # to an address: the default, unless the caller names a locale
    plain = await queue_mail(
        "test_customer_note", context={"title": "X"}, dedup_key="c1", to_address="buyer@example.com"
    )
    assert (plain["locale"], plain["subject"]) == ("en", "To the customer X")
    named = await queue_mail(
        "test_customer_note",
        context={"title": "X"},
        dedup_key="c2",
        to_address="buyer@example.com",
        locale="zh",
    )
    assert (named["locale"], named["subject"]) == ("zh", "致客户 X")
    # missing context values render empty, not as an error
    blank = await queue_mail("test_notice", context={}, dedup_key="c3", to_address="x@example.com")
    assert blank["subject"] == "Test notice:"


async def test_unsupported_user_locale_falls_back_to_the_default(
    kehu, templates, mail_user, monkeypatch
):
    monkeypatch.setattr(kehu.settings, "mail_default_locale", "en")
    french = await mail_user(locale="fr")
    assert (await notice(french, "fr1"))["locale"] == "en"


async def test_dedup_key_queues_once_and_rollback_queues_nothing(kehu, templates, mail_user):
    alice = await mail_user()
    first = await notice(alice, "event-1:alice")
    assert first is not None
    assert await notice(alice, "event-1:alice", title="changed") is None
    assert await MailMessage.count() == 1
    assert (await row_of(first["id"]))["subject"] == "测试通知：Q3 review"

    with pytest.raises(RuntimeError):
        async with unit_of_work():
            assert await notice(alice, "event-2:alice") is not None
            raise RuntimeError("rolled back")
    assert await MailMessage.count() == 1  # queued in the caller's transaction
    assert await notice(alice, "event-2:alice") is not None
    assert await MailMessage.count() == 2

    with pytest.raises(PluginError):
        await queue_mail("no_such_kind", context={}, dedup_key="x", to_address="a@example.com")


PREFERENCES = "{ notificationPreferences { kind description enabled } }"
SET_PREFERENCE = """mutation($kind: String!, $enabled: Boolean!) {
  setNotificationPreference(input: {kind: $kind, enabled: $enabled}) {
    preferences { kind enabled } errors { field message code } } }"""


async def test_opt_out_through_graphql_is_per_user_and_kind(kehu, templates, mail_user, gql):
    alice, bob = await mail_user(), await mail_user()
    body = await gql(PREFERENCES, user=alice)
    prefs = body["data"]["notificationPreferences"]
    assert {"kind": "test_notice", "description": "A test notification", "enabled": True} in prefs
    assert {p["kind"] for p in prefs} >= {"test_notice", "test_digest"}
    assert "test_customer_note" not in {p["kind"] for p in prefs}  # customers' mails

    for _ in range(2):  # turning it off twice is no error and keeps one opt-out
        body = await gql(SET_PREFERENCE, {"kind": "test_notice", "enabled": False}, user=alice)
        result = body["data"]["setNotificationPreference"]
        assert result["errors"] == []
        assert {"kind": "test_notice", "enabled": False} in result["preferences"]
        assert {"kind": "test_digest", "enabled": True} in result["preferences"]
    assert await NotificationOptOut.count().where(NotificationOptOut.user == alice.id) == 1
    shown = {
        p["kind"]: p["enabled"]
        for p in (await gql(PREFERENCES, user=alice))["data"]["notificationPreferences"]
    }
    assert shown["test_notice"] is False and shown["test_digest"] is True
    bobs = {
        p["kind"]: p["enabled"]
        for p in (await gql(PREFERENCES, user=bob))["data"]["notificationPreferences"]
    }
    assert bobs["test_notice"] is True

    assert await notice(alice, "n1") is None  # opted out of this kind
    assert await notice(bob, "n2") is not None  # ... only she did
    digest = await queue_mail(
        "test_digest", context={"title": "T"}, dedup_key="n3", to_user=alice.id
    )
    assert digest is not None and digest["to_user"] == alice.id  # other kinds still come
    assert {r["to_user"] for r in await MailMessage.select()} == {alice.id, bob.id}

    for kind in ("no_such_kind", "test_customer_note"):
        body = await gql(SET_PREFERENCE, {"kind": kind, "enabled": False}, user=alice)
        result = body["data"]["setNotificationPreference"]
        assert result["preferences"] is None
        [error] = result["errors"]
        assert (error["field"], error["code"]) == ("kind", "INVALID_CHOICE")
        assert "test_notice" in error["message"]  # names the known kinds

    body = await gql(SET_PREFERENCE, {"kind": "test_notice", "enabled": True}, user=alice)
    assert {"kind": "test_notice", "enabled": True} in (
        body["data"]["setNotificationPreference"]["preferences"]
    )
    assert await notice(alice, "n4") is not None  # on again


async def test_no_mail_to_inactive_or_addressless_users(kehu, templates, mail_user, system):
    nobody = await mail_user(email="")
    gone = await mail_user()
    await users.update_user(system, gone.id, {"active": False})
    assert await notice(nobody, "x1") is None
    assert await notice(gone, "x2") is None
    assert await queue_mail("test_notice", context={}, dedup_key="x3", to_user=999_999) is None
    assert await queue_mail("test_customer_note", context={}, dedup_key="x4", to_address="") is None
    assert await MailMessage.count() == 0


async def test_smtp_down_retries_then_dead_then_retry(
    kehu, templates, mail_user, system, smtp_server, monkeypatch
):
    alice = await mail_user()
    queued = await notice(alice, "d1")
    monkeypatch.setattr(kehu.settings, "smtp_url", f"smtp://127.0.0.1:{closed_port()}")
    monkeypatch.setattr(kehu.settings, "mail_max_attempts", 3)

    assert await send_due() == 0
    failed = await row_of(queued["id"])
    assert (failed["status"], failed["attempts"], failed["locked_by"]) == ("queued", 1, "")
    assert failed["last_error"].startswith("cannot connect to 127.0.0.1:")
    assert failed["next_attempt_at"] > now()  # backoff: not due yet
    assert await send_due() == 0
    assert (await row_of(queued["id"]))["attempts"] == 1  # not tried again before it is due

    for attempts, status in ((2, "queued"), (3, "dead")):
        await MailMessage.update({MailMessage.next_attempt_at: now() - timedelta(seconds=1)}).where(
            MailMessage.id == queued["id"]
        )
        assert await send_due() == 0
        row = await row_of(queued["id"])
        assert (row["status"], row["attempts"]) == (status, attempts)
        assert "cannot connect" in row["last_error"]
    await MailMessage.update({MailMessage.next_attempt_at: now() - timedelta(seconds=1)}).where(
        MailMessage.id == queued["id"]
    )
    assert await send_due() == 0  # a dead letter is not tried again
    assert (await row_of(queued["id"]))["attempts"] == 3
    page, count = await list_mail(system, status="dead")
    assert [r["id"] for r in page.rows] == [queued["id"]] and await count() == 1

    with pytest.raises(ValidationFailed):
        await retry_mail(system)  # say what
    assert await retry_mail(system, dead=True) == 1
    again = await row_of(queued["id"])
    assert (again["status"], again["attempts"]) == ("queued", 0)
    assert again["next_attempt_at"] <= now()

    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    assert await send_due() == 1
    [message] = smtp_server.messages
    assert message["Message-ID"] == queued["message_id"]  # the same id across retries
    assert message["To"] == f"{alice.username}@example.com"
    assert (await row_of(queued["id"]))["status"] == "sent"
    assert await retry_mail(system, [queued["id"]]) == 0  # a sent message stays sent
    assert await retry_mail(system, dead=True) == 0


async def test_send_due_sends_every_due_message_once(
    kehu, templates, mail_user, smtp_server, monkeypatch
):
    people = [await mail_user(locale="en") for _ in range(3)]
    for i, person in enumerate(people):
        await notice(person, f"many{i}", title=f"Item {i}")
    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    assert await send_due(limit=2) == 2
    assert await send_due(limit=2) == 1
    assert await send_due() == 0
    assert sorted(m["Subject"] for m in smtp_server.messages) == [
        "Test notice: Item 0",
        "Test notice: Item 1",
        "Test notice: Item 2",
    ]
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(
        f"{p.username}@example.com" for p in people
    )


class Bouncing(SmtpServer):
    """An SMTP server that refuses one recipient (550) and takes the others."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_refused_recipient_fails_alone(kehu, templates, mail_user, monkeypatch):
    server = Bouncing().start()
    try:
        monkeypatch.setattr(kehu.settings, "smtp_url", server.url)
        bounce = await mail_user(email="bounce@example.com", locale="en")
        fine = await mail_user(locale="en")
        refused = await notice(bounce, "b1", title="first")
        taken = await notice(fine, "b2", title="second")
        assert await send_due() == 1
        assert [m["To"] for m in server.messages] == [f"{fine.username}@example.com"]
        failed = await row_of(refused["id"])
        assert (failed["status"], failed["attempts"]) == ("dead", 1)  # 550: permanent
        assert "No such user" in failed["last_error"]
        assert (await row_of(taken["id"]))["status"] == "sent"
    finally:
        server.stop()


class Subscriber:
    """A plugin with an event handler (as the tickets and contracts plugins have)."""

    name = "mailtest_handler"

    def __init__(self) -> None:
        self.seen: list[str] = []

    @kehu_api.hookimpl
    def kehu_plugin_info(self) -> PluginInfo:
        return PluginInfo(self.name, "0")

    @kehu_api.hookimpl
    async def kehu_event(self, event: Any) -> None:
        self.seen.append(event.name)


async def test_sender_runs_in_the_delivery_pass(
    kehu, templates, mail_user, smtp_server, monkeypatch
):
    """With ``smtp_url`` set, a delivery pass (the background loop of ``serve``/``worker``)
    sends what is queued."""
    plugin = Subscriber()
    kehu.pm.register(plugin, name=plugin.name)
    try:
        alice = await mail_user()
        queued = await notice(alice, "loop1")
        await kehu.events.drain()
        assert smtp_server.messages == []  # no smtp_url: it waits
        monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
        await kehu.events.pass_once()
        assert await eventually(lambda: smtp_server.messages, timeout=5.0)
        assert smtp_server.messages[0]["Message-ID"] == queued["message_id"]
        assert await eventually(lambda: MailMessage.exists().where(MailMessage.status == "sent"))
    finally:
        kehu.pm.unregister(name=plugin.name)


async def test_drain_returns_once_the_mail_is_out(
    kehu, templates, mail_user, smtp_server, monkeypatch
):
    plugin = Subscriber()
    kehu.pm.register(plugin, name=plugin.name)
    try:
        await notice(await mail_user(), "loop2")
        monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
        started = time.monotonic()
        await kehu.events.drain(timeout=1.0)
        assert len(smtp_server.messages) == 1
        assert time.monotonic() - started < 0.5
    finally:
        kehu.pm.unregister(name=plugin.name)


async def test_sender_runs_without_event_subscribers(
    kehu, templates, mail_user, smtp_server, monkeypatch
):
    await notice(await mail_user(), "loop3")
    monkeypatch.setattr(kehu.settings, "smtp_url", smtp_server.url)
    await kehu.events.pass_once()
    assert await eventually(lambda: smtp_server.messages, timeout=0.5)


MAIL_MESSAGES = """query($status: MailStatus) { mailMessages(status: $status) { totalCount
  nodes { databaseId kind toAddress subject locale status attempts lastError messageId } } }"""


async def test_mail_messages_needs_admin(kehu, templates, mail_user, make_user, gql):
    admin = await make_user("admin")
    sales = await mail_user()
    queued = await notice(sales, "g1")
    body = await gql(MAIL_MESSAGES, {"status": "QUEUED"}, user=admin)
    assert body["data"]["mailMessages"]["totalCount"] == 1
    assert body["data"]["mailMessages"]["nodes"] == [
        {
            "databaseId": queued["id"],
            "kind": "test_notice",
            "toAddress": f"{sales.username}@example.com",
            "subject": "测试通知：Q3 review",
            "locale": "zh",
            "status": "QUEUED",
            "attempts": 0,
            "lastError": "",
            "messageId": queued["message_id"],
        }
    ]
    body = await gql(MAIL_MESSAGES, {"status": "SENT"}, user=admin)
    assert body["data"]["mailMessages"] == {"totalCount": 0, "nodes": []}

    denied = await gql(MAIL_MESSAGES, {}, user=sales, expect_errors=True)
    assert denied["data"] is None or denied["data"].get("mailMessages") is None
    assert [e["extensions"]["code"] for e in denied["errors"]] == ["FORBIDDEN"]
    # everyone has preferences, though
    assert (await gql(PREFERENCES, user=sales))["data"]["notificationPreferences"]


# -- the CLI: ``kehu mail list|send|retry`` on a migrated database (KEHU_PLUGINS=core) -------

cli = cli_conftest.cli
_migrated_template = cli_conftest._migrated_template


def test_cli_mail_list_send_retry(cli, smtp_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def queue(kehu: Any) -> dict[str, Any]:
        kehu.pm.register(Templates(), name=Templates.name)
        return await queue_mail(
            "test_notice",
            context={"title": "CLI", "name": "Ops"},
            dedup_key="cli-1",
            to_address="ops@example.com",
            locale="en",
        )

    queued = cli.run(queue)
    out = cli.ok("mail", "list").stdout
    assert "test_notice" in out and "ops@example.com" in out and "Test notice: CLI" in out
    assert "queued" in out
    assert "smtp_url is not set: queued messages wait until it is." in out
    assert "smtp_url is not set" in cli.fails("mail", "send")

    down = f"smtp://127.0.0.1:{closed_port()}"
    assert (
        "Sent 0 message(s)"
        in cli.ok("mail", "send", KEHU_SMTP_URL=down, KEHU_MAIL_MAX_ATTEMPTS="1").stdout
    )
    [(status, attempts, error)] = cli.rows("SELECT status, attempts, last_error FROM core_mail")
    assert (status, attempts) == ("dead", 1) and error.startswith("cannot connect")
    dead = cli.ok("mail", "list", "--status", "dead").stdout
    assert "dead" in dead and "cannot connect" in dead
    assert "ops@example.com" not in cli.ok("mail", "list", "--status", "queued").stdout

    assert "Queued 1 message(s) again" in cli.ok("mail", "retry", "--dead").stdout
    assert cli.rows("SELECT status, attempts FROM core_mail") == [("queued", 0)]
    assert "Sent 1 message(s)" in cli.ok("mail", "send", KEHU_SMTP_URL=smtp_server.url).stdout
    [message] = smtp_server.messages
    assert (message["To"], message["Subject"]) == ("ops@example.com", "Test notice: CLI")
    assert message["Message-ID"] == queued["message_id"]
    sent = cli.ok("mail", "list", KEHU_SMTP_URL=smtp_server.url).stdout
    assert "sent" in sent and "smtp_url is not set" not in sent
    assert "Queued 0 message(s) again" in cli.ok("mail", "retry", str(queued["id"])).stdout
    assert cli.fails("mail", "retry").startswith("Error: ")
