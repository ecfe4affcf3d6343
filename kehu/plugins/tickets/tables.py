"""Tickets tables (all prefixed ``tickets_``). Core tables stay untouched.

SLA deadlines are not stored: they are computed from ``tickets_status_change`` rows and the
policy in force, so changing a policy recomputes every open ticket's deadlines. Only the SLA
*outcome* is stored (``first_response_breached``, ``resolution_breached``: ``False`` met,
``True`` breached, ``null`` not known yet) so compliance can be aggregated in SQL.
"""

from enum import StrEnum

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from kehu.core.tables import Contact, Customer, Team, User


class Channel(StrEnum):
    phone = "phone"
    email = "email"
    chat = "chat"
    self_service = "self_service"
    visit = "visit"


class Phase(StrEnum):
    pre_sale = "pre_sale"
    in_sale = "in_sale"
    after_sale = "after_sale"
    care = "care"


class TicketType(StrEnum):
    inquiry = "inquiry"
    complaint = "complaint"
    repair = "repair"
    request = "request"


class Priority(StrEnum):
    urgent = "urgent"
    high = "high"
    normal = "normal"
    low = "low"


class Status(StrEnum):
    new = "new"
    open = "open"
    pending_customer = "pending_customer"
    resolved = "resolved"
    closed = "closed"


class SurveyKind(StrEnum):
    csat = "csat"
    nps = "nps"


OPEN_STATUSES = (Status.new.value, Status.open.value, Status.pending_customer.value)


class Ticket(Table, tablename="tickets_ticket"):
    number = Varchar(length=20, unique=True)
    customer = ForeignKey(references=Customer, on_delete=OnDelete.cascade, index=True)
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.set_null)
    channel = Varchar(length=20, choices=Channel)
    phase = Varchar(length=20, choices=Phase, default=Phase.after_sale)
    type = Varchar(length=20, choices=TicketType, default=TicketType.inquiry)
    priority = Varchar(length=10, choices=Priority, default=Priority.normal, index=True)
    status = Varchar(length=20, choices=Status, default=Status.new, index=True)
    subject = Varchar(length=255)
    assignee = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.set_null, index=True)
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    complaint_category = Varchar(length=50, null=True, default=None, index=True)
    root_cause = Text(default="")
    corrective_action = Text(default="")
    contract_id = Integer(null=True, default=None)  # the contracts plugin's id, if any
    first_responded_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    merged_into = ForeignKey(references="self", null=True, on_delete=OnDelete.set_null)
    # SLA outcomes, evaluated by the clocks when known (see services.slas.store_outcomes)
    first_response_breached = Boolean(null=True, default=None)
    resolution_breached = Boolean(null=True, default=None, index=True)
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class TicketMessage(Table, tablename="tickets_message"):
    ticket = ForeignKey(references=Ticket, on_delete=OnDelete.cascade, index=True)
    author = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    from_customer = Boolean(default=False)
    internal = Boolean(default=False)
    body = Text()
    created_at = Timestamptz(default=TimestamptzNow())


class TicketStatusChange(Table, tablename="tickets_status_change"):
    """Every status change (the first row has ``from_status`` null: the creation)."""

    ticket = ForeignKey(references=Ticket, on_delete=OnDelete.cascade, index=True)
    from_status = Varchar(length=20, null=True, default=None)
    to_status = Varchar(length=20)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    at = Timestamptz(default=TimestamptzNow())


class SlaPolicy(Table, tablename="tickets_sla_policy"):
    """Targets of a named policy per priority; ``default`` applies unless the
    ``kehu_ticket_sla_policy`` hook names another one for the customer."""

    name = Varchar(length=50, index=True)
    priority = Varchar(length=10, choices=Priority)
    first_response_minutes = Integer()
    resolution_minutes = Integer()
    updated_at = Timestamptz(default=TimestamptzNow())


class Escalation(Table, tablename="tickets_escalation"):
    """A reminder or breach escalation done once per (ticket, target, step)."""

    ticket = ForeignKey(references=Ticket, on_delete=OnDelete.cascade, index=True)
    step_key = Varchar(length=100, unique=True)  # "<ticket>:<target>:<step>"
    target = Varchar(length=20)  # first_response | resolution
    step = Varchar(length=20)  # reminder | breach
    notified = JSON(default="[]")  # user ids
    activity_ids = JSON(default="[]")
    at = Timestamptz(default=TimestamptzNow())


class AssignmentState(Table, tablename="tickets_assignment_state"):
    """Round-robin position per team."""

    team = ForeignKey(references=Team, unique=True, on_delete=OnDelete.cascade)
    last_user = Integer(null=True, default=None)


class Survey(Table, tablename="tickets_survey"):
    kind = Varchar(length=10, choices=SurveyKind)
    customer = ForeignKey(references=Customer, on_delete=OnDelete.cascade, index=True)
    ticket = ForeignKey(references=Ticket, null=True, on_delete=OnDelete.set_null, index=True)
    related_type = Varchar(length=50, null=True, default=None)
    related_id = Integer(null=True, default=None)
    question = Varchar(length=500)
    token_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    answered_at = Timestamptz(null=True, default=None, index=True)
    score = Integer(null=True, default=None)
    dimensions = JSON(default="{}")
    comment = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class ChurnAlert(Table, tablename="tickets_churn_alert"):
    """An early-warning alert; at most one open alert per customer."""

    customer = ForeignKey(references=Customer, on_delete=OnDelete.cascade, index=True)
    open = Boolean(default=True, index=True)
    score = Integer()
    signals = JSON(default="[]")
    activity_id = Integer(null=True, default=None)
    outcome = Text(default="")
    raised_at = Timestamptz(default=TimestamptzNow())
    cleared_at = Timestamptz(null=True, default=None)


TICKETS_TABLES = [
    Ticket,
    TicketMessage,
    TicketStatusChange,
    SlaPolicy,
    Escalation,
    AssignmentState,
    Survey,
    ChurnAlert,
]
