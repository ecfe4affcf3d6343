"""Strict input scalars: a malformed value is a ``BAD_USER_INPUT`` error, never a server fault.

``Decimal`` accepts only plain decimal strings (``"1234.50"``; no exponent, no thousands
separator, no JSON number, which may have gone through binary floating point on the client);
``Date`` only ``YYYY-MM-DD`` and ``DateTime`` only ISO 8601, both within ``DATE_MIN`` ..
``DATE_MAX``. A scalar raises ``BadInput``; graphql-core wraps it with the value's location,
from which ``ErrorCodes`` names the argument (``Argument 'input.amount.amount': ...``).
Installed through ``StrawberryConfig.scalar_map`` by the schema builder.
"""

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import strawberry

from graphql import GraphQLError
from kehu.core.errors import BadInput

DECIMAL_INTEGER_DIGITS = 18
DECIMAL_FRACTION_DIGITS = 12
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2199, 12, 31)

_DECIMAL = re.compile(
    rf"[+-]?\d{{1,{DECIMAL_INTEGER_DIGITS}}}(?:\.\d{{1,{DECIMAL_FRACTION_DIGITS}}})?", re.ASCII
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def bad_input(message: str, nodes: Any = None, **extensions: Any) -> GraphQLError:
    """A ``BAD_USER_INPUT`` error of the request checks."""
    return GraphQLError(message, nodes, extensions={"code": "BAD_USER_INPUT", **extensions})


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_decimal(value: Any) -> Decimal:
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise BadInput(
            f"Decimal must be a string of digits with an optional sign and decimal point "
            f'(at most {DECIMAL_INTEGER_DIGITS}.{DECIMAL_FRACTION_DIGITS} digits, e.g. "1234.50"), '
            f"got {_shown(value)}"
        )
    return Decimal(value)


def _in_range(day: dt.date, value: Any) -> None:
    if not DATE_MIN <= day <= DATE_MAX:
        raise BadInput(f"Date {_shown(value)} is outside {DATE_MIN} .. {DATE_MAX}")


def parse_date(value: Any) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise BadInput(f"Date must be YYYY-MM-DD, got {_shown(value)}")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(f"Date {_shown(value)} does not exist ({exc})") from None
    _in_range(day, value)
    return day


def parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str) or not _DATE.match(value):
        raise BadInput(
            f"DateTime must be ISO 8601 (YYYY-MM-DDTHH:MM:SS+08:00), got {_shown(value)}"
        )
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInput(f"DateTime {_shown(value)} is not valid ISO 8601 ({exc})") from None
    _in_range(moment.date(), value)
    return moment


SCALARS: dict[object, Any] = {
    Decimal: strawberry.scalar(
        name="Decimal",
        description='An exact decimal number as a string, e.g. "1234.50".',
        serialize=str,
        parse_value=parse_decimal,
    ),
    dt.date: strawberry.scalar(
        name="Date",
        description=f"A calendar date, YYYY-MM-DD, between {DATE_MIN} and {DATE_MAX}.",
        serialize=dt.date.isoformat,
        parse_value=parse_date,
    ),
    dt.datetime: strawberry.scalar(
        name="DateTime",
        description="A moment in ISO 8601 (YYYY-MM-DDTHH:MM:SS with an offset).",
        serialize=dt.datetime.isoformat,
        parse_value=parse_datetime,
    ),
}

__all__ = ["DATE_MAX", "DATE_MIN", "SCALARS", "bad_input"]
