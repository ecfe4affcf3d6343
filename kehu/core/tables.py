"""Core tables. Plugins never add columns here: they own 1:1 extension tables."""

from enum import StrEnum

from piccolo.columns import (
    JSON,
    BigInt,
    BigSerial,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Role(StrEnum):
    admin = "admin"
    manager = "manager"
    sales = "sales"
    support = "support"
    finance = "finance"
    viewer = "viewer"


class CustomerKind(StrEnum):
    organization = "organization"
    person = "person"


class LifecycleStage(StrEnum):
    potential = "potential"
    new = "new"
    active = "active"
    declining = "declining"
    lost = "lost"
    loyal = "loyal"


class BuyingRole(StrEnum):
    decision_maker = "decision_maker"
    purchasing = "purchasing"
    finance = "finance"
    technical = "technical"
    user = "user"
    other = "other"


class ActivityKind(StrEnum):
    call = "call"
    visit = "visit"
    return_visit = "return_visit"
    email = "email"
    meeting = "meeting"
    demo = "demo"
    trial = "trial"
    negotiation = "negotiation"
    care = "care"
    event = "event"
    note = "note"
    task = "task"


class ActivityStatus(StrEnum):
    planned = "planned"
    done = "done"
    cancelled = "cancelled"


class Team(Table, tablename="core_team"):
    """A sales or support team."""

    id: Serial  # added by Piccolo; declared for type checkers

    name = Varchar(length=100, unique=True)
    description = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class User(Table, tablename="core_user"):
    """A person who uses Kehu, with a role and a team."""

    id: Serial  # added by Piccolo; declared for type checkers

    username = Varchar(length=100, unique=True)
    display_name = Varchar(length=200, default="")
    email = Varchar(length=255, default="")
    role = Varchar(length=20, choices=Role, default=Role.viewer)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.set_null)
    active = Boolean(default=True)
    locale = Varchar(length=10, default="")  # e-mail language; "" = mail_default_locale
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class ApiKey(Table, tablename="core_api_key"):
    id: Serial  # added by Piccolo; declared for type checkers

    user = ForeignKey(references=User, on_delete=OnDelete.cascade)
    name = Varchar(length=100, default="")
    prefix = Varchar(length=16, unique=True)
    key_hash = Varchar(length=64)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)
    expires_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class Customer(Table, tablename="core_customer"):
    """A customer (organisation or person): the record everything else hangs off."""

    id: Serial  # added by Piccolo; declared for type checkers

    name = Varchar(length=255, index=True)
    name_key = Varchar(length=255, index=True)
    kind = Varchar(length=20, choices=CustomerKind, default=CustomerKind.organization)
    industry = Varchar(length=100, default="", index=True)
    region = Varchar(length=100, default="", index=True)
    size = Varchar(length=50, default="")
    source = Varchar(length=50, default="")
    tier = Varchar(length=30, default="", index=True)
    lifecycle_stage = Varchar(
        length=20, choices=LifecycleStage, default=LifecycleStage.potential, index=True
    )
    email = Varchar(length=255, default="", index=True)
    phone = Varchar(length=32, default="", index=True)
    tax_id = Varchar(length=50, default="", index=True)
    website = Varchar(length=255, default="")
    address = Text(default="")
    credit_rating = Varchar(length=10, default="")
    marketing_consent = Boolean(default=False)
    birthday = Date(null=True, default=None)
    anniversary = Date(null=True, default=None)
    custom_fields = JSON(default="{}")
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.set_null, index=True)
    archived_at = Timestamptz(null=True, default=None)
    merged_into: ForeignKey["Customer"] = ForeignKey(
        references="self", null=True, on_delete=OnDelete.set_null
    )
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class CustomerTag(Table, tablename="core_customer_tag"):
    id: Serial  # added by Piccolo; declared for type checkers

    customer = ForeignKey(references=Customer, on_delete=OnDelete.cascade, index=True)
    tag = Varchar(length=50, index=True)


class Contact(Table, tablename="core_contact"):
    """A person at a customer, with a buying role."""

    id: Serial  # added by Piccolo; declared for type checkers

    customer = ForeignKey(references=Customer, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=200)
    title = Varchar(length=100, default="")
    buying_role = Varchar(length=20, choices=BuyingRole, default=BuyingRole.other)
    email = Varchar(length=255, default="", index=True)
    phone = Varchar(length=32, default="", index=True)
    is_primary = Boolean(default=False)
    notes = Text(default="")
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Activity(Table, tablename="core_activity"):
    """A call, visit, meeting, task... logged on a customer."""

    id: Serial  # added by Piccolo; declared for type checkers

    customer = ForeignKey(references=Customer, on_delete=OnDelete.cascade, index=True)
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.set_null)
    kind = Varchar(length=20, choices=ActivityKind, default=ActivityKind.note)
    status = Varchar(length=20, choices=ActivityStatus, default=ActivityStatus.done)
    subject = Varchar(length=255)
    body = Text(default="")
    occurred_at = Timestamptz(null=True, default=None, index=True)
    due_at = Timestamptz(null=True, default=None)
    completed_at = Timestamptz(null=True, default=None)
    outcome = Text(default="")
    next_action_at = Timestamptz(null=True, default=None)
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    related_type = Varchar(length=50, null=True, default=None, index=True)
    related_id = Integer(null=True, default=None)
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class AuditLog(Table, tablename="core_audit_log"):
    id: Serial  # added by Piccolo; declared for type checkers

    at = Timestamptz(default=TimestamptzNow(), index=True)
    actor = Integer(null=True, default=None)
    actor_name = Varchar(length=100, default="")
    action = Varchar(length=50)
    entity = Varchar(length=50, index=True)
    entity_id = Integer(null=True, default=None, index=True)
    customer = Integer(null=True, default=None, index=True)  # for visibility of the history
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)


class JobState(Table, tablename="core_job_state"):
    id: Serial  # added by Piccolo; declared for type checkers

    name = Varchar(length=100, unique=True)
    locked_by = Varchar(length=100, default="")
    locked_until = Timestamptz(null=True, default=None)
    last_started_at = Timestamptz(null=True, default=None)
    last_finished_at = Timestamptz(null=True, default=None)
    last_status = Varchar(length=20, default="")
    last_error = Text(default="")
    run_count = Integer(default=0)


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for a retry, or behind an earlier event of its entity
    delivered = "delivered"
    dead = "dead"  # gave up after the last attempt; ``kehu events replay`` sends it again


class EventRecord(Table, tablename="core_event"):
    """The outbox: every committed domain event. ``id`` is its position in commit order."""

    id = BigSerial(primary_key=True)
    event_id = Varchar(length=36, unique=True)
    name = Varchar(length=100, index=True)
    entity = Varchar(length=50)
    entity_id = BigInt(null=True, default=None, index=True)
    actor = Integer(null=True, default=None)
    customer = Integer(null=True, default=None)
    data = JSON(default="{}")
    version = Integer(default=1)
    occurred_at = Timestamptz(default=TimestamptzNow(), index=True)


class EventSubscriber(Table, tablename="core_event_subscriber"):
    """One consumer of the outbox (a plugin's handlers, a webhook endpoint): how far it has
    read, who delivers to it now (a lease), and its circuit breaker."""

    id: Serial  # added by Piccolo; declared for type checkers

    name = Varchar(length=100, unique=True)
    position = BigInt(default=0)
    locked_by = Varchar(length=100, default="")
    locked_until = Timestamptz(null=True, default=None)
    paused_until = Timestamptz(null=True, default=None)
    failures = Integer(default=0)  # consecutive failed attempts
    last_delivered_at = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class EventDelivery(Table, tablename="core_event_delivery"):
    """A delivery that did not succeed at once: retried, parked behind an earlier event of the
    same entity, dead-lettered or replayed. Unique per (subscriber, event)."""

    id: Serial  # added by Piccolo; declared for type checkers

    subscriber = Varchar(length=100, index=True)
    event = BigInt(index=True)
    entity_key = Varchar(length=100)
    status = Varchar(length=20, choices=DeliveryStatus, default=DeliveryStatus.pending, index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    last_error = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    delivered_at = Timestamptz(null=True, default=None)


class MailStatus(StrEnum):
    queued = "queued"
    sent = "sent"
    dead = "dead"


class MailMessage(Table, tablename="core_mail"):
    """The mail outbox: rendered messages waiting for (or sent through) SMTP."""

    id: Serial  # added by Piccolo; declared for type checkers

    kind = Varchar(length=50, index=True)
    to_address = Varchar(length=255)
    to_user = Integer(null=True, default=None, index=True)
    customer = Integer(null=True, default=None)
    locale = Varchar(length=10, default="")
    subject = Varchar(length=255)
    body = Text(default="")
    status = Varchar(length=20, choices=MailStatus, default=MailStatus.queued, index=True)
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(default=TimestamptzNow(), index=True)
    locked_by = Varchar(length=100, default="")
    locked_until = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    message_id = Varchar(length=255, default="")
    dedup_key = Varchar(length=255, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    sent_at = Timestamptz(null=True, default=None)


class NotificationOptOut(Table, tablename="core_notification_optout"):
    """A user who does not want e-mails of one notification kind (unique per user, kind)."""

    id: Serial  # added by Piccolo; declared for type checkers

    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=50)
    created_at = Timestamptz(default=TimestamptzNow())


class KeyValue(Table, tablename="core_kv"):
    """Small instance-wide values (e.g. the generated encryption key when none is set)."""

    id: Serial  # added by Piccolo; declared for type checkers

    name = Varchar(length=100, unique=True)
    value = Text(default="")


class IdempotencyRecord(Table, tablename="core_idempotency"):
    """A mutation sent with an ``Idempotency-Key``: the response it got, replayed for 24 h to
    a retry with the same key from the same API key (``kehu.core.services.idempotency``)."""

    id: Serial  # added by Piccolo; declared for type checkers

    scope = Varchar(length=64)  # SHA-256 of the API key: keys never leak into another's
    key = Varchar(length=255)
    fingerprint = Varchar(length=64)  # SHA-256 of the request (query, variables, operation)
    status_code = Integer(null=True, default=None)  # None while the first request runs
    content_type = Varchar(length=100, default="")
    response = Text(default="")
    locked_until = Timestamptz()
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class RateLimitBucket(Table, tablename="core_rate_limit"):
    """Requests of one client (API key, else address) in one minute, shared by all workers."""

    id: Serial  # added by Piccolo; declared for type checkers

    bucket = Varchar(length=100, unique=True)
    hits = Integer(default=0)
    window_start = Timestamptz(index=True)


CORE_TABLES = [
    Team,
    User,
    ApiKey,
    Customer,
    CustomerTag,
    Contact,
    Activity,
    AuditLog,
    JobState,
    EventRecord,
    EventSubscriber,
    EventDelivery,
    MailMessage,
    NotificationOptOut,
    KeyValue,
    IdempotencyRecord,
    RateLimitBucket,
]
