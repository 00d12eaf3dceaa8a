"""portal/clock.py: the one home of "now", Tokyo's calendar and month arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime

from portal.clock import as_utc, month_index, shift_month, this_month, today_in_tokyo, tokyo_to_utc
from portal.demo.inspection_history import months_before
from tests.conftest import BACKEND_INDEPENDENT

pytestmark = BACKEND_INDEPENDENT


def test_tokyos_day_and_month_turn_at_15_00_utc():
    assert today_in_tokyo(datetime(2026, 12, 31, 14, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert today_in_tokyo(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == date(2027, 1, 1)
    assert this_month(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == date(2027, 1, 1)
    assert this_month(datetime(2028, 2, 29, 3, 0, tzinfo=UTC)) == date(2028, 2, 1)


def test_month_arithmetic_crosses_years_both_ways():
    assert month_index(date(2027, 1, 15)) - month_index(date(2026, 12, 1)) == 1
    assert shift_month(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert shift_month(date(2027, 1, 1), -13) == date(2025, 12, 1)
    assert months_before(date(2027, 2, 1), 3) == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]
    assert months_before(date(2027, 2, 1), 0) == []


def test_typed_tokyo_times_and_aggregates_come_back_in_utc():
    assert tokyo_to_utc(datetime(2027, 1, 1, 9, 0)) == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert tokyo_to_utc(None) is None
    assert as_utc("2027-01-01 00:00:00") == datetime(2027, 1, 1, tzinfo=UTC)
    assert as_utc(None) is None
