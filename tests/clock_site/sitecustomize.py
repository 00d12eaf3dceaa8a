"""Loaded by every Python process the tests start (``tests/clock.py`` puts this folder on PYTHONPATH):
the child's clock runs at the same offset from the real clock as the test run's."""

import os

_offset = os.environ.get("PORTAL_TEST_CLOCK_OFFSET")
if _offset:
    import time
    from datetime import UTC, datetime, timedelta

    import time_machine

    # Runs at interpreter start-up, before the portal can be imported: the machine's clock is read here
    # once, to start this process at the test run's offset from it.

    time_machine.travel(datetime.now(UTC) + timedelta(seconds=float(_offset)), tick=True).start()
    # The ticking clock runs from its first reading (tests/clock.py, start_ticking): read it now, so that
    # every process of the run keeps the same offset, however long its start-up takes.
    time.time()
