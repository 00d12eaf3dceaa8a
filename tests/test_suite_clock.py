"""The suite's own clock (tests/clock.py): PORTAL_TEST_NOW's forms, and child processes that keep the run's
offset however slowly they start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests import clock as suite_clock
from tests.clock import destination, jst

REAL = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)


def test_an_instant_a_day_and_a_number_of_days_name_their_moment():
    assert destination("2027-12-29T17:59+09:00", REAL) == jst(2027, 12, 29, 17, 59)
    assert destination("2028-02-29", REAL) == jst(2028, 2, 29, 0, 0)
    assert destination("+400d", REAL) == REAL + timedelta(days=400)
    assert destination(" -3d ", REAL) == REAL - timedelta(days=3)
    with pytest.raises(ValueError):
        destination("next tuesday", REAL)


def test_a_child_that_starts_slowly_keeps_the_runs_offset():
    """A portal process that first asks for the time a while after it started still agrees with this one
    (time-machine's clock would otherwise stand still until that first question)."""
    env = {
        **os.environ,
        suite_clock.OFFSET_VARIABLE: os.environ.get(suite_clock.OFFSET_VARIABLE, "0"),
        "PYTHONPATH": os.pathsep.join(filter(None, [suite_clock.SITE, os.environ.get("PYTHONPATH")])),
    }
    pause = 1.0
    before = time.time()
    child = subprocess.run(
        [sys.executable, "-c", f"import time; time.sleep({pause}); print(repr(time.time()))"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )
    after = time.time()
    seen = float(child.stdout)
    # The child read its clock at least `pause` seconds after `before`, and before `after`, on one timeline.
    assert before + pause - 0.05 <= seen <= after + 0.05
