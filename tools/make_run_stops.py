"""Check that Ctrl-C stops everything `make run` started: run it as a terminal does (its own process group,
SIGINT at its default action), press Ctrl-C (SIGINT to the group), and list what is still running after
``--wait`` seconds. Exits 1 when a process is left (it is then killed) or one crashed on the way out. Not part
of `make test`: it starts the real `make run` in this checkout (its instance/ folder, other ports), about a
minute.

Usage: python3 tools/make_run_stops.py [--wait 10]

Found on 2026-12-07: the recipe's ``trap 'kill 0' INT TERM EXIT`` ran again for the SIGTERM that ``kill 0`` sends
the shell itself, without end under dash; the storm of SIGTERMs crashed one Python process and left
``flask mail-in`` running on its port.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTS = {"PORT": "5079", "MAIL_PORT": "8082", "MAIL_IN_PORT": "8083"}


def _as_a_terminal_does() -> None:
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a shell's `&` would leave it ignored


def _group(pgid: int) -> str:
    return subprocess.run(["ps", "-o", "pid=,stat=,args=", "-g", str(pgid)],  # noqa: S603, S607 - fixed args
                          capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=10, help="seconds to wait after Ctrl-C")
    args = parser.parse_args()
    log = open(ROOT / "instance" / "make-run-stops.log", "w")  # noqa: SIM115 - kept open for the child
    make = subprocess.Popen(["make", "run"], cwd=ROOT, env={**os.environ, **PORTS}, stdout=log,  # noqa: S603, S607
                            stderr=subprocess.STDOUT, preexec_fn=_as_a_terminal_does)  # noqa: PLW1509
    pgid = os.getpgid(make.pid)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORTS['PORT']}/healthz", timeout=2):  # noqa: S310
                break
        except OSError:
            time.sleep(1)
    else:
        print("make run did not answer within 300 s; see instance/make-run-stops.log")
        os.killpg(pgid, signal.SIGKILL)
        return 1
    time.sleep(5)  # the worker and the listeners up too
    os.killpg(pgid, signal.SIGINT)
    time.sleep(args.wait)
    make.poll()  # reap make itself
    left = "\n".join(line for line in _group(pgid).splitlines() if "<defunct>" not in line)
    if left:
        print(f"still running {args.wait:g} s after Ctrl-C (now killed):\n{left}")
        os.killpg(pgid, signal.SIGKILL)
        return 1
    log.close()
    crashed = [line for line in (ROOT / "instance" / "make-run-stops.log").read_text(errors="replace").splitlines()
               if any(sign in line for sign in ("Segmentation fault", "Fatal Python error", "lost sys.stderr"))]
    if crashed:
        print("a process crashed while stopping (instance/make-run-stops.log):\n" + "\n".join(crashed))
        return 1
    print(f"Ctrl-C stopped every process of make run within {args.wait:g} s, none crashed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
