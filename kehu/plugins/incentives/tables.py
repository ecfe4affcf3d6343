"""Incentives tables (prefix ``incentives_``). Money is ``BigInt`` minor units + ``Varchar(3)``;
rates and weights are exact decimal strings (never floats)."""

from enum import StrEnum

from piccolo.columns import (
    JSON,
    BigInt,
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

from kehu.core.tables import Team, User


class Basis(StrEnum):
    won = "won"
    invoiced = "invoiced"
    collected = "collected"


class LineKind(StrEnum):
    commission = "commission"
    adjustment = "adjustment"
    clawback = "clawback"
    cap = "cap"


class EventKind(StrEnum):
    bonus = "bonus"
    allowance = "allowance"
    honour = "honour"
    penalty = "penalty"


class EventStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Target(Table, tablename="incentives_target"):
    """A SMART target: ``metric`` for ``scope`` (user/team/company/region/product/channel) over
    ``[start, end]`` (inclusive dates). Money targets use ``amount_minor`` + ``currency``;
    count and ratio targets use ``value`` (a decimal string)."""

    metric = Varchar(length=40, index=True)
    scope = Varchar(length=20, default="user")
    user = ForeignKey(references=User, null=True, on_delete=OnDelete.cascade, index=True)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.cascade, index=True)
    dimension = Varchar(length=100, default="")  # region / product / channel value
    period = Varchar(length=10, index=True)  # 2026, 2026-Q3, 2026-07
    start = Date()
    end = Date()
    amount_minor = BigInt(null=True, default=None)
    currency = Varchar(length=3, default="")
    value = Varchar(length=40, default="")
    parent = ForeignKey(references="self", null=True, on_delete=OnDelete.cascade, index=True)
    note = Varchar(length=255, default="")
    created_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    created_at = Timestamptz(default=TimestamptzNow())


class Plan(Table, tablename="incentives_plan"):
    """A commission plan: rate on a basis, flat (one tier) or tiers by attainment (``tiers``:
    ``[{"from": "0", "rate": "0.05"}, {"from": "0.8", "rate": "0.08"}, ...]``), optional cap
    per settlement period, role splits (``{"am": "50", ...}`` summing to 100)."""

    name = Varchar(length=100, unique=True)
    basis = Varchar(length=20, choices=Basis, default=Basis.won)
    currency = Varchar(length=3, default="CNY")
    tiers = JSON(default="[]")
    splits = JSON(default="{}")
    cap_minor = BigInt(null=True, default=None)
    effective_from = Date()
    effective_to = Date(null=True, default=None)
    attainment_metric = Varchar(length=40, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class PlanAssignment(Table, tablename="incentives_plan_assignment"):
    plan = ForeignKey(references=Plan, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, null=True, on_delete=OnDelete.cascade, index=True)
    team = ForeignKey(references=Team, null=True, on_delete=OnDelete.cascade, index=True)
    effective_from = Date()
    effective_to = Date(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class CommissionLine(Table, tablename="incentives_commission_line"):
    """A ledger line. ``line_key`` = ``(period, source_key, user, role)`` is unique, so
    recomputation updates lines instead of duplicating them; lines of locked periods are never
    changed (differences go to the next open period as adjustments or clawbacks)."""

    line_key = Varchar(length=160, unique=True)  # "<period>|<source_key>|<user>|<role>"
    period = Varchar(length=10, index=True)
    source_period = Varchar(length=10, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=5, default="")
    kind = Varchar(length=20, choices=LineKind, default=LineKind.commission)
    source_key = Varchar(length=80, index=True)
    source_ref = Varchar(length=255, default="")
    source_date = Date()
    plan = ForeignKey(references=Plan, null=True, on_delete=OnDelete.set_null)
    base_minor = BigInt(default=0)
    share = Varchar(length=20, default="")
    rate = Varchar(length=20, default="")
    tier = Varchar(length=40, default="")
    amount_minor = BigInt()
    currency = Varchar(length=3)
    explanation = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class PayoutRun(Table, tablename="incentives_payout_run"):
    period = Varchar(length=10, unique=True)
    total_minor = BigInt(default=0)
    currency = Varchar(length=3, default="")
    lines = Integer(default=0)
    locked_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    locked_at = Timestamptz(default=TimestamptzNow())


class IncentiveEvent(Table, tablename="incentives_event"):
    """Bonus, allowance (差旅补贴), honour (服务明星/服务标兵) or penalty (减薪/岗位调整);
    takes effect when a manager approves it."""

    kind = Varchar(length=20, choices=EventKind)
    subtype = Varchar(length=40, default="")
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    period = Varchar(length=10, index=True)
    amount_minor = BigInt(null=True, default=None)
    currency = Varchar(length=3, default="")
    reason = Text(default="")
    status = Varchar(length=20, choices=EventStatus, default=EventStatus.pending, index=True)
    requested_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    decided_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    decided_at = Timestamptz(null=True, default=None)
    idempotency_key = Varchar(length=100, null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())


INCENTIVES_TABLES = [Target, Plan, PlanAssignment, CommissionLine, PayoutRun, IncentiveEvent]
