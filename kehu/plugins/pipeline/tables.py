"""Pipeline tables (prefix ``pipeline_``). Money is ``BigInt`` minor units + ``Varchar(3)``.

Opportunities carry denormalised forecast columns maintained by the services so that
aggregates stay plain SQL sums: ``probability`` (effective integer percent),
``forecast_category`` (effective) and ``weighted_basis = amount_minor * probability`` (exact
integer; divide by 100 at the edge, ROUND_HALF_UP).
"""

from enum import StrEnum

from piccolo.columns import (
    JSON,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from kehu.core.tables import Contact, Customer, Team, User


class TransitionPolicy(StrEnum):
    linear = "linear"
    non_linear = "non_linear"


class ForecastCategory(StrEnum):
    pipeline = "pipeline"
    best_case = "best_case"
    commit = "commit"
    closed = "closed"
    omitted = "omitted"


class OpportunityStatus(StrEnum):
    open = "open"
    won = "won"
    lost = "lost"


class LeadStatus(StrEnum):
    new = "new"
    qualified = "qualified"
    disqualified = "disqualified"
    converted = "converted"


class TeamRole(StrEnum):
    am = "am"  # Account Manager 客户经理
    ts = "ts"  # Technical Sales 技术销售
    sc = "sc"  # Solution Consultant 解决方案顾问
    bd = "bd"  # Business Development 商务拓展


class HistoryKind(StrEnum):
    created = "created"
    moved = "moved"
    won = "won"
    lost = "lost"
    reopened = "reopened"


class Pipeline(Table, tablename="pipeline_pipeline"):
    name = Varchar(length=100, unique=True)
    description = Text(default="")
    template = Varchar(length=50, default="")
    transition_policy = Varchar(
        length=20, choices=TransitionPolicy, default=TransitionPolicy.linear
    )
    approval_threshold_minor = BigInt(null=True, default=None)
    approval_currency = Varchar(length=3, default="")
    stale_after_days = Integer(default=14)
    is_default = Boolean(default=False)
    archived_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Stage(Table, tablename="pipeline_stage"):
    pipeline = ForeignKey(references=Pipeline, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=100)
    position = Integer()
    probability = Integer(default=0)  # integer percent 0..100
    forecast_category = Varchar(
        length=20, choices=ForecastCategory, default=ForecastCategory.pipeline
    )
    is_closed = Boolean(default=False)
    is_won = Boolean(default=False)
    is_approval = Boolean(default=False)
    required_fields = JSON(default="[]")  # opportunity fields that must be filled to enter
    back_to = JSON(default="[]")  # names of earlier stages a linear pipeline may return to
    created_at = Timestamptz(default=TimestamptzNow())


class Lead(Table, tablename="pipeline_lead"):
    name = Varchar(length=200)
    company = Varchar(length=255, default="")
    name_key = Varchar(length=255, default="", index=True)
    email = Varchar(length=255, default="", index=True)
    phone = Varchar(length=32, default="", index=True)
    title = Varchar(length=100, default="")
    source = Varchar(length=50, default="")
    industry = Varchar(length=100, default="")
    size = Varchar(length=50, default="")
    notes = Text(default="")
    factors = JSON(default="{}")  # factor name -> score 0..100
    score = Integer(default=0)
    status = Varchar(length=20, choices=LeadStatus, default=LeadStatus.new, index=True)
    disqualify_reason = Varchar(length=255, default="")
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.set_null, index=True)
    customer = ForeignKey(references=Customer, null=True, on_delete=OnDelete.set_null, index=True)
    contact = ForeignKey(references=Contact, null=True, on_delete=OnDelete.set_null)
    opportunity_id = Integer(null=True, default=None)
    converted_at = Timestamptz(null=True, default=None)
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class Opportunity(Table, tablename="pipeline_opportunity"):
    name = Varchar(length=255)
    description = Text(default="")
    customer = ForeignKey(references=Customer, on_delete=OnDelete.cascade, index=True)
    pipeline = ForeignKey(references=Pipeline, on_delete=OnDelete.restrict, index=True)
    stage = ForeignKey(references=Stage, on_delete=OnDelete.restrict, index=True)
    amount_minor = BigInt(default=0)
    currency = Varchar(length=3, default="CNY")
    expected_close_date = Date(null=True, default=None)
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null, index=True)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.set_null, index=True)
    status = Varchar(
        length=10, choices=OpportunityStatus, default=OpportunityStatus.open, index=True
    )
    probability = Integer(default=0)
    probability_overridden = Boolean(default=False)
    forecast_category = Varchar(
        length=20, choices=ForecastCategory, default=ForecastCategory.pipeline
    )
    category_overridden = Boolean(default=False)
    weighted_basis = BigInt(default=0)  # amount_minor * probability (exact)
    lost_reason = Varchar(length=100, default="")
    lost_note = Text(default="")
    kanban_position = Integer(default=0)
    approved_at = Timestamptz(null=True, default=None)
    approved_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    stage_entered_at = Timestamptz(default=TimestamptzNow())
    closed_at = Timestamptz(null=True, default=None, index=True)
    cycle_seconds = BigInt(null=True, default=None)  # created_at -> closed_at, set on close
    lead = ForeignKey(references=Lead, null=True, on_delete=OnDelete.set_null)
    source = Varchar(length=50, default="")
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class StageChange(Table, tablename="pipeline_stage_change"):
    """Every move of an opportunity; ``seconds`` is filled when it leaves ``to_stage``."""

    opportunity = ForeignKey(references=Opportunity, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20, choices=HistoryKind, default=HistoryKind.moved)
    from_stage = ForeignKey(references=Stage, null=True, on_delete=OnDelete.set_null)
    to_stage = ForeignKey(references=Stage, on_delete=OnDelete.cascade, index=True)
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    left_at = Timestamptz(null=True, default=None)
    seconds = BigInt(null=True, default=None)
    note = Varchar(length=255, default="")


class TeamMember(Table, tablename="pipeline_team_member"):
    opportunity = ForeignKey(references=Opportunity, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=5, choices=TeamRole, default=TeamRole.am)
    created_at = Timestamptz(default=TimestamptzNow())


class LineItem(Table, tablename="pipeline_line_item"):
    opportunity = ForeignKey(references=Opportunity, on_delete=OnDelete.cascade, index=True)
    product = Varchar(length=255)
    quantity = Integer(default=1)
    unit_price_minor = BigInt(default=0)
    currency = Varchar(length=3, default="CNY")
    position = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


class Need(Table, tablename="pipeline_need"):
    """A need from the needs document, scored 1..5; priority 0.4·impact + 0.3·difficulty +
    0.3·urgency is computed exactly (Decimal), never stored as a float."""

    opportunity = ForeignKey(references=Opportunity, on_delete=OnDelete.cascade, index=True)
    description = Text()
    impact = Integer(default=3)
    difficulty = Integer(default=3)
    urgency = Integer(default=3)
    created_at = Timestamptz(default=TimestamptzNow())


class ForecastSnapshot(Table, tablename="pipeline_forecast_snapshot"):
    taken_at = Timestamptz(default=TimestamptzNow(), index=True)
    period_start = Date()
    period_end = Date()  # exclusive


class ForecastSnapshotLine(Table, tablename="pipeline_forecast_snapshot_line"):
    snapshot = ForeignKey(references=ForecastSnapshot, on_delete=OnDelete.cascade, index=True)
    owner = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.set_null)
    forecast_category = Varchar(length=20, choices=ForecastCategory)
    currency = Varchar(length=3)
    deals = Integer(default=0)
    total_minor = BigInt(default=0)
    weighted_basis = BigInt(default=0)


PIPELINE_TABLES = [
    Pipeline,
    Stage,
    Lead,
    Opportunity,
    StageChange,
    TeamMember,
    LineItem,
    Need,
    ForecastSnapshot,
    ForecastSnapshotLine,
]
