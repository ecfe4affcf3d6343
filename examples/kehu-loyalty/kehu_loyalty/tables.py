"""Loyalty tables. Core tables stay untouched: ``loyalty_account`` is a 1:1 extension of
``core_customer`` and ``loyalty_ledger`` records every point movement."""

from enum import StrEnum

from piccolo.columns import ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from kehu.sdk import Customer, User


class EntryKind(StrEnum):
    award = "award"
    redeem = "redeem"
    expire = "expire"


class LoyaltyAccount(Table, tablename="loyalty_account"):
    """One row per customer that ever had points (balance = unspent, unexpired points)."""

    customer = ForeignKey(references=Customer, null=False, on_delete=OnDelete.cascade, unique=True)
    balance = Integer(default=0)
    lifetime_points = Integer(default=0)
    version = Integer(default=1)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class LoyaltyLedger(Table, tablename="loyalty_ledger"):
    """A point transaction. Awards are lots: ``remaining`` is what redemptions (oldest first)
    and expiry have not used up yet, so ``balance == sum(remaining)`` per customer."""

    customer = ForeignKey(references=Customer, null=False, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=10, choices=EntryKind)
    points = Integer()  # signed: awards positive, redemptions and expiry negative
    remaining = Integer(default=0)
    balance_after = Integer()
    reason = Varchar(length=255, default="")
    source = Varchar(length=50, default="manual")
    actor = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    idempotency_key = Varchar(length=100, null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


LOYALTY_TABLES = [LoyaltyAccount, LoyaltyLedger]
