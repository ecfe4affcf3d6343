"""Forecast: weighted open pipeline by period, owner or team, snapshots and their comparison
with what was won."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from piccolo.query.functions.aggregate import Count, Sum

from kehu.core.errors import FieldError, NotFound, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.money import Money
from kehu.core.permissions import Actor, owner_team_scope, system_actor
from kehu.core.services.common import now
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import LOST, WON, _int, _visible, weighted
from kehu.plugins.pipeline.services.opportunities import OpportunityFilter, _filtered

if TYPE_CHECKING:
    from kehu.core.runtime import Kehu


@dataclass
class ForecastRow:
    key: str  # the forecast category, owner id or team id (as text), or "all"
    currency: str
    count: int
    total: Money
    weighted: Money


GROUPS = {
    "category": t.Opportunity.forecast_category,
    "owner": t.Opportunity.owner,
    "team": t.Opportunity.team,
    "month": t.Opportunity.expected_close_date,
    "quarter": t.Opportunity.expected_close_date,
}


def _period_key(group_by: str, value: Any) -> str:
    if value is None:
        return ""
    if group_by == "month":
        return f"{value:%Y-%m}"
    if group_by == "quarter":
        return f"{value.year}-Q{(value.month - 1) // 3 + 1}"
    return str(value)


async def forecast(
    actor: Actor,
    *,
    period_start: date | None = None,
    period_end: date | None = None,
    group_by: str = "category",
    owner_id: int | None = None,
    team_id: int | None = None,
    pipeline_id: int | None = None,
) -> list[ForecastRow]:
    """Weighted pipeline Σ amount × probability of visible open and won deals whose expected
    close date is in ``[period_start, period_end)``, per forecast category, owner, team,
    month or quarter (of the expected close date) and currency; lost deals contribute 0
    (excluded). Aggregated in SQL (periods: per close date, folded into months/quarters);
    weighted sums are exact integers rounded once, half up."""
    actor.require("forecast:read")
    if group_by not in GROUPS:
        raise ValidationFailed(
            FieldError("groupBy", f"groupBy is one of {', '.join(GROUPS)}", "INVALID_CHOICE")
        )
    o = t.Opportunity
    column = GROUPS[group_by]
    query = o.select(
        column,
        o.currency,
        Count(alias="n"),
        Sum(o.amount_minor, alias="total"),
        Sum(o.weighted_basis, alias="basis"),
    ).where(o.status != LOST)
    query = _filtered(
        query,
        actor,
        OpportunityFilter(
            owner_id=owner_id,
            team_id=team_id,
            pipeline_id=pipeline_id,
            close_after=period_start,
            close_before=period_end,
        ),
    )
    rows = await query.group_by(column, o.currency)
    name = column._meta.name
    sums: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        acc = sums.setdefault((_period_key(group_by, r[name]), r["currency"]), [0, 0, 0])
        acc[0] += _int(r["n"])
        acc[1] += _int(r["total"])
        acc[2] += _int(r["basis"])
    out = [
        ForecastRow(key, cur, n, Money(total, cur), weighted(basis, cur))
        for (key, cur), (n, total, basis) in sums.items()
    ]
    order = [c.value for c in t.ForecastCategory]
    return sorted(
        out,
        key=lambda r: (order.index(r.key) if r.key in order else 99, r.key, r.currency),
    )


def quarter(day: date) -> tuple[date, date]:
    start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    end = date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return start, end


async def take_forecast_snapshot(
    period_start: date | None = None, period_end: date | None = None
) -> dict[str, Any]:
    """Store the forecast as of now (all opportunities, per owner, team, category and
    currency) for the period (default: the current quarter)."""
    if period_start is None or period_end is None:
        period_start, period_end = quarter(now().date())
    o = t.Opportunity
    rows = (
        await o.select(
            o.owner,
            o.team,
            o.forecast_category,
            o.currency,
            Count(alias="n"),
            Sum(o.amount_minor, alias="total"),
            Sum(o.weighted_basis, alias="basis"),
        )
        .where(
            o.status != LOST,
            o.expected_close_date >= period_start,
            o.expected_close_date < period_end,
        )
        .group_by(o.owner, o.team, o.forecast_category, o.currency)
    )
    async with unit_of_work():
        snap = (
            await t.ForecastSnapshot.insert(
                t.ForecastSnapshot(taken_at=now(), period_start=period_start, period_end=period_end)
            ).returning(*t.ForecastSnapshot.all_columns())
        )[0]
        if rows:
            await t.ForecastSnapshotLine.insert(
                *[
                    t.ForecastSnapshotLine(
                        snapshot=snap["id"],
                        owner=r["owner"],
                        team=r["team"],
                        forecast_category=r["forecast_category"],
                        currency=r["currency"],
                        deals=_int(r["n"]),
                        total_minor=_int(r["total"]),
                        weighted_basis=_int(r["basis"]),
                    )
                    for r in rows
                ]
            )
        await record(
            system_actor(),
            "snapshot",
            "forecast",
            snap["id"],
            after={
                "period_start": period_start,
                "period_end": period_end,
                "lines": len(rows),
            },
        )
    return snap


@dataclass
class ForecastComparison:
    snapshot_id: int
    taken_at: datetime
    period_start: date
    period_end: date
    currency: str
    forecast_weighted: Money
    forecast_commit: Money  # commit + closed categories at full amount
    actual_won: Money

    @property
    def variance(self) -> Money:
        return self.actual_won - self.forecast_weighted


async def forecast_vs_actual(actor: Actor, snapshot_id: int) -> list[ForecastComparison]:
    """What was forecast in the snapshot vs what was actually won in its period, per
    currency, over the owners/teams the actor may see."""
    actor.require("forecast:read")
    snap = await t.ForecastSnapshot.select().where(t.ForecastSnapshot.id == snapshot_id).first()
    if snap is None:
        raise NotFound(f"Forecast snapshot {snapshot_id} not found")
    line = t.ForecastSnapshotLine
    query = line.select(
        line.currency,
        line.forecast_category,
        Sum(line.weighted_basis, alias="basis"),
        Sum(line.total_minor, alias="total"),
    ).where(line.snapshot == snapshot_id)
    scope = owner_team_scope(actor, line.owner, line.team)
    if scope is not None:
        query = query.where(scope)
    lines = await query.group_by(line.currency, line.forecast_category)
    o = t.Opportunity
    start = datetime.combine(snap["period_start"], time(), UTC)
    end = datetime.combine(snap["period_end"], time(), UTC)
    won_query = _visible(
        o.select(o.currency, Sum(o.amount_minor, alias="total")).where(
            o.status == WON, o.closed_at >= start, o.closed_at < end
        ),
        actor,
    )
    if scope is not None:
        won_query = won_query.where(owner_team_scope(actor, o.owner, o.team))
    won = {r["currency"]: _int(r["total"]) for r in await won_query.group_by(o.currency)}
    currencies = sorted({r["currency"] for r in lines} | set(won))
    out = []
    for cur in currencies:
        basis = sum(_int(r["basis"]) for r in lines if r["currency"] == cur)
        commit = sum(
            _int(r["total"])
            for r in lines
            if r["currency"] == cur and r["forecast_category"] in ("commit", "closed")
        )
        out.append(
            ForecastComparison(
                snap["id"],
                snap["taken_at"],
                snap["period_start"],
                snap["period_end"],
                cur,
                weighted(basis, cur),
                Money(commit, cur),
                Money(won.get(cur, 0), cur),
            )
        )
    return out


async def list_snapshots(actor: Actor, limit: int = 20) -> list[dict[str, Any]]:
    actor.require("forecast:read")
    return (
        await t.ForecastSnapshot.select()
        .order_by(t.ForecastSnapshot.taken_at, t.ForecastSnapshot.id, ascending=False)
        .limit(limit)
    )


def _period_snapshot(snapshots: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of the snapshots of one period: the latest taken before the period started, else the
    earliest taken during it (one taken after the period ended is no forecast: ignored)."""
    start = datetime.combine(snapshots[0]["period_start"], time(), UTC)
    end = datetime.combine(snapshots[0]["period_end"], time(), UTC)
    before = [s for s in snapshots if s["taken_at"] < start]
    if before:
        return max(before, key=lambda s: (s["taken_at"], s["id"]))
    during = [s for s in snapshots if s["taken_at"] < end]
    return min(during, key=lambda s: (s["taken_at"], s["id"])) if during else None


async def period_snapshots(
    since: date | None = None, until: date | None = None
) -> list[dict[str, Any]]:
    """The snapshot that stands for each forecast period (``period_start`` … ``period_end``)
    starting in ``[since, until)``, chosen by :func:`_period_snapshot`."""
    s = t.ForecastSnapshot
    query = s.select()
    if since is not None:
        query = query.where(s.period_start >= since)
    if until is not None:
        query = query.where(s.period_start < until)
    periods: dict[tuple[date, date], list[dict[str, Any]]] = {}
    for row in await query:
        periods.setdefault((row["period_start"], row["period_end"]), []).append(row)
    chosen = (_period_snapshot(rows) for _, rows in sorted(periods.items()))
    return [row for row in chosen if row is not None]


async def snapshot_job(kehu: "Kehu") -> str:
    """The ``pipeline.forecast_snapshot`` job: snapshot the current quarter's forecast."""
    snap = await take_forecast_snapshot()
    return f"forecast snapshot {snap['id']} for {snap['period_start']}..{snap['period_end']}"
