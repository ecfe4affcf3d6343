"""Users, teams and API keys (hashed at rest, shown once, revocable)."""

import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from kehu.core.context import current
from kehu.core.errors import FieldError, NotFound, Unauthenticated, ValidationFailed
from kehu.core.events import record, unit_of_work
from kehu.core.permissions import ROLES, Actor, make_actor
from kehu.core.services.common import diff, now, raise_if
from kehu.core.tables import ApiKey, Team, User
from kehu.core.validation import clean_email, require_text

KEY_PREFIX = "kehu_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def create_team(actor: Actor, name: str, description: str = "") -> dict[str, Any]:
    actor.require("user:manage")
    name, err = require_text(name, "name", 100)
    raise_if([err] if err else [])
    async with unit_of_work():
        if await Team.exists().where(Team.name == name):
            raise ValidationFailed(FieldError("name", f"Team {name!r} exists", "DUPLICATE"))
        row = (
            await Team.insert(Team(name=name, description=description)).returning(
                *Team.all_columns()
            )
        )[0]
        await record(actor, "created", "team", row["id"], after=row)
    return row


async def team_by_name(name: str) -> dict[str, Any]:
    row = await Team.select().where(Team.name == name).first()
    if row is None:
        raise NotFound(f"Team {name!r} not found")
    return row


def _clean_user(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if "username" in data or not partial:
        out["username"], err = require_text(data.get("username"), "username", 100)
        errors += [err] if err else []
    if "role" in data or not partial:
        out["role"] = data.get("role") or "viewer"
        if out["role"] not in ROLES:
            errors.append(
                FieldError("role", f"role must be one of {', '.join(ROLES)}", "INVALID_CHOICE")
            )
    if "email" in data:
        out["email"], err = clean_email(data["email"])
        errors += [err] if err else []
    if "locale" in data:
        out["locale"] = (data["locale"] or "").strip().lower()
        if out["locale"] not in ("", "zh", "en"):
            errors.append(
                FieldError(
                    "locale", "locale must be zh, en or empty (the default)", "INVALID_CHOICE"
                )
            )
    for name in ("display_name", "team", "active"):
        if name in data:
            out[name] = data[name]
    raise_if(errors)
    return out


async def create_user(actor: Actor, data: dict[str, Any]) -> dict[str, Any]:
    actor.require("user:manage")
    values = _clean_user(data, partial=False)
    async with unit_of_work():
        if await User.exists().where(User.username == values["username"]):
            raise ValidationFailed(
                FieldError("username", f"User {values['username']!r} exists", "DUPLICATE")
            )
        if values.get("team") is not None and not await Team.exists().where(
            Team.id == values["team"]
        ):
            raise ValidationFailed(FieldError("teamId", "Team not found", "NOT_FOUND"))
        row = (await User.insert(User(**values)).returning(*User.all_columns()))[0]
        await record(actor, "created", "user", row["id"], after=row)
    return row


async def update_user(actor: Actor, user_id: int, data: dict[str, Any]) -> dict[str, Any]:
    actor.require("user:manage")
    values = _clean_user(data, partial=True)
    async with unit_of_work():
        before = await get_user(user_id)
        rows = (
            await User.update(**values, updated_at=now())
            .where(User.id == user_id)
            .returning(*User.all_columns())
        )
        old, new = diff(before, rows[0])
        await record(actor, "updated", "user", user_id, old, new)
    return rows[0]


async def get_user(user_id: int) -> dict[str, Any]:
    row = await User.select().where(User.id == user_id).first()
    if row is None:
        raise NotFound(f"User {user_id} not found")
    return row


async def user_by_name(username: str) -> dict[str, Any]:
    row = await User.select().where(User.username == username).first()
    if row is None:
        raise NotFound(f"User {username!r} not found")
    return row


async def list_users(actor: Actor) -> list[dict[str, Any]]:
    actor.require("user:read")
    return await User.select().order_by(User.username)


async def list_teams(actor: Actor) -> list[dict[str, Any]]:
    actor.require("user:read")
    return await Team.select().order_by(Team.name)


def actor_for(user: dict[str, Any]) -> Actor:
    """The ``Actor`` of a ``core_user`` row: its role's permissions and visibility."""
    kehu = current()
    return make_actor(
        user_id=user["id"],
        username=user["username"],
        role=user["role"],
        team_id=user["team"],
        permissions=kehu.permissions(),
        visibility=kehu.settings.visibility,
    )


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(
    actor: Actor, username: str, name: str = "", expires_at: datetime | None = None
) -> tuple[dict[str, Any], str]:
    """Create a key for ``username``; returns the row and the plaintext key (shown once).
    Users may create keys for themselves; ``user:manage`` is needed for others."""
    user = await user_by_name(username)
    if user["id"] != actor.user_id:
        actor.require("user:manage")
    if not user["active"]:
        raise ValidationFailed(f"User {username!r} is inactive", field="user")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    async with unit_of_work():
        row = (
            await ApiKey.insert(
                ApiKey(
                    user=user["id"],
                    name=name,
                    prefix=prefix,
                    key_hash=_hash(secret),
                    expires_at=expires_at,
                )
            ).returning(*ApiKey.all_columns())
        )[0]
        await record(
            actor,
            "created",
            "api_key",
            row["id"],
            after={"user": user["id"], "name": name, "prefix": prefix},
        )
    return row, f"{KEY_PREFIX}{prefix}_{secret}"


async def revoke_api_key(actor: Actor, prefix: str) -> dict[str, Any]:
    prefix = prefix.removeprefix(KEY_PREFIX).split("_")[0]
    row = await ApiKey.select().where(ApiKey.prefix == prefix).first()
    if row is None:
        raise NotFound(f"API key {prefix!r} not found")
    if row["user"] != actor.user_id:
        actor.require("user:manage")
    if row["revoked_at"] is not None:
        raise ValidationFailed("API key already revoked", field="prefix")
    async with unit_of_work():
        await ApiKey.update({ApiKey.revoked_at: now()}).where(ApiKey.id == row["id"])
        await record(actor, "revoked", "api_key", row["id"], after={"prefix": prefix})
    return row


async def list_api_keys(actor: Actor, username: str | None = None) -> list[dict[str, Any]]:
    query = ApiKey.select(
        *ApiKey.all_columns(exclude=[ApiKey.key_hash]), ApiKey.user.username.as_alias("username")
    )
    if username is not None:
        user = await user_by_name(username)
        if user["id"] != actor.user_id:
            actor.require("user:manage")
        query = query.where(ApiKey.user == user["id"])
    else:
        actor.require("user:manage")
    return await query.order_by(ApiKey.id)


@functools.cache
def _key_query() -> str:
    """The key and its user in one statement, written once: building the same join with
    Piccolo on every request cost most of the authentication time."""
    user = ", ".join(
        f'u."{c._meta.db_column_name}" AS "user.{c._meta.name}"' for c in User._meta.columns
    )
    return (
        "SELECT k.id, k.key_hash, k.revoked_at, k.expires_at, k.last_used_at, "
        f'{user} FROM core_api_key k JOIN core_user u ON u.id = k."user" '
        "WHERE k.prefix = {} LIMIT 1"
    )


async def authenticate(token: str | None) -> Actor:
    """The actor behind a ``kehu_<prefix>_<secret>`` key, or ``Unauthenticated``."""
    if not token or not token.startswith(KEY_PREFIX):
        raise Unauthenticated("Missing or malformed API key (Authorization: Bearer kehu_...)")
    prefix, _, secret = token.removeprefix(KEY_PREFIX).partition("_")
    rows = await ApiKey.raw(_key_query(), prefix)
    row = rows[0] if rows else None
    if row is None or not hmac.compare_digest(row["key_hash"], _hash(secret)):
        raise Unauthenticated("Invalid API key")
    at = now()
    if row["revoked_at"] is not None:
        raise Unauthenticated("API key revoked")
    if row["expires_at"] is not None and row["expires_at"] <= at:
        raise Unauthenticated("API key expired")
    if not row["user.active"]:
        raise Unauthenticated("User is inactive")
    if row["last_used_at"] is None or at - row["last_used_at"] > LAST_USED_RESOLUTION:
        await ApiKey.update({ApiKey.last_used_at: at}).where(ApiKey.id == row["id"])
    user = {k.removeprefix("user."): v for k, v in row.items() if k.startswith("user.")}
    return actor_for(user)
