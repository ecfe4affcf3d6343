"""Who gets a ticket: agents, the team's routing strategy and the next assignee."""

from typing import Any

from piccolo.query.functions.aggregate import Count

from kehu.core.db import current_engine, is_sqlite
from kehu.core.errors import FieldError, ValidationFailed
from kehu.core.tables import Team, User
from kehu.plugins.tickets.services.common import config
from kehu.plugins.tickets.services.records import AGENT_ROLES
from kehu.plugins.tickets.tables import OPEN_STATUSES, AssignmentState, Ticket


async def _agent(user_id: int) -> dict[str, Any]:
    user = await User.select().where(User.id == user_id).first()
    if user is None or not user["active"] or user["role"] not in AGENT_ROLES:
        raise ValidationFailed(
            FieldError(
                "assigneeId",
                "Assignee must be an active support, sales or manager user",
                "NOT_FOUND",
            )
        )
    return user


def strategy_for(team_name: str) -> str:
    settings = config()
    return settings.assignment.get(team_name, settings.default_assignment)


async def pick_assignee(team_id: int, exclude: int | None = None) -> int | None:
    """The next agent of a team by its strategy (``round_robin`` or ``least_open``; ``manual``
    picks nobody). Candidates: the team's active support agents, else its sales reps."""
    team = await Team.select(Team.name).where(Team.id == team_id).first()
    if team is None:
        return None
    strategy = strategy_for(team["name"])
    if strategy == "manual":
        return None
    users = (
        await User.select(User.id, User.role)
        .where(User.team == team_id, User.active.eq(True), User.role.is_in(["support", "sales"]))
        .order_by(User.id)
    )
    candidates = [u["id"] for u in users if u["role"] == "support"] or [u["id"] for u in users]
    candidates = [c for c in candidates if c != exclude]
    if not candidates:
        return None
    if strategy == "round_robin":
        # the team's position row, created if missing and locked until the transaction ends
        # (SQLite: BEGIN IMMEDIATE already serialises writers; PostgreSQL: FOR UPDATE)
        await AssignmentState.raw(
            "INSERT INTO tickets_assignment_state (team) VALUES ({}) ON CONFLICT (team) DO NOTHING",
            team_id,
        )
        query = AssignmentState.select().where(AssignmentState.team == team_id)
        if not is_sqlite(current_engine()):
            query = query.lock_rows()
        state = await query.first()
        last = state["last_user"]
        chosen = next((c for c in candidates if last is None or c > last), candidates[0])
        await AssignmentState.update({AssignmentState.last_user: chosen}).where(
            AssignmentState.id == state["id"]
        )
        return chosen
    rows = (
        await Ticket.select(Ticket.assignee, Count(alias="n"))
        .where(Ticket.assignee.is_in(candidates), Ticket.status.is_in(list(OPEN_STATUSES)))
        .group_by(Ticket.assignee)
    )
    load = {r["assignee"]: r["n"] for r in rows}
    return min(candidates, key=lambda c: (load.get(c, 0), c))
