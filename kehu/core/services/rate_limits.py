"""Request counting for rate limits, in the database so every worker shares the counts."""

from datetime import datetime, timedelta

from kehu.core.services.common import now
from kehu.core.tables import RateLimitBucket


async def hit(client: str, at: datetime | None = None) -> tuple[int, int]:
    """Count one request of ``client`` in the current minute: ``(hits so far, seconds until
    the next minute)``. One atomic statement (an upsert), so concurrent workers never lose a
    count; the first hit of a minute also clears the buckets of minutes gone."""
    at = at or now()
    window = at.replace(second=0, microsecond=0)
    rows = await RateLimitBucket.raw(
        "INSERT INTO core_rate_limit (bucket, hits, window_start) VALUES ({}, 1, {}) "
        "ON CONFLICT (bucket) DO UPDATE SET hits = core_rate_limit.hits + 1 RETURNING hits",
        f"{client}@{window.isoformat()}",
        window,
    )
    hits = rows[0]["hits"]
    if hits == 1:
        await RateLimitBucket.delete().where(
            RateLimitBucket.window_start < window - timedelta(minutes=1)
        )
    return hits, 60 - at.second


__all__ = ["hit"]
