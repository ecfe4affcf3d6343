"""Idempotency keys (Stripe-style): a mutation retried with the same ``Idempotency-Key`` from
the same API key within 24 hours gets the first response again instead of running twice.

``begin`` claims the key (one row per API key and key, unique), ``finish`` stores the
response, ``release`` gives the key back when the request failed unexpectedly (a retry may
then run). A different request with a used key is refused; a retry while the first request
still runs waits for nobody: it is told so (``InFlight``). A claim whose request died (a
killed worker) expires after ``LEASE`` and can be taken over.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kehu.core.db import write_transaction
from kehu.core.services.common import now
from kehu.core.tables import IdempotencyRecord

TTL = timedelta(hours=24)
LEASE = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Started:
    record_id: int


@dataclass(frozen=True)
class Replay:
    status_code: int
    content_type: str
    body: str


@dataclass(frozen=True)
class Reused:
    """The key was used for a different request."""


@dataclass(frozen=True)
class InFlight:
    """The first request with this key has not finished yet."""


Outcome = Started | Replay | Reused | InFlight


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def fingerprint(request: dict[str, Any]) -> str:
    """The request's identity: its query, variables and operation name."""
    canonical = {k: request.get(k) for k in ("query", "variables", "operationName")}
    return digest(json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str))


async def begin(
    scope: str, key: str, request_fingerprint: str, at: datetime | None = None
) -> Outcome:
    """Claim ``key`` for ``scope`` (a digest of the API key), or say why not."""
    at = at or now()
    async with write_transaction():
        row = (
            await IdempotencyRecord.select()
            .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
            .first()
        )
        if row is not None and row["created_at"] < at - TTL:
            await IdempotencyRecord.delete().where(IdempotencyRecord.id == row["id"])
            row = None
        if row is None:
            claimed = await IdempotencyRecord.raw(
                "INSERT INTO core_idempotency (scope, key, fingerprint, status_code, "
                "content_type, response, locked_until, created_at) VALUES "
                "({}, {}, {}, NULL, '', '', {}, {}) ON CONFLICT (scope, key) DO NOTHING "
                "RETURNING id",
                scope,
                key,
                request_fingerprint,
                at + LEASE,
                at,
            )
            return Started(claimed[0]["id"]) if claimed else InFlight()
        if row["fingerprint"] != request_fingerprint:
            return Reused()
        if row["status_code"] is not None:
            return Replay(row["status_code"], row["content_type"], row["response"])
        if row["locked_until"] > at:
            return InFlight()
        await IdempotencyRecord.update({IdempotencyRecord.locked_until: at + LEASE}).where(
            IdempotencyRecord.id == row["id"]
        )
        return Started(row["id"])


async def finish(record_id: int, status_code: int, content_type: str, body: str) -> None:
    await IdempotencyRecord.update(
        {
            IdempotencyRecord.status_code: status_code,
            IdempotencyRecord.content_type: content_type,
            IdempotencyRecord.response: body,
        }
    ).where(IdempotencyRecord.id == record_id)


async def release(record_id: int) -> None:
    await IdempotencyRecord.delete().where(IdempotencyRecord.id == record_id)


async def prune(at: datetime | None = None) -> int:
    """Delete records older than ``TTL``; returns how many."""
    cutoff = (at or now()) - TTL
    gone = (
        await IdempotencyRecord.delete()
        .where(IdempotencyRecord.created_at < cutoff)
        .returning(IdempotencyRecord.id)
    )
    return len(gone)


__all__ = [
    "LEASE",
    "MAX_KEY_LENGTH",
    "TTL",
    "InFlight",
    "Outcome",
    "Replay",
    "Reused",
    "Started",
    "begin",
    "digest",
    "fingerprint",
    "finish",
    "prune",
    "release",
]
