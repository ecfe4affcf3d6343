"""GraphQL for e-mail notifications: your preferences (opt-outs) and the mail outbox.

No ``from __future__ import annotations`` here: Strawberry resolves the annotations.
"""

import datetime as dt
from typing import TYPE_CHECKING, Any

import strawberry

from kehu.core import mail
from kehu.core.graphql.base import connection, gql_enum, make_connection
from kehu.core.graphql.mutations import mutation
from kehu.core.tables import MailStatus

if TYPE_CHECKING:
    MailStatusEnum = MailStatus
else:
    MailStatusEnum = gql_enum(MailStatus, "MailStatus")


@strawberry.type(description="A kind of e-mail notification and whether you receive it.")
class NotificationPreference:
    kind: str
    description: str
    enabled: bool


@strawberry.type(description="A message of the mail outbox.")
class MailMessageInfo:
    database_id: int
    kind: str
    to_address: str
    subject: str
    locale: str
    status: MailStatusEnum
    attempts: int
    last_error: str
    message_id: str
    created_at: dt.datetime
    sent_at: dt.datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> "MailMessageInfo":
        return cls(
            database_id=row["id"],
            kind=row["kind"],
            to_address=row["to_address"],
            subject=row["subject"],
            locale=row["locale"],
            status=MailStatusEnum(row["status"]),
            attempts=row["attempts"],
            last_error=row["last_error"],
            message_id=row["message_id"],
            created_at=row["created_at"],
            sent_at=row["sent_at"],
        )


if TYPE_CHECKING:
    from kehu.core.graphql.base import Connection

    MailMessageConnection = Connection[MailMessageInfo]
else:
    MailMessageConnection = connection("MailMessage", MailMessageInfo)


async def _preferences(actor: Any) -> list[NotificationPreference]:
    return [
        NotificationPreference(kind=t.kind, description=t.description, enabled=on)
        for t, on in await mail.preferences(actor)
    ]


@strawberry.type
class NotificationsQuery:
    @strawberry.field(description="The e-mail notifications you receive (and may turn off).")
    async def notification_preferences(self, info: strawberry.Info) -> list[NotificationPreference]:
        return await _preferences(info.context.actor)

    @strawberry.field(description="The language of your e-mails (zh, en; null: the default).")
    async def notification_locale(self, info: strawberry.Info) -> str | None:
        return await mail.user_locale(info.context.actor)

    @strawberry.field(description="The mail outbox, newest first (admins).")
    async def mail_messages(
        self,
        info: strawberry.Info,
        first: int = 20,
        after: str | None = None,
        status: MailStatusEnum | None = None,
    ) -> MailMessageConnection:
        page, count = await mail.list_mail(
            info.context.actor,
            status=status.value if status else None,
            first=first,
            after=after,
        )
        return make_connection("MailMessage", page, MailMessageInfo.of, count)


@strawberry.input
class SetNotificationPreferenceInput:
    kind: str
    enabled: bool


@strawberry.input
class SetNotificationLocaleInput:
    locale: str | None = strawberry.field(description="zh, en, or null for the default.")


@strawberry.type
class LocaleMutation:
    @mutation(
        description="Choose the language of your e-mails.",
        payload="SetNotificationLocalePayload",
        field="locale",
    )
    async def set_notification_locale(
        self, info: strawberry.Info, input: SetNotificationLocaleInput
    ) -> str | None:
        actor = info.context.actor
        await mail.set_user_locale(actor, input.locale)
        return await mail.user_locale(actor)


@strawberry.type
class NotificationsMutation(LocaleMutation):
    @mutation(
        description="Turn an e-mail notification off (or on again) for you.",
        payload="SetNotificationPreferencePayload",
        field="preferences",
    )
    async def set_notification_preference(
        self, info: strawberry.Info, input: SetNotificationPreferenceInput
    ) -> list[NotificationPreference]:
        actor = info.context.actor
        await mail.set_preference(actor, input.kind, input.enabled)
        return await _preferences(actor)


TYPES = [NotificationPreference, MailMessageInfo]
