"""Actors, roles, scopes and record visibility. Checked in services, never in resolvers."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kehu.core.errors import Forbidden

ROLES = ("admin", "manager", "sales", "support", "finance", "viewer")
WRITERS = {"admin", "manager", "sales", "support"}
EVERYONE = set(ROLES)

CORE_PERMISSIONS: dict[str, set[str]] = {
    "customer:read": EVERYONE,
    "customer:write": WRITERS,
    "customer:archive": {"admin", "manager", "sales"},
    "customer:merge": {"admin", "manager"},
    "customer:reassign": {"admin", "manager"},
    "customer:import": {"admin", "manager"},
    "customer:export": {"admin", "manager", "finance"},
    "activity:write": WRITERS,
    "activity:assign": {"admin", "manager"},
    "user:read": EVERYONE,
    "user:manage": {"admin"},
    "audit:read": {"admin", "manager"},
    "event:admin": {"admin"},
    "mail:read": {"admin"},
    "mail:manage": {"admin"},
}


@dataclass(frozen=True)
class Actor:
    """Who is acting. ``user_id=None`` is the system (CLI, jobs); it acts as an admin."""

    user_id: int | None
    username: str
    role: str
    team_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    visibility: str = "own"  # "own" | "team" | "all"

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    def can(self, scope: str) -> bool:
        return self.role == "admin" or scope in self.scopes

    def require(self, scope: str) -> None:
        if not self.can(scope):
            raise Forbidden(f"Role {self.role!r} lacks permission {scope!r}")


def require_assign(actor: Actor, owner: int | None, scope: str) -> None:
    """Making someone else the owner of a record needs ``scope`` (the system may)."""
    if owner is not None and owner != actor.user_id and not actor.is_system:
        actor.require(scope)


def make_actor(
    *,
    user_id: int | None,
    username: str,
    role: str,
    team_id: int | None,
    permissions: dict[str, set[str]],
    visibility: Mapping[str, str],
) -> Actor:
    scopes = frozenset(scope for scope, roles in permissions.items() if role in roles)
    return Actor(user_id, username, role, team_id, scopes, visibility.get(role, "own"))


def owner_team_scope(actor: Actor, owner: Any, team: Any) -> Any:
    """Where-clause for records with an owner and a team column, by the actor's visibility:
    ``own`` → owned by the actor; ``team`` → owned or of the actor's team; ``all`` → ``None``.
    Plugins use it for their own owned records (opportunities, tickets...)."""
    if actor.visibility == "all" or actor.is_system:
        return None
    own = owner == actor.user_id
    if actor.visibility == "team" and actor.team_id is not None:
        return own | (team == actor.team_id)
    return own


def system_actor() -> Actor:
    """The system: acts as an admin (jobs, the CLI, handlers); audited as actor ``None``."""
    return Actor(None, "system", "admin", None, frozenset(), "all")
