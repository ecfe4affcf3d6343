"""Pipeline metrics, aggregated in SQL with visibility applied: funnel, win rate, deal cycle,
time in stage and velocity."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from piccolo.query.functions.aggregate import Count, Sum
from piccolo.querystring import QueryString

from kehu.core.errors import NotFound
from kehu.core.money import Money, check_currency
from kehu.core.permissions import Actor
from kehu.plugins.pipeline import tables as t
from kehu.plugins.pipeline.services.common import (
    LOST,
    OPEN,
    WON,
    _int,
    _ratio,
    _visible,
    days,
    money_ratio,
    opportunity_scope,
)
from kehu.plugins.pipeline.services.stages import stages_by_pipeline

OPP = "pipeline_opportunity"


@dataclass
class FunnelStage:
    stage_id: int
    name: str
    position: int
    reached: int  # opportunities that ever entered the stage
    current: int  # open opportunities in it now
    conversion: Decimal | None  # share of ``reached`` that reached the next stage


def _visible_ids(actor: Actor, pipeline_id: int | None = None) -> Any:
    query = _visible(t.Opportunity.select(t.Opportunity.id), actor)
    if pipeline_id is not None:
        query = query.where(t.Opportunity.pipeline == pipeline_id)
    return query


def _opportunity_conditions(
    actor: Actor,
    *,
    owner_id: int | None = None,
    team_id: int | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[QueryString]:
    """Raw-SQL conditions on ``pipeline_opportunity``: the actor's visibility, owner, team
    and a creation window ``[created_from, created_to)``."""
    scope = opportunity_scope(actor)
    out = [] if scope is None else [scope.querystring]
    for column, value in (("owner", owner_id), ("team", team_id)):
        if value is not None:
            out.append(QueryString(f"{OPP}.{column} = {{}}", value))
    if created_from is not None:
        out.append(QueryString(f"{OPP}.created_at >= {{}}", created_from))
    if created_to is not None:
        out.append(QueryString(f"{OPP}.created_at < {{}}", created_to))
    return out


async def _stage_counts(
    sql: str, opportunity: str, conditions: list[QueryString]
) -> dict[int, int]:
    """Run ``sql`` (``SELECT ... AS stage, ... AS n ... WHERE ...{where} GROUP BY ...``) over
    the deals matching ``conditions``: ``opportunity IN (SELECT id ... WHERE conditions)``, a
    semi-join that stays cheap when the conditions pick few deals (a rep, a team, a cohort)."""
    where = ""
    if conditions:
        where = (
            f" AND {opportunity} IN (SELECT {OPP}.id FROM {OPP} WHERE "
            + " AND ".join("{}" for _ in conditions)
            + ")"
        )
    rows = await t.StageChange.raw(sql.replace("{where}", where), *conditions)
    return {r["stage"]: _int(r["n"]) for r in rows}


async def funnel(
    actor: Actor,
    pipeline_id: int,
    *,
    owner_id: int | None = None,
    team_id: int | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[FunnelStage]:
    """Per open/won stage: how many visible deals (of an owner/team, created in
    ``[created_from, created_to)``: a cohort) ever reached it, how many of them are in it now,
    and the stage conversion (reached next ÷ reached this).

    Two aggregates by the pipeline's stage ids: over the stage history (the covering index
    ``(to_stage, opportunity)`` answers it alone without conditions) and over the open deals
    (index ``(stage, status)``)."""
    actor.require("forecast:read")
    all_stages = (await stages_by_pipeline([pipeline_id]))[pipeline_id]
    if not all_stages:
        raise NotFound(f"Pipeline {pipeline_id} not found")
    stages = [s for s in all_stages if not s["is_closed"] or s["is_won"]]
    ids = ", ".join(str(int(s["id"])) for s in stages)
    conditions = _opportunity_conditions(
        actor,
        owner_id=owner_id,
        team_id=team_id,
        created_from=created_from,
        created_to=created_to,
    )
    reached = await _stage_counts(
        "SELECT h.to_stage AS stage, COUNT(DISTINCT h.opportunity) AS n FROM "
        f"pipeline_stage_change h WHERE h.to_stage IN ({ids}){{where}} GROUP BY h.to_stage",
        "h.opportunity",
        conditions,
    )
    now_in = await _stage_counts(
        "SELECT o.stage AS stage, COUNT(*) AS n FROM pipeline_opportunity o WHERE o.stage IN "
        f"({ids}) AND o.status = '{OPEN}'{{where}} GROUP BY o.stage",
        "o.id",
        conditions,
    )
    out = []
    for i, s in enumerate(stages):
        nxt = stages[i + 1] if i + 1 < len(stages) else None
        conv = _ratio(reached.get(nxt["id"], 0), reached.get(s["id"], 0)) if nxt else None
        out.append(
            FunnelStage(
                s["id"],
                s["name"],
                s["position"],
                reached.get(s["id"], 0),
                now_in.get(s["id"], 0),
                conv,
            )
        )
    return out


@dataclass
class WinRate:
    won: int
    lost: int
    rate: Decimal | None


async def win_rate(
    actor: Actor,
    *,
    pipeline_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> WinRate:
    actor.require("forecast:read")
    o = t.Opportunity
    query = _visible(o.select(o.status, Count(alias="n")).where(o.status.is_in([WON, LOST])), actor)
    if pipeline_id is not None:
        query = query.where(o.pipeline == pipeline_id)
    if since is not None:
        query = query.where(o.closed_at >= since)
    if until is not None:
        query = query.where(o.closed_at < until)
    counts = {r["status"]: _int(r["n"]) for r in await query.group_by(o.status)}
    won, lost = counts.get(WON, 0), counts.get(LOST, 0)
    return WinRate(won, lost, _ratio(won, won + lost))


async def average_deal_cycle_days(
    actor: Actor, *, pipeline_id: int | None = None
) -> Decimal | None:
    """Mean days from creation to winning, over visible won deals (exact, 2 places)."""
    actor.require("forecast:read")
    o = t.Opportunity
    query = _visible(
        o.select(Count(o.cycle_seconds, alias="n"), Sum(o.cycle_seconds, alias="s")).where(
            o.status == WON
        ),
        actor,
    )
    if pipeline_id is not None:
        query = query.where(o.pipeline == pipeline_id)
    row = (await query)[0]
    return days(_int(row["s"]), _int(row["n"]))


async def average_time_in_stage(actor: Actor, pipeline_id: int) -> dict[int, Decimal]:
    """Mean days spent in each stage (completed stays only), per stage id."""
    actor.require("forecast:read")
    h = t.StageChange
    rows = (
        await h.select(h.to_stage, Count(alias="n"), Sum(h.seconds, alias="s"))
        .where(
            h.opportunity.is_in(_visible_ids(actor, pipeline_id)),
            h.seconds.is_not_null(),
        )
        .group_by(h.to_stage)
    )
    return {r["to_stage"]: days(_int(r["s"]), _int(r["n"])) for r in rows if _int(r["n"])}


@dataclass
class Velocity:
    currency: str
    open_deals: int
    average_won_amount: Money | None
    win_rate: Decimal | None  # a fraction (0.5 = 50%)
    cycle_days: Decimal | None
    per_day: Money | None  # open deals × average won amount × win rate ÷ cycle days


def velocity(
    currency: str,
    open_deals: int,
    won: int,
    lost: int,
    won_minor: int,
    won_seconds: int,
    cycled: int,
) -> Velocity:
    """Sales velocity from the aggregates of one group: ``won`` deals worth ``won_minor``,
    ``cycled`` of them with a cycle, summing ``won_seconds``. Exact up to one rounding:
    open × (won_minor ÷ won) × (won ÷ (won + lost)) ÷ (won_seconds ÷ cycled ÷ 86400)."""
    per_day = None
    if won and won_seconds:
        per_day = money_ratio(
            open_deals * won_minor * cycled * 86400,
            (won + lost) * won_seconds,
            currency,
        )
    return Velocity(
        currency,
        open_deals,
        money_ratio(won_minor, won, currency),
        _ratio(won, won + lost),
        days(won_seconds, cycled),
        per_day,
    )


async def pipeline_velocity(
    actor: Actor, *, currency: str, pipeline_id: int | None = None
) -> Velocity:
    """Sales velocity = #open deals × average won deal size × win rate ÷ average cycle."""
    actor.require("forecast:read")
    currency = check_currency(currency)
    o = t.Opportunity
    base = _visible(
        o.select(
            o.status,
            Count(alias="n"),
            Sum(o.amount_minor, alias="total"),
            Sum(o.cycle_seconds, alias="s"),
            Count(o.cycle_seconds, alias="cycled"),
        ).where(o.currency == currency),
        actor,
    )
    if pipeline_id is not None:
        base = base.where(o.pipeline == pipeline_id)
    stats = {r["status"]: r for r in await base.group_by(o.status)}
    won = stats.get(WON, {})
    return velocity(
        currency,
        _int(stats.get(OPEN, {}).get("n")),
        _int(won.get("n")),
        _int(stats.get(LOST, {}).get("n")),
        _int(won.get("total")),
        _int(won.get("s")),
        _int(won.get("cycled")),
    )
