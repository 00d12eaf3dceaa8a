"""The suite's clock: ``PORTAL_TEST_NOW`` moves every "now" of the test run, in this process and in the
portal processes the tests start, so that the suite can be run on any date.

``PORTAL_TEST_NOW`` is an instant (``2027-12-29T17:59+09:00``), a day (``2028-02-29``: 00:00 in Tokyo) or a
number of days from today (``+400d``). The clock keeps ticking from there. Child processes inherit the
same offset from the real clock through ``PORTAL_TEST_CLOCK_OFFSET`` and ``tests/clock_site``.

A test that needs one particular moment sets it with time-machine's ``time_machine`` fixture
(``time_machine.move_to(jst(2026, 11, 25, 10, 0))``), which works inside the shifted clock too.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from portal.clock import TOKYO, utcnow

OFFSET_VARIABLE = "PORTAL_TEST_CLOCK_OFFSET"
SITE = str(Path(__file__).resolve().parent / "clock_site")
_traveller: time_machine.travel | None = None


def destination(value: str, real_now: datetime) -> datetime:
    """The moment ``PORTAL_TEST_NOW`` names. :raises ValueError: when it names none."""
    value = value.strip()
    relative = re.fullmatch(r"([+-]\d+)d", value)
    if relative:
        return real_now + timedelta(days=int(relative.group(1)))
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TOKYO)
    return moment.astimezone(UTC)


def start(value: str | None) -> datetime | None:
    """Move this process's clock (and its future children's) to ``value``; the moment, or None."""
    global _traveller
    if not value:
        return None
    # Before the clock moves, portal.clock's "now" is the machine's: the offset is measured from it.
    real_now = utcnow()
    target = destination(value, real_now)
    os.environ[OFFSET_VARIABLE] = repr((target - real_now).total_seconds())
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SITE, os.environ.get("PYTHONPATH")]))
    _traveller = time_machine.travel(target, tick=True)
    _traveller.start()
    start_ticking()
    return target


def start_ticking() -> None:
    """time-machine's ticking clock starts to run at its first reading, not at ``start()``: read it now.
    Otherwise each process's clock would lag behind by however long it took to first ask for the time, and
    two portal processes would disagree by seconds (a session cookie signed by one looks "from the future"
    to the other, which itsdangerous refuses)."""
    time.time()


def jst(*parts: int) -> datetime:
    """An aware datetime in Tokyo: ``jst(2026, 11, 25, 10, 0)``."""
    return datetime(*parts, tzinfo=TOKYO)
