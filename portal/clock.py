"""The one source of "now", and the calendar arithmetic of Tokyo.

Code under test takes the time from here (``utcnow()``) or from a ``now`` argument its caller passes in;
nothing else reads the machine's clock. Tests move this clock with time-machine (``tests/clock.py``): a
single test with the ``clock`` fixture, the whole suite with ``PORTAL_TEST_NOW`` (see the README).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value):
    """An aggregate's datetime (``min``, ``max``), timezone-aware: an aggregate bypasses the column's UTC type
    on some backends (SQLite), so a naive value, or its text, is UTC. Anything else comes back as it is."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def epoch_seconds(now: datetime | None = None) -> int:
    """Whole seconds since the Unix epoch (for signed tokens and idempotency keys)."""
    return int((now or utcnow()).timestamp())


def today_in_tokyo(now: datetime | None = None) -> date:
    """The calendar day in Tokyo at ``now`` (default: the current instant)."""
    return (now or utcnow()).astimezone(TOKYO).date()


def this_month(now: datetime | None = None) -> date:
    """The first day of the current month in Tokyo."""
    return today_in_tokyo(now).replace(day=1)


def tokyo_to_utc(value: datetime | None) -> datetime | None:
    """A naive datetime typed in Tokyo time (a datetime-local input) as an aware UTC datetime."""
    return value.replace(tzinfo=TOKYO).astimezone(UTC) if value else None


def add_months_to_date(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day (31 Jan + 1 = 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_months(moment: datetime, months: int) -> datetime:
    """The same Tokyo day and time ``months`` later (the 31st becomes the month's last day)."""
    local = moment.astimezone(TOKYO)
    day = add_months_to_date(local.date(), months)
    return local.replace(year=day.year, month=day.month, day=day.day).astimezone(moment.tzinfo)


def month_index(month: date) -> int:
    """Months since year 0 (January of year 0 is 0): month arithmetic as integer arithmetic."""
    return month.year * 12 + month.month - 1


def shift_month(month: date, months: int) -> date:
    """The first day of the month ``months`` after the month of ``month``."""
    index = month_index(month) + months
    return date(index // 12, index % 12 + 1, 1)
