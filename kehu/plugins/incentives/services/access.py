"""Whose incentive data an actor may see and change.

Everyone sees their own. ``commission:read_all`` widens that by the role's record visibility:
``all`` (admins, finance, the system) sees everyone's, ``team`` (managers) their team
members'. Changing targets and plan assignments (``incentive:manage``) follows the same
line: a manager sets targets and plans for their own team and its members only; company,
region, product and channel targets are set by those who see everyone.
"""

from typing import Any

from kehu.core.errors import Forbidden
from kehu.core.permissions import Actor
from kehu.core.tables import User


def sees_everyone(actor: Actor) -> bool:
    return actor.is_system or (actor.can("commission:read_all") and actor.visibility == "all")


def sees_team(actor: Actor) -> bool:
    """A manager-like actor: ``commission:read_all`` limited to their team."""
    return (
        not sees_everyone(actor) and actor.can("commission:read_all") and actor.team_id is not None
    )


def team_members(actor: Actor) -> Any:
    """Sub-select of the ids of the actor's team members."""
    return User.select(User.id).where(User.team == actor.team_id)


def users_condition(actor: Actor, column: Any) -> Any | None:
    """Where-clause on a user column for the rows ``actor`` may see (``None``: all)."""
    if sees_everyone(actor):
        return None
    if sees_team(actor):
        return column.is_in(team_members(actor)) | (column == actor.user_id)
    return column == actor.user_id


async def visible_user_ids(actor: Actor, user_ids: list[int]) -> set[int]:
    """Which of ``user_ids`` the actor may see the incentive data of."""
    if sees_everyone(actor):
        return set(user_ids)
    visible = {actor.user_id} & set(user_ids)
    if sees_team(actor) and user_ids:
        rows = await User.select(User.id).where(
            User.id.is_in(list(user_ids)), User.team == actor.team_id
        )
        visible |= {r["id"] for r in rows}
    return visible  # type: ignore[return-value]


async def can_see_user(actor: Actor, user_id: int) -> bool:
    return bool(await visible_user_ids(actor, [user_id]))


async def require_manages(
    actor: Actor, *, user_id: int | None, team_id: int | None, scope: str = "incentive:manage"
) -> None:
    """``Forbidden`` unless ``actor`` has ``scope`` and may use it for this user / team (both
    ``None``: company-wide): everyone's with ``all`` visibility, else their team's only."""
    actor.require(scope)
    if actor.is_system or actor.visibility == "all":
        return
    if actor.team_id is not None and team_id == actor.team_id:
        return
    if (
        user_id is not None
        and actor.team_id is not None
        and await User.exists().where(User.id == user_id, User.team == actor.team_id)
    ):
        return
    raise Forbidden("A team's manager acts on their own team and its members only")


__all__ = [
    "can_see_user",
    "require_manages",
    "sees_everyone",
    "sees_team",
    "team_members",
    "users_condition",
    "visible_user_ids",
]
