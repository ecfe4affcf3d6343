"""Periods as explicit date ranges: ``2026`` (year), ``2026-Q3`` (quarter), ``2026-07``
(month). Ranges are inclusive ``[start, end]``."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from kehu.core.errors import ValidationFailed

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date
    key: str
    kind: str  # year | quarter | month

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def children(self) -> list["Period"]:
        """Year → quarters, quarter → months; a month has none."""
        y = self.start.year
        if self.kind == "year":
            return [parse(f"{y}-Q{q}") for q in range(1, 5)]
        if self.kind == "quarter":
            first = self.start.month
            return [parse(f"{y}-{m:02d}") for m in range(first, first + 3)]
        return []

    def next(self) -> "Period":
        return containing(self.end + timedelta(days=1), self.kind)


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def parse(key: str, field: str = "period") -> Period:
    text = (key or "").strip().upper()
    if m := _YEAR.match(text):
        y = int(m[1])
        return Period(date(y, 1, 1), date(y, 12, 31), text, "year")
    if m := _QUARTER.match(text):
        y, q = int(m[1]), int(m[2])
        return Period(date(y, 3 * q - 2, 1), _month_end(y, 3 * q), text, "quarter")
    if m := _MONTH.match(text):
        y, mo = int(m[1]), int(m[2])
        return Period(date(y, mo, 1), _month_end(y, mo), text, "month")
    raise ValidationFailed(f"Invalid period {key!r}: use 2026, 2026-Q3 or 2026-07", field=field)


def containing(day: date, kind: str) -> Period:
    if kind == "year":
        return parse(str(day.year))
    if kind == "quarter":
        return parse(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    return parse(f"{day.year}-{day.month:02d}")


def bounds(period: "Period") -> tuple[datetime, datetime]:
    """The period as a half-open UTC interval ``[start 00:00, day after end 00:00)``."""
    return (
        datetime.combine(period.start, time(), UTC),
        datetime.combine(period.end + timedelta(days=1), time(), UTC),
    )
