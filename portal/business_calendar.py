"""The support desk's business calendar (terms Art. 10) and the one function that computes a due time.

Business hours are 9:00-18:00 Asia/Tokyo on business days. A business day is a weekday that is not a
Japanese national holiday (from the ``holidays`` library, which includes 振替休日 and 国民の休日), not in
the year-end break (12/29-1/3) and not in a break the operator set (a summer break, say).

"2 business days" means :data:`PROMISE` = 18 business hours (2 x 9 h): a question that arrives at 10:00
on a Tuesday is due at 10:00 on Thursday; one that arrives out of hours starts counting at the next
opening, so a question sent at 3:00 on a holiday is due at 18:00 on the second business day.

Everything here is pure: breaks are passed in, never read from the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

import holidays

from portal.clock import TOKYO

OPENS = time(9, 0)
CLOSES = time(18, 0)
HOURS_PER_DAY = 9
PROMISE = timedelta(hours=2 * HOURS_PER_DAY)
# Year-end break of every year: (month, day) from 12/29 to 1/3 inclusive.
_YEAR_END = {(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)}
# A calendar with breaks that never end would loop for ever; ten years of closed days is a mistake.
_MAX_DAYS = 3660

_JAPAN = holidays.country_holidays("JP")


class Break(NamedTuple):
    """Days the desk is closed, from ``first`` to ``last`` inclusive (Tokyo dates)."""

    first: date
    last: date


def is_business_day(day: date, breaks: Iterable[Break] = ()) -> bool:
    if day.weekday() >= 5 or day in _JAPAN or (day.month, day.day) in _YEAR_END:
        return False
    return not any(b.first <= day <= b.last for b in breaks)


def is_business_time(moment: datetime, breaks: Iterable[Break] = ()) -> bool:
    """Whether the desk is open at ``moment`` (an aware datetime)."""
    local = _to_tokyo(moment)
    return is_business_day(local.date(), tuple(breaks)) and OPENS <= local.time() < CLOSES


def add_business_time(start: datetime, duration: timedelta, breaks: Iterable[Break] = ()) -> datetime:
    """The moment when ``duration`` of business time has passed since ``start``, in UTC.

    Time before the next opening does not count, so an out-of-hours ``start`` counts from the next
    opening. A duration that ends exactly at closing time ends at 18:00 (not at 9:00 the next day).

    :raises ValueError: for a naive ``start``, a negative duration or a calendar with no business day
        in ten years.
    """
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    breaks = tuple(breaks)
    cursor = _next_open_moment(_to_tokyo(start), breaks)
    remaining = duration
    for _ in range(_MAX_DAYS):
        closing = datetime.combine(cursor.date(), CLOSES, tzinfo=TOKYO)
        available = closing - cursor
        if remaining <= available:
            return (cursor + remaining).astimezone(UTC)
        remaining -= available
        cursor = _next_open_moment(closing, breaks)
    raise ValueError("no end found within ten years")


def due_at(received_at: datetime, breaks: Iterable[Break] = (), budget: timedelta = PROMISE) -> datetime:
    """When the answer to a message received at ``received_at`` is due under the promise."""
    return add_business_time(received_at, budget, breaks)


def business_time_between(start: datetime, end: datetime, breaks: Iterable[Break] = ()) -> timedelta:
    """How much business time lies between two moments (zero when ``end`` is not after ``start``)."""
    breaks = tuple(breaks)
    end_local = _to_tokyo(end)
    cursor = _next_open_moment(_to_tokyo(start), breaks)
    total = timedelta(0)
    for _ in range(_MAX_DAYS):
        if cursor >= end_local:
            return total
        closing = datetime.combine(cursor.date(), CLOSES, tzinfo=TOKYO)
        total += min(closing, end_local) - cursor
        cursor = _next_open_moment(closing, breaks)
    raise ValueError("no end found within ten years")


def _to_tokyo(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; use an aware datetime")
    return moment.astimezone(TOKYO)


def _next_open_moment(local: datetime, breaks: tuple[Break, ...]) -> datetime:
    """``local`` itself when the desk is open then, else the next opening (9:00 of a business day)."""
    day = local.date()
    if is_business_day(day, breaks) and local.time() < CLOSES:
        return max(local, datetime.combine(day, OPENS, tzinfo=TOKYO))
    for _ in range(_MAX_DAYS):
        day += timedelta(days=1)
        if is_business_day(day, breaks):
            return datetime.combine(day, OPENS, tzinfo=TOKYO)
    raise ValueError("no business day within ten years")
