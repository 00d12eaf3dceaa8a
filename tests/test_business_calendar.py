"""The promise of Art. 10 at its edges: 18 business hours, 9:00-18:00 Tokyo, Japanese holidays and breaks."""

from datetime import UTC, date, datetime, timedelta

import pytest

from portal.business_calendar import (
    PROMISE,
    TOKYO,
    Break,
    add_business_time,
    business_time_between,
    due_at,
    is_business_day,
    is_business_time,
)


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


def test_the_promise_is_two_days_of_nine_hours():
    assert timedelta(hours=18) == PROMISE


def test_a_question_in_hours_is_due_two_business_days_later_at_the_same_time():
    assert due_at(jst(2026, 11, 24, 10, 0)) == jst(2026, 11, 26, 10, 0)


def test_the_result_is_utc():
    assert due_at(jst(2026, 11, 24, 10, 0)).tzinfo == UTC


def test_friday_1759_counts_one_minute_then_monday_and_tuesday():
    # 2026-11-13 is a Friday; the following Monday and Tuesday are plain business days.
    assert due_at(jst(2026, 11, 13, 17, 59)) == jst(2026, 11, 17, 17, 59)


def test_friday_1800_is_out_of_hours_and_counts_from_monday_opening():
    assert due_at(jst(2026, 11, 13, 18, 0)) == jst(2026, 11, 17, 18, 0)


def test_a_duration_ending_at_closing_time_ends_at_1800_not_next_morning():
    assert due_at(jst(2026, 11, 24, 9, 0)) == jst(2026, 11, 25, 18, 0)


def test_evening_arrival_starts_counting_at_the_next_opening():
    assert due_at(jst(2026, 11, 24, 19, 30)) == jst(2026, 11, 26, 18, 0)


def test_early_morning_arrival_starts_at_nine():
    assert due_at(jst(2026, 11, 24, 7, 0)) == jst(2026, 11, 25, 18, 0)


def test_the_day_before_golden_week():
    # 2026: 4/29 (Wed) 昭和の日; 5/3-5/5 and the substitute holiday 5/6; 5/2-5/3 weekend.
    assert due_at(jst(2026, 4, 28, 12, 0)) == jst(2026, 5, 1, 12, 0)
    # Friday 5/1 10:00: 8 h that day, then nothing until Thursday 5/7 (9 h), 1 h on Friday 5/8.
    assert due_at(jst(2026, 5, 1, 10, 0)) == jst(2026, 5, 8, 10, 0)


def test_the_year_end_break_from_1229_to_0103():
    # Monday 12/28 15:00: 3 h, then closed until Monday 1/4/2027: 9 h, then 6 h on 1/5.
    assert due_at(jst(2026, 12, 28, 15, 0)) == jst(2027, 1, 5, 15, 0)
    assert not is_business_day(date(2026, 12, 29))
    assert not is_business_day(date(2027, 1, 3))
    assert is_business_day(date(2027, 1, 4))


def test_the_september_holidays_of_2026():
    # 9/21 敬老の日, 9/22 国民の休日, 9/23 秋分の日 follow a weekend.
    for day in (21, 22, 23):
        assert not is_business_day(date(2026, 9, day))
    assert due_at(jst(2026, 9, 18, 14, 0)) == jst(2026, 9, 25, 14, 0)


def test_a_ticket_at_three_in_the_morning_of_a_holiday():
    assert due_at(jst(2026, 9, 21, 3, 0)) == jst(2026, 9, 25, 18, 0)


def test_a_break_the_operator_adds_later_moves_the_due_time():
    received = jst(2026, 8, 12, 10, 0)
    assert due_at(received) == jst(2026, 8, 14, 10, 0)
    summer = [Break(date(2026, 8, 13), date(2026, 8, 14))]
    # Wednesday 8 h, Monday 8/17 9 h, Tuesday 8/18 1 h.
    assert due_at(received, summer) == jst(2026, 8, 18, 10, 0)


def test_business_time_edges():
    assert is_business_time(jst(2026, 11, 24, 9, 0))
    assert is_business_time(jst(2026, 11, 24, 17, 59))
    assert not is_business_time(jst(2026, 11, 24, 18, 0))
    assert not is_business_time(jst(2026, 11, 24, 8, 59))
    assert not is_business_time(jst(2026, 11, 23, 12, 0))  # 勤労感謝の日
    assert not is_business_time(jst(2026, 11, 28, 12, 0))  # Saturday


def test_business_time_between_skips_nights_weekends_and_holidays():
    assert business_time_between(jst(2026, 11, 13, 17, 0), jst(2026, 11, 16, 10, 0)) == timedelta(hours=2)
    assert business_time_between(jst(2026, 11, 24, 12, 0), jst(2026, 11, 24, 11, 0)) == timedelta(0)
    start = jst(2026, 9, 18, 14, 0)
    assert business_time_between(start, due_at(start)) == PROMISE


def test_refuses_naive_times_and_negative_durations():
    with pytest.raises(ValueError):
        due_at(datetime(2026, 11, 24, 10, 0))  # noqa: DTZ001 - deliberately naive
    with pytest.raises(ValueError):
        add_business_time(jst(2026, 11, 24, 10, 0), timedelta(hours=-1))


def test_a_calendar_closed_for_ever_is_refused_not_looped():
    with pytest.raises(ValueError):
        due_at(jst(2026, 11, 24, 10, 0), [Break(date(2026, 1, 1), date(2040, 1, 1))])
