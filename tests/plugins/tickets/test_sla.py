"""SLA clock arithmetic on business-hours calendars (frozen instants, no database)."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.plugins.tickets.services.clocks import (
    OPEN_END,
    BusinessCalendar,
    measure,
    paused_intervals,
)

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


OFFICE = BusinessCalendar()  # Mon-Fri 09:00-18:00 Asia/Shanghai
LUNCH = BusinessCalendar.from_config(
    "Asia/Shanghai",
    {d: ["09:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
)
# 2026 National Day: Oct 1-7 off, Sat Oct 10 worked (调休)
NATIONAL_DAY = BusinessCalendar(
    holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
    workdays={date(2026, 10, 10): ((time(9), time(18)),)},
)


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "due"),
    [
        (OFFICE, sh(2026, 11, 23, 10), 4 * H, sh(2026, 11, 23, 14)),  # Monday, same day
        (OFFICE, sh(2026, 11, 27, 16), 4 * H, sh(2026, 11, 30, 11)),  # Friday → Monday
        (OFFICE, sh(2026, 11, 28, 12), 1 * H, sh(2026, 11, 30, 10)),  # Saturday start
        (OFFICE, sh(2026, 11, 23, 7), 1 * H, sh(2026, 11, 23, 10)),  # before hours
        (OFFICE, sh(2026, 11, 23, 20), 1 * H, sh(2026, 11, 24, 10)),  # after hours
        (OFFICE, sh(2026, 11, 23, 10), 9 * H, sh(2026, 11, 24, 10)),  # exactly one day
        (OFFICE, sh(2026, 11, 23, 9), 45 * H, sh(2026, 11, 27, 18)),  # a whole week
        (OFFICE, sh(2026, 11, 23, 10), timedelta(0), sh(2026, 11, 23, 10)),
        (OFFICE, sh(2026, 11, 23, 19), timedelta(0), sh(2026, 11, 24, 9)),  # next opening
        (LUNCH, sh(2026, 11, 23, 11, 30), 1 * H, sh(2026, 11, 23, 13, 30)),  # lunch break
        (LUNCH, sh(2026, 11, 23, 12, 15), 1 * H, sh(2026, 11, 23, 14)),  # start in lunch
        (NATIONAL_DAY, sh(2026, 9, 30, 17), 2 * H, sh(2026, 10, 8, 10)),  # over the holiday
        (NATIONAL_DAY, sh(2026, 10, 9, 17), 2 * H, sh(2026, 10, 10, 10)),  # make-up Saturday
        (NATIONAL_DAY, sh(2026, 10, 3, 10), 1 * H, sh(2026, 10, 8, 10)),  # start on holiday
    ],
)
def test_deadline(calendar, start, duration, due) -> None:
    assert calendar.add(start, duration) == due
    if duration:
        assert calendar.elapsed(start, due) == duration


def test_input_in_any_zone_gives_the_same_instant() -> None:
    start = sh(2026, 11, 27, 16)
    assert OFFICE.add(start.astimezone(UTC), 4 * H) == OFFICE.add(start, 4 * H)
    assert OFFICE.add(start, 4 * H).tzinfo == UTC


def test_daylight_saving_change_in_the_calendar_zone() -> None:
    berlin = BusinessCalendar(timezone="Europe/Berlin")
    # Friday 2026-03-27 17:00 CET (UTC+1); clocks go forward on Sunday 29 March (UTC+2)
    start = datetime(2026, 3, 27, 17, tzinfo=BERLIN)
    due = berlin.add(start, 2 * H)
    assert due == datetime(2026, 3, 30, 10, tzinfo=BERLIN)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, tzinfo=UTC)
    # autumn: 25 October 2026 back to UTC+1
    due = berlin.add(datetime(2026, 10, 23, 17, tzinfo=BERLIN), 2 * H)
    assert due.astimezone(UTC) == datetime(2026, 10, 26, 9, tzinfo=UTC)


def test_pauses_stop_the_clock() -> None:
    start = sh(2026, 11, 23, 10)
    pause = [(sh(2026, 11, 23, 11), sh(2026, 11, 23, 15))]
    assert OFFICE.add(start, 4 * H, pause) == sh(2026, 11, 23, 18)
    assert OFFICE.elapsed(start, sh(2026, 11, 23, 18), pause) == 4 * H


def test_pause_over_a_weekend_and_overlapping_pauses() -> None:
    start = sh(2026, 11, 27, 16)  # Friday
    pauses = [
        (sh(2026, 11, 27, 17), sh(2026, 11, 30, 12)),  # Fri 17:00 → Mon 12:00
        (sh(2026, 11, 30, 11), sh(2026, 11, 30, 13)),
    ]  # overlaps: merged to 13:00
    assert OFFICE.add(start, 4 * H, pauses) == sh(2026, 11, 30, 16)


def test_open_pause_means_no_deadline_yet() -> None:
    start = sh(2026, 11, 23, 10)
    history = [(start, "open"), (sh(2026, 11, 23, 11), "pending_customer")]
    now = sh(2026, 11, 24, 12)
    pauses = paused_intervals(history, {"pending_customer"}, now)
    assert pauses == [(sh(2026, 11, 23, 11), OPEN_END)]
    clock = measure(OFFICE, start, 4 * H, pauses, now)
    assert clock.paused and clock.due_at is None
    assert clock.elapsed == 1 * H and clock.remaining == 3 * H and not clock.breached


def test_measure_after_resume_and_breach() -> None:
    start = sh(2026, 11, 23, 10)
    history = [
        (start, "open"),
        (sh(2026, 11, 23, 11), "pending_customer"),
        (sh(2026, 11, 24, 9), "open"),
    ]
    pauses = paused_intervals(history, {"pending_customer"}, sh(2026, 11, 24, 14))
    clock = measure(OFFICE, start, 4 * H, pauses, now=sh(2026, 11, 24, 14))
    assert clock.due_at == sh(2026, 11, 24, 12)
    assert clock.elapsed == 6 * H and clock.breached and clock.remaining == timedelta(0)
    met = measure(
        OFFICE, start, 4 * H, pauses, now=sh(2026, 11, 25, 9), met_at=sh(2026, 11, 24, 11, 30)
    )
    assert not met.breached and met.elapsed == timedelta(hours=3, minutes=30)


def test_policy_change_recomputes_from_the_same_history() -> None:
    start = sh(2026, 11, 23, 10)
    history = [(start, "new")]
    pauses = paused_intervals(history, {"pending_customer"}, start)
    urgent = measure(OFFICE, start, 1 * H, pauses, start)
    normal = measure(OFFICE, start, 8 * H, pauses, start)
    assert urgent.due_at == sh(2026, 11, 23, 11)
    assert normal.due_at == sh(2026, 11, 23, 18)


def test_round_the_clock_calendar() -> None:
    always = BusinessCalendar.from_config(
        "Asia/Shanghai",
        {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )
    start = sh(2026, 11, 28, 23)  # Saturday 23:00
    assert always.add(start, 3 * H) == sh(2026, 11, 29, 2)
    assert always.elapsed(start, sh(2026, 11, 30, 23)) == 48 * H


def test_calendar_validation() -> None:
    with pytest.raises(ValueError, match="Unknown weekday"):
        BusinessCalendar.from_config("Asia/Shanghai", {"monday": ["09:00-18:00"]})
    with pytest.raises(ValueError, match="start must be before end"):
        BusinessCalendar.from_config("Asia/Shanghai", {"mon": ["18:00-09:00"]})
    with pytest.raises(ValueError, match="needs some working hours"):
        BusinessCalendar(hours={})
    with pytest.raises(Exception):  # noqa: B017 - ZoneInfoNotFoundError
        BusinessCalendar(timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="aware"):
        OFFICE.add(datetime(2026, 11, 23, 10), H)
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add(sh(2026, 11, 23, 10), -H)


def test_calendar_with_only_holidays_ahead_fails_clearly() -> None:
    every_day = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(5 * 366))
    with pytest.raises(ValueError, match="No business time"):
        BusinessCalendar(holidays=every_day).add(sh(2026, 1, 1), H)


instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=1, max_value=200 * 60).map(lambda m: timedelta(minutes=m))
ALWAYS = BusinessCalendar.from_config(
    "Europe/Berlin", {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
)
calendars = st.sampled_from(
    [OFFICE, LUNCH, NATIONAL_DAY, BusinessCalendar(timezone="Europe/Berlin"), ALWAYS]
)


@settings(max_examples=200, deadline=None)
@given(calendars, instants, durations)
def test_add_and_elapsed_are_inverse(calendar, start, duration) -> None:
    due = calendar.add(start, duration)
    assert due > start
    assert calendar.elapsed(start, due) == duration
    assert calendar.elapsed(start, due - timedelta(microseconds=1)) < duration


@settings(max_examples=200, deadline=None)
@given(calendars, instants, durations, durations)
def test_elapsed_is_additive(calendar, start, first, second) -> None:
    middle = start + first
    end = middle + second
    assert calendar.elapsed(start, end) == (
        calendar.elapsed(start, middle) + calendar.elapsed(middle, end)
    )


@settings(max_examples=100, deadline=None)
@given(calendars, instants, durations, durations, durations)
def test_a_pause_only_delays(calendar, start, duration, offset, length) -> None:
    pause = [(start + offset, start + offset + length)]
    plain, paused = calendar.add(start, duration), calendar.add(start, duration, pause)
    assert paused >= plain
    assert calendar.elapsed(start, paused, pause) == duration
