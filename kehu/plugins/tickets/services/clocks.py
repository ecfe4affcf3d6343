"""SLA clocks on business-hours calendars (服务标准).

Pure functions, no database: a ``BusinessCalendar`` (weekly hours, holidays, make-up working
days, time zone) measures business time; pauses (e.g. while a ticket waits for the customer)
stop the clock. Deadlines are derived from a ticket's status history, so changing a policy and
recomputing gives the new deadlines.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]
HORIZON = timedelta(days=3 * 366)  # a deadline further away than this is a calendar error

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIDNIGHT = time(0)  # as a closing time: the end of the day ("24:00" in settings)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("SLA clocks need time-zone aware datetimes")
    return value


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours per weekday (local time), holidays and make-up working days (调休: a
    weekend day worked with the given hours), in one IANA time zone."""

    timezone: str = "Asia/Shanghai"
    hours: dict[int, tuple[tuple[time, time], ...]] = field(
        default_factory=lambda: {d: ((time(9), time(18)),) for d in range(5)}
    )
    holidays: frozenset[date] = frozenset()
    workdays: dict[date, tuple[tuple[time, time], ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises for an unknown zone
        for spans in [*self.hours.values(), *self.workdays.values()]:
            for start, end in spans:
                if not (start < end or end == MIDNIGHT):
                    raise ValueError(f"Business hours {start}-{end}: start must be before end")
        if not any(self.hours.values()) and not self.workdays:
            raise ValueError("A business calendar needs some working hours")

    @classmethod
    def from_config(
        cls,
        timezone: str,
        weekly: dict[str, list[str]],
        holidays: Iterable[str] = (),
        workdays: dict[str, list[str]] | None = None,
    ) -> "BusinessCalendar":
        """From settings: ``{"mon": ["09:00-12:00", "13:00-18:00"], ...}``, ISO dates."""

        def spans(items: list[str]) -> tuple[tuple[time, time], ...]:
            out = []
            for item in items:
                start, _, end = (part.strip() for part in item.partition("-"))
                close = MIDNIGHT if end == "24:00" else time.fromisoformat(end)
                out.append((time.fromisoformat(start), close))
            return tuple(sorted(out))

        unknown = set(weekly) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"Unknown weekday(s) {sorted(unknown)}; use {', '.join(WEEKDAYS)}")
        return cls(
            timezone=timezone,
            hours={WEEKDAYS.index(d): spans(v) for d, v in weekly.items() if v},
            holidays=frozenset(date.fromisoformat(d) for d in holidays),
            workdays={date.fromisoformat(d): spans(v) for d, v in (workdays or {}).items()},
        )

    def _day_spans(self, day: date) -> tuple[tuple[time, time], ...]:
        if day in self.workdays:
            return self.workdays[day]
        if day in self.holidays:
            return ()
        return self.hours.get(day.weekday(), ())

    def windows(self, start: datetime) -> Iterator[Interval]:
        """Business intervals (UTC) from ``start`` onwards, in order."""
        zone = ZoneInfo(self.timezone)
        start = _aware(start).astimezone(UTC)
        day = start.astimezone(zone).date() - timedelta(days=1)  # spans may cross midnight UTC
        limit = start + HORIZON
        while True:
            for open_, close in self._day_spans(day):
                a = datetime.combine(day, open_, tzinfo=zone).astimezone(UTC)
                end_day = day + timedelta(days=1) if close == MIDNIGHT else day
                b = datetime.combine(end_day, close, tzinfo=zone).astimezone(UTC)
                if b > start:
                    yield max(a, start), b
            day += timedelta(days=1)
            if datetime.combine(day, time(), tzinfo=zone) > limit:
                raise ValueError("No business time within three years: check the calendar")

    def add(
        self, start: datetime, duration: timedelta, pauses: Iterable[Interval] = ()
    ) -> datetime:
        """The instant at which ``duration`` of business time (not counting ``pauses``) has
        passed since ``start``. A zero duration gives the first business instant."""
        if duration < timedelta(0):
            raise ValueError("duration must not be negative")
        remaining = duration
        for a, b in _subtract(self.windows(start), _normalise(pauses)):
            if b - a >= remaining and (remaining or b > a):
                return a + remaining
            remaining -= b - a
        raise AssertionError("unreachable: windows() is endless or raises")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime, pauses: Iterable[Interval] = ()) -> timedelta:
        """Business time between ``start`` and ``end`` (zero if ``end`` is not later)."""
        end = _aware(end).astimezone(UTC)
        total = timedelta(0)
        if end <= _aware(start):
            return total
        for a, b in _subtract(self.windows(start), _normalise(pauses)):
            if a >= end:
                break
            total += min(b, end) - a
        return total


def _normalise(pauses: Iterable[Interval]) -> list[Interval]:
    """Sorted, merged, UTC pause intervals; an open pause ends at ``datetime.max``."""
    items = sorted(
        (_aware(a).astimezone(UTC), _aware(b).astimezone(UTC)) for a, b in pauses if b > a
    )
    merged: list[Interval] = []
    for a, b in items:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _subtract(windows: Iterator[Interval], pauses: list[Interval]) -> Iterator[Interval]:
    """``windows`` minus ``pauses`` (both sorted)."""
    i = 0
    for a, b in windows:
        while i < len(pauses) and pauses[i][1] <= a:
            i += 1
        j = i
        while a < b:
            if j >= len(pauses) or pauses[j][0] >= b:
                yield a, b
                break
            pa, pb = pauses[j]
            if pa > a:
                yield a, pa
            a = max(a, pb)
            j += 1


OPEN_END = datetime.max.replace(tzinfo=UTC)


def paused_intervals(
    history: list[tuple[datetime, str]], paused_statuses: set[str], now: datetime
) -> list[Interval]:
    """Intervals spent in a paused status (e.g. ``pending_customer``) from a status history
    ``[(at, status), ...]``; a pause still open at ``now`` runs to ``OPEN_END``."""
    out: list[Interval] = []
    ordered = sorted(history, key=lambda h: h[0])
    for (at, status), nxt in zip(ordered, [*ordered[1:], None], strict=True):
        if status in paused_statuses:
            out.append((at, nxt[0] if nxt else OPEN_END))
    return out


@dataclass(frozen=True)
class SlaClock:
    """One SLA target measured on a ticket: due time, business time used, breach flag."""

    target: timedelta
    due_at: datetime | None  # None while paused
    elapsed: timedelta
    remaining: timedelta
    breached: bool
    paused: bool
    met_at: datetime | None


def measure(
    calendar: BusinessCalendar,
    started: datetime,
    target: timedelta,
    pauses: list[Interval],
    now: datetime,
    met_at: datetime | None = None,
) -> SlaClock:
    """Evaluate a target (first response or resolution) at ``now``; ``met_at`` is when it was
    satisfied, if it was (the clock stops there)."""
    end = met_at or now
    paused = met_at is None and any(a <= now < b for a, b in pauses)
    closed = [(a, min(b, end)) for a, b in pauses]
    elapsed = calendar.elapsed(started, end, closed)
    due = None if paused else calendar.add(started, target, closed)
    return SlaClock(
        target, due, elapsed, max(target - elapsed, timedelta(0)), elapsed > target, paused, met_at
    )
