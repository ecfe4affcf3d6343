"""E-mail notifications: templates per kind in Chinese and English, per-user opt-outs, the
mail outbox (``core_mail``) and its SMTP sender (aiosmtplib).

``queue_mail`` renders a message and stores it in the caller's transaction, once per
``dedup_key`` (an event handler that runs twice queues one mail). Without ``smtp_url`` nothing
is lost: messages wait (``kehu mail list``) and go out once SMTP is configured. The sender
runs in the background loop of ``kehu serve`` and ``kehu worker``; a message is claimed with
a lease, so several processes never send it at once, and keeps its ``Message-ID`` across
retries (a crash between the SMTP answer and the bookkeeping sends it again, with the same
id, which receivers deduplicate).
"""

import logging
import random
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kehu.core.context import current
from kehu.core.db import claim_rows
from kehu.core.errors import FieldError, PluginError, ValidationFailed
from kehu.core.pagination import Page, newest_first
from kehu.core.permissions import Actor
from kehu.core.services.common import now
from kehu.core.tables import MailMessage, MailStatus, NotificationOptOut, User

log = logging.getLogger("kehu.mail")
LOCALES = ("zh", "en")


@dataclass(frozen=True)
class MailTemplate:
    """A notification kind. ``subject`` and ``body`` map a locale (``zh``, ``en``) to a
    ``str.format`` template over the context given to ``queue_mail``. ``audience``:
    ``user`` (Kehu users, who may opt out) or ``customer`` (a customer's contact)."""

    kind: str
    description: str
    subject: Mapping[str, str]
    body: Mapping[str, str]
    audience: str = "user"


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _render(template: str, context: Mapping[str, Any]) -> str:
    values = _Blank({k: "" if v is None else v for k, v in context.items()})
    return string.Formatter().vformat(template, (), values)


def templates() -> dict[str, MailTemplate]:
    out: dict[str, MailTemplate] = {}
    for plugin, items in current().call_each("kehu_mail_templates"):
        for item in items:
            if item.kind in out and out[item.kind] != item:
                raise PluginError(f"Mail template {item.kind!r} is defined twice ({plugin!r})")
            out[item.kind] = item
    return out


def _locale(value: str | None) -> str:
    """``zh`` or ``en`` from a user's locale (``zh-CN``, ``EN``...), else the default."""
    default = current().settings.mail_default_locale
    value = (value or default).lower()[:2]
    return value if value in LOCALES else default


async def queue_mail(
    kind: str,
    *,
    context: Mapping[str, Any],
    dedup_key: str,
    to_user: int | None = None,
    to_address: str | None = None,
    customer_id: int | None = None,
    locale: str | None = None,
) -> dict[str, Any] | None:
    """Render and queue a notification (in the current transaction, if any). Returns the
    row, or ``None`` when the user opted out, has no address, is inactive, or the
    ``dedup_key`` was queued before."""
    template = templates().get(kind)
    if template is None:
        raise PluginError(f"Unknown mail template {kind!r} (kehu_mail_templates)")
    if to_user is not None:
        user = await User.select().where(User.id == to_user).first()
        if user is None or not user["active"] or not user["email"]:
            return None
        if await NotificationOptOut.exists().where(
            (NotificationOptOut.user == to_user) & (NotificationOptOut.kind == kind)
        ):
            return None
        to_address, locale = user["email"], locale or user["locale"]
    if not to_address:
        return None
    lang = _locale(locale)
    subject = _render(template.subject.get(lang) or template.subject["en"], context)
    body = _render(template.body.get(lang) or template.body["en"], context)
    settings = current().settings
    domain = settings.mail_from.rpartition("@")[2].strip("> ") or "kehu.local"
    rows = await MailMessage.raw(
        "INSERT INTO core_mail (kind, to_address, to_user, customer, locale, subject, body, "
        "status, attempts, next_attempt_at, locked_by, last_error, message_id, dedup_key, "
        "created_at) VALUES ({}, {}, {}, {}, {}, {}, {}, 'queued', 0, {}, '', '', {}, {}, {}) "
        "ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        kind,
        to_address[:255],
        to_user,
        customer_id,
        lang,
        " ".join(subject.split())[:255],
        body,
        now(),
        make_msgid(domain=domain),
        dedup_key[:255],
        now(),
    )
    if not rows:
        return None
    current().events._notify()  # wake the sender
    return await MailMessage.select().where(MailMessage.id == rows[0]["id"]).first()


# -- the sender --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    use_tls: bool
    start_tls: bool | None
    username: str | None
    password: str | None


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://[user:password@]host[:port][?starttls=auto|true|false]`` or ``smtps://``
    (TLS from the start, port 465)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise PluginError(f"smtp_url must be smtp://host[:port] or smtps://host, got {url!r}")
    starttls = (parse_qs(parts.query).get("starttls") or ["auto"])[0].lower()
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if parts.scheme == "smtps" else 25),
        use_tls=parts.scheme == "smtps",
        start_tls=None if starttls == "auto" else starttls in ("1", "true", "yes"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _message(row: dict[str, Any], sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row["to_address"]
    message["Subject"] = row["subject"]
    message["Message-ID"] = row["message_id"]
    message["Date"] = format_datetime(row["created_at"])
    message["Auto-Submitted"] = "auto-generated"
    message["X-Kehu-Notification"] = row["kind"]
    message.set_content(row["body"])
    return message


def _retry_delay(attempt: int) -> timedelta:
    ceiling = min(3600.0, 30.0 * 2 ** (attempt - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


DUE = "status = 'queued' AND next_attempt_at <= {} AND (locked_by = '' OR locked_until < {})"


async def has_due() -> bool:
    """Whether a queued message is due and free to send."""
    at = now()
    return bool(await MailMessage.raw(f"SELECT id FROM core_mail WHERE {DUE} LIMIT 1", at, at))


async def send_due(limit: int = 50) -> int:
    """Send queued messages that are due (nothing without ``smtp_url``). Returns how many
    went out."""
    import aiosmtplib

    kehu = current()
    settings = kehu.settings
    if not settings.smtp_url:
        return 0
    if not await has_due():
        return 0
    at = now()
    holder = kehu.events.holder
    rows = await claim_rows(
        MailMessage,
        DUE,
        [at, at],
        {"locked_by": holder, "locked_until": at + timedelta(seconds=settings.smtp_timeout * 4)},
        order_by="id",
        limit=limit,
    )
    if not rows:
        return 0
    target = parse_smtp_url(settings.smtp_url)
    sent = 0
    client = aiosmtplib.SMTP(
        hostname=target.host,
        port=target.port,
        use_tls=target.use_tls,
        start_tls=target.start_tls,
        username=target.username,
        password=target.password,
        timeout=settings.smtp_timeout,
    )
    try:
        await client.connect()
    except (aiosmtplib.SMTPException, OSError) as exc:
        for row in sorted(rows, key=lambda r: r["id"]):
            await _failed(row, f"cannot connect to {target.host}:{target.port}: {exc}")
        return 0
    try:
        for row in sorted(rows, key=lambda r: r["id"]):
            try:
                await client.send_message(_message(row, settings.mail_from))
            except (aiosmtplib.SMTPException, OSError) as exc:
                await _failed(row, f"{type(exc).__name__}: {exc}", permanent=_permanent(exc))
                if not client.is_connected:
                    break
                continue
            await MailMessage.update(
                {
                    MailMessage.status: MailStatus.sent.value,
                    MailMessage.sent_at: now(),
                    MailMessage.attempts: row["attempts"] + 1,
                    MailMessage.locked_by: "",
                    MailMessage.last_error: "",
                }
            ).where(MailMessage.id == row["id"])
            sent += 1
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        # messages claimed but not tried (the connection dropped) are free again
        await MailMessage.update({MailMessage.locked_by: ""}).where(
            MailMessage.locked_by == holder, MailMessage.status == MailStatus.queued.value
        )
    return sent


def _permanent(exc: Exception) -> bool:
    """A 5xx answer (for every recipient): retrying will not help."""
    codes = [getattr(r, "code", 0) for r in getattr(exc, "recipients", [])]
    codes = codes or [getattr(exc, "code", 0) or 0]
    return all(500 <= code < 600 for code in codes)


async def _failed(row: dict[str, Any], error: str, *, permanent: bool = False) -> None:
    """A failed attempt: retried with backoff; dead after the last attempt or a permanent
    refusal (5xx: unknown mailbox, rejected sender...)."""
    attempts = row["attempts"] + 1
    dead = permanent or attempts >= current().settings.mail_max_attempts
    log.warning(
        "Mail %s to %s failed (attempt %d): %s", row["id"], row["to_address"], attempts, error
    )
    await MailMessage.update(
        {
            MailMessage.status: (MailStatus.dead if dead else MailStatus.queued).value,
            MailMessage.attempts: attempts,
            MailMessage.next_attempt_at: now() + _retry_delay(attempts),
            MailMessage.last_error: error[:2000],
            MailMessage.locked_by: "",
        }
    ).where(MailMessage.id == row["id"])


# -- operators and users -------------------------------------------------------------------


async def list_mail(
    actor: Actor, *, status: str | None = None, first: int = 20, after: str | None = None
) -> tuple[Page, Any]:
    """The mail outbox, newest first (``mail:read``)."""
    actor.require("mail:read")
    conditions = []
    if status:
        if status not in {s.value for s in MailStatus}:
            raise ValidationFailed(
                FieldError("status", "status: queued, sent or dead", "INVALID_CHOICE")
            )
        conditions.append(MailMessage.status == status)
    return await newest_first(MailMessage, conditions, first=first, after=after)


async def retry_mail(actor: Actor, ids: list[int] | None = None, *, dead: bool = False) -> int:
    """Queue dead (or the given) messages again, due now."""
    actor.require("mail:manage")
    query = MailMessage.update(
        {
            MailMessage.status: MailStatus.queued.value,
            MailMessage.attempts: 0,
            MailMessage.next_attempt_at: now(),
            MailMessage.locked_by: "",
        }
    )
    if ids:
        query = query.where(MailMessage.id.is_in(ids), MailMessage.status != "sent")
    elif dead:
        query = query.where(MailMessage.status == MailStatus.dead.value)
    else:
        raise ValidationFailed(FieldError(None, "Name messages or say --dead", "REQUIRED"))
    return len(await query.returning(MailMessage.id))


async def preferences(actor: Actor) -> list[tuple[MailTemplate, bool]]:
    """The notification kinds a user may receive, and whether they are on."""
    if actor.user_id is None:
        return []
    off = {
        r["kind"]
        for r in await NotificationOptOut.select(NotificationOptOut.kind).where(
            NotificationOptOut.user == actor.user_id
        )
    }
    return [(t, t.kind not in off) for t in templates().values() if t.audience == "user"]


async def user_locale(actor: Actor) -> str | None:
    if actor.user_id is None:
        return None
    row = await User.select(User.locale).where(User.id == actor.user_id).first()
    return (row or {}).get("locale") or None


async def set_user_locale(actor: Actor, locale: str | None) -> None:
    """The language of the acting user's e-mails (``None``: ``mail_default_locale``)."""
    from kehu.core.services.users import update_user

    if actor.user_id is None:
        raise ValidationFailed(FieldError(None, "The system has no locale", "INVALID"))
    from kehu.core.permissions import system_actor

    await update_user(system_actor(), actor.user_id, {"locale": locale or ""})


async def set_preference(actor: Actor, kind: str, enabled: bool) -> None:
    """Opt the acting user out of (or back into) e-mails of ``kind``."""
    if actor.user_id is None:
        raise ValidationFailed(FieldError(None, "The system has no preferences", "INVALID"))
    template = templates().get(kind)
    if template is None or template.audience != "user":
        known = ", ".join(sorted(t.kind for t in templates().values() if t.audience == "user"))
        raise ValidationFailed(
            FieldError("kind", f"Unknown notification {kind!r}; known: {known}", "INVALID_CHOICE")
        )
    if enabled:
        await NotificationOptOut.delete().where(
            (NotificationOptOut.user == actor.user_id) & (NotificationOptOut.kind == kind)
        )
    else:
        await NotificationOptOut.insert(
            NotificationOptOut(user=actor.user_id, kind=kind, created_at=now())
        ).on_conflict(action="DO NOTHING")
