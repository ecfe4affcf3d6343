"""The events core emits (its part of the catalogue in ``docs/events.md``)."""

from kehu.core.event_types import EventType
from kehu.core.tables import Activity, Contact, Customer, Team, User

CHANGED = "the changed columns, new values (the audit row has the old ones)"

CORE_EVENTS = [
    EventType(
        "customer.created",
        "A customer was created (by hand, the API or an import).",
        {"tags": "tags (lower case)", "source": "how it came in (import: 'import')"},
        table=Customer,
        scope="customer:read",
        node="Customer",
    ),
    EventType(
        "customer.updated",
        f"Customer fields changed: {CHANGED}.",
        table=Customer,
        scope="customer:read",
        node="Customer",
    ),
    EventType(
        "customer.tagged",
        "The customer's tags changed.",
        {"tags": "the tags now"},
        scope="customer:read",
        node="Customer",
    ),
    EventType(
        "customer.archived",
        "The customer was archived (soft delete).",
        {"archived_at": "when"},
        scope="customer:read",
        node="Customer",
    ),
    EventType(
        "customer.restored",
        "An archived customer was restored.",
        {"archived_at": "null"},
        scope="customer:read",
        node="Customer",
    ),
    EventType(
        "customer.merged",
        "Another customer (``merged_id``) was merged into this one.",
        {
            "merged_id": "the merged customer",
            "merged_name": "its name",
            "filled_fields": "fields filled from it",
            "contacts": "contacts moved",
            "activities": "activities moved",
            "tags": "tags now",
        },
        scope="customer:read",
        node="Customer",
    ),
    EventType(
        "customer.merged_into",
        "This customer was merged into ``merged_into``.",
        {"merged_into": "the surviving customer"},
        scope="customer:read",
        node="Customer",
    ),
    EventType(
        "customer.reassigned",
        "The customer was handed over to another owner.",
        {"owner": "new owner (user id)", "team": "new team"},
        scope="customer:read",
        node="Customer",
    ),
    EventType(
        "contact.created",
        "A contact was added to a customer.",
        {"source": "how it came in (import: 'import')"},
        table=Contact,
        scope="customer:read",
        node="Contact",
    ),
    EventType(
        "contact.updated",
        f"Contact fields changed: {CHANGED}.",
        table=Contact,
        scope="customer:read",
        node="Contact",
    ),
    EventType("contact.deleted", "A contact was deleted.", scope="customer:read", node="Contact"),
    EventType(
        "activity.created",
        "An activity (call, visit, task...) was logged or planned.",
        table=Activity,
        scope="customer:read",
        node="Activity",
    ),
    EventType(
        "activity.updated",
        f"Activity fields changed: {CHANGED}.",
        table=Activity,
        scope="customer:read",
        node="Activity",
    ),
    EventType(
        "activity.completed",
        "A planned activity was done or cancelled.",
        table=Activity,
        scope="customer:read",
        node="Activity",
    ),
    EventType("user.created", "A user was created.", table=User, scope="user:read", node="User"),
    EventType(
        "user.updated",
        f"User fields changed: {CHANGED}.",
        table=User,
        scope="user:read",
        node="User",
    ),
    EventType("team.created", "A team was created.", table=Team, scope="user:read", node="Team"),
    EventType(
        "api_key.created",
        "An API key was created (its secret is never in events).",
        {"user": "the user it acts as", "name": "its label", "prefix": "its prefix"},
    ),
    EventType("api_key.revoked", "An API key was revoked.", {"prefix": "its prefix"}),
    EventType(
        "outbox.replayed",
        "An operator replayed deliveries (``kehu events replay``).",
        {
            "subscriber": "the subscriber, or null for all",
            "dead": "dead letters too",
            "events": "events named or in the time range",
            "deliveries": "scheduled",
        },
    ),
]
