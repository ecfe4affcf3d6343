"""The one import for plugin authors: ``from kehu.sdk import ...``.

Everything a plugin needs, documented name by name in ``docs/sdk.md`` and kept stable (a
test covers this list); the deeper ``kehu.core.*`` paths are internal and may move.
"""

from kehu.core.apps import plugin_app
from kehu.core.console import CliState, console, fail, format_time, pass_state
from kehu.core.context import current
from kehu.core.db import bulk_insert, current_engine, in_transaction, is_sqlite, write_transaction
from kehu.core.declared import Plugin
from kehu.core.delivery import Subscriber
from kehu.core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    KehuError,
    NotFound,
    PluginError,
    Unauthenticated,
    ValidationFailed,
)
from kehu.core.event_types import EventHook, EventType, matches, on_events
from kehu.core.events import Event, emit, record, unit_of_work
from kehu.core.graphql.base import (
    KehuContext,
    MoneyInput,
    Node,
    PageInfo,
    UserError,
    connection,
    decode_id,
    encode_id,
    enum_value,
    extensible,
    given,
    gql_enum,
    make_connection,
    payload,
    pk_of,
)
from kehu.core.graphql.base import Money as MoneyType
from kehu.core.graphql.mutations import mutation, payload_type
from kehu.core.graphql.rows import RowType
from kehu.core.graphql.types import ActivityRef, ContactRef, CustomerRef, TeamRef, UserRef, composed
from kehu.core.hookspecs import MaybeAsync, hookimpl, hookspec
from kehu.core.info import Job, PluginInfo
from kehu.core.mail import MailTemplate, queue_mail
from kehu.core.money import Money, check_currency
from kehu.core.pagination import Page, keyset_page, newest_first
from kehu.core.permissions import EVERYONE, WRITERS, Actor, owner_team_scope, system_actor
from kehu.core.runtime import Kehu
from kehu.core.services.activities import log_activity
from kehu.core.services.common import as_date, as_datetime, check_choice, load_json, now, raise_if
from kehu.core.services.contacts import mail_recipient
from kehu.core.services.customers import (
    customer_scope,
    customers_by_ids,
    get_customer,
    visible_customer_ids,
)
from kehu.core.services.events import receivable
from kehu.core.services.records import stale, update_versioned
from kehu.core.services.timeline import TimelineEntry
from kehu.core.services.users import actor_for
from kehu.core.settings import Settings
from kehu.core.tables import Activity, Contact, Customer, Team, User
from kehu.core.validation import clean_email, clean_phone, name_key, require_text

__all__ = [
    # plugins and the runtime
    "EVERYONE",
    "WRITERS",
    "Activity",
    "ActivityRef",
    "Actor",
    "CliState",
    "Conflict",
    "Contact",
    "ContactRef",
    "Customer",
    "CustomerRef",
    "Event",
    "EventHook",
    "EventType",
    "FieldError",
    "Forbidden",
    "Job",
    "Kehu",
    "KehuContext",
    "KehuError",
    "MailTemplate",
    "MaybeAsync",
    "Money",
    "MoneyInput",
    "MoneyType",
    "Node",
    "NotFound",
    "Page",
    "PageInfo",
    "Plugin",
    "PluginError",
    "PluginInfo",
    "RowType",
    "Settings",
    "Subscriber",
    "Team",
    "TeamRef",
    "TimelineEntry",
    "Unauthenticated",
    "User",
    "UserError",
    "UserRef",
    "ValidationFailed",
    "actor_for",
    "as_date",
    "as_datetime",
    "bulk_insert",
    "check_choice",
    "check_currency",
    "clean_email",
    "clean_phone",
    "composed",
    "connection",
    "console",
    "current",
    "current_engine",
    "customer_scope",
    "customers_by_ids",
    "decode_id",
    "emit",
    "encode_id",
    "enum_value",
    "extensible",
    "fail",
    "format_time",
    "get_customer",
    "given",
    "gql_enum",
    "hookimpl",
    "hookspec",
    "in_transaction",
    "is_sqlite",
    "keyset_page",
    "load_json",
    "log_activity",
    "mail_recipient",
    "make_connection",
    "matches",
    "mutation",
    "name_key",
    "newest_first",
    "now",
    "on_events",
    "owner_team_scope",
    "pass_state",
    "payload",
    "payload_type",
    "pk_of",
    "plugin_app",
    "queue_mail",
    "raise_if",
    "receivable",
    "record",
    "require_text",
    "stale",
    "system_actor",
    "unit_of_work",
    "update_versioned",
    "visible_customer_ids",
    "write_transaction",
]
