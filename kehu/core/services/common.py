"""Helpers shared by the core services."""

import json
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from kehu.core.errors import FieldError, ValidationFailed


def now() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(UTC)


def raise_if(errors: list[FieldError]) -> None:
    """Raise ``ValidationFailed`` with ``errors`` if there are any."""
    if errors:
        raise ValidationFailed(errors)


def check_choice(value: Any, choices: type[Enum], field: str, errors: list[FieldError]) -> Any:
    """Accept an Enum member or its value; record an error for anything else."""
    raw = getattr(value, "value", value)
    allowed = [c.value for c in choices]
    if raw not in allowed:
        errors.append(
            FieldError(field, f"{field} must be one of {', '.join(allowed)}", "INVALID_CHOICE")
        )
    return raw


def as_date(value: Any, field: str, errors: list[FieldError]) -> date | None:
    """A date from a date, datetime or ISO string; records an error (and gives ``None``) for
    anything else."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors.append(FieldError(field, f"{field} must be a date (YYYY-MM-DD)", "INVALID_DATE"))
        return None


def as_datetime(value: Any, field: str, errors: list[FieldError]) -> datetime | None:
    """An aware datetime from a datetime or ISO string (naive = UTC); records an error for
    anything else."""
    if value in (None, ""):
        return None
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value))
        except ValueError:
            errors.append(
                FieldError(field, f"{field} must be an ISO 8601 date-time", "INVALID_DATETIME")
            )
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def load_json(value: Any) -> Any:
    """A JSON column's value as Python data (SQLite returns text)."""
    if isinstance(value, str):
        return json.loads(value) if value else {}
    return value if value is not None else {}


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """The changed keys only, for compact audit rows."""
    keys = [k for k in after if k in before and before[k] != after[k]]
    return {k: before[k] for k in keys}, {k: after[k] for k in keys}
