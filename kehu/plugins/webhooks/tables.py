"""Webhook endpoints and their delivery log."""

from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from kehu.core.tables import User


class Webhook(Table, tablename="webhooks_endpoint"):
    """An endpoint of a user: it receives the events matching ``events`` that its owner may
    see. ``secret`` and ``previous_secret`` are encrypted (``kehu.core.secrets``)."""

    owner = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    url = Varchar(length=2000)
    description = Text(default="")
    events = JSON(default="[]")
    payload_query = Text(default="")
    secret = Text(default="")
    previous_secret = Text(default="")
    previous_secret_until = Timestamptz(null=True, default=None)
    active = Boolean(default=True)
    disabled_reason = Text(default="")
    failing_since = Timestamptz(null=True, default=None)
    last_success_at = Timestamptz(null=True, default=None)
    last_failure_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class WebhookAttempt(Table, tablename="webhooks_attempt"):
    """One HTTP attempt (``event`` 0 and name ``webhook.ping`` for pings)."""

    webhook = ForeignKey(references=Webhook, on_delete=OnDelete.cascade, index=True)
    event = BigInt(default=0, index=True)
    event_id = Varchar(length=36)
    event_name = Varchar(length=100)
    attempt = Integer(default=1)
    succeeded = Boolean(default=False)
    response_status = Integer(null=True, default=None)
    latency_ms = Integer(default=0)
    response_excerpt = Text(default="")
    error = Text(default="")
    will_retry = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


TABLES = [Webhook, WebhookAttempt]
