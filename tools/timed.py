"""Run a command, then print what it cost: ``LABEL: 5 min 12 s, CPU 298 s (user 281 + sys 17)``.

The CPU time is that of the command and of every process it started and waited for (pytest, the portal and
worker processes the tests start, Chromium). `make test` prints one such line per pass and one for the
whole: on a machine that other work keeps busy the wall time grows, the CPU time does not, so it still
says whether the suite fits its target (README, "The two commands"). Standard library only: it runs before
the virtual environment exists.

Usage: python3 tools/timed.py LABEL -- COMMAND [ARG ...]; exits with the command's status.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    label, command = argv[0], argv[2:]
    start = time.monotonic()
    status = subprocess.call(command)  # noqa: S603 - the Makefile's own command line
    wall = round(time.monotonic() - start)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = usage.ru_utime, usage.ru_stime
    print(f"{label}: {wall // 60} min {wall % 60} s, CPU {user + system:.0f} s (user {user:.0f} + sys {system:.0f})",
          flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
