"""Support-agent actuals from the tickets plugin (only used when it is enabled): CSAT (mean
1–5 score of CSAT surveys answered in the period, by the ticket's assignee / team), first
response hours and resolution hours (mean over tickets created / resolved in the period)."""

from collections import defaultdict
from decimal import Decimal
from typing import Any


def _bounds(period: Any) -> tuple[Any, Any]:
    from kehu.plugins.incentives.services.actuals import bounds

    return bounds(period)


def _mean(values: dict[Any, list[Decimal]], value_type: Any) -> dict[Any, Any]:
    return {k: value_type(sum(v) / len(v)) for k, v in values.items() if v}


async def csat(period: Any, group: str, value_type: Any) -> dict[Any, Any]:
    from kehu.plugins.tickets.tables import Survey

    lo, hi = _bounds(period)
    rows = await Survey.select(
        Survey.score, Survey.ticket.assignee.as_alias("user"),
        Survey.ticket.team.as_alias("team"),
    ).where(Survey.kind == "csat", Survey.answered_at >= lo, Survey.answered_at < hi,
            Survey.score.is_not_null(), Survey.ticket.is_not_null())
    out: dict[Any, list[Decimal]] = defaultdict(list)
    for r in rows:
        out[{"user": r["user"], "team": r["team"]}.get(group, 0)].append(Decimal(r["score"]))
    return _mean(out, value_type)


async def hours(period: Any, group: str, value_type: Any, metric: str) -> dict[Any, Any]:
    """Mean hours from creation to first response (tickets created in the period) or to
    resolution (tickets resolved in the period)."""
    from kehu.plugins.tickets.tables import Ticket

    lo, hi = _bounds(period)
    end = Ticket.first_responded_at if metric == "first_response_hours" else Ticket.resolved_at
    anchor = Ticket.created_at if metric == "first_response_hours" else Ticket.resolved_at
    rows = await Ticket.select(Ticket.assignee, Ticket.team, Ticket.created_at,
                               end.as_alias("end")).where(
        anchor >= lo, anchor < hi, end.is_not_null(), Ticket.merged_into.is_null())
    out: dict[Any, list[Decimal]] = defaultdict(list)
    for r in rows:
        seconds = Decimal(int((r["end"] - r["created_at"]).total_seconds()))
        out[{"user": r["assignee"], "team": r["team"]}.get(group, 0)].append(seconds / 3600)
    return {k: value_type(v.number.quantize(Decimal("0.01"))) for k, v in
            _mean(out, value_type).items()}
