"""Mail throughput: queue 10,000 messages, deliver them with one worker to a local aiosmtpd, print msg/s.

    .venv/bin/python bench/mail_throughput.py            # SQLite, and PostgreSQL if PORTAL_TEST_DATABASE_URL is set
    .venv/bin/python bench/mail_throughput.py --count 2000

The SMTP sink runs in its own process (as a real server would), accepts everything and counts.
PostgreSQL runs against PORTAL_TEST_DATABASE_URL, whose schema is dropped and recreated: point it at a
scratch database. Not a test: it asserts nothing and takes about a minute.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _database import empty_schema  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_sink(port: int) -> None:
    from aiosmtpd.controller import Controller

    class Count:
        received = 0

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            Count.received += 1
            return "250 OK"

    controller = Controller(Count(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        controller.stop()
        print(f"received {Count.received}", flush=True)


def bench(url: str, port: int, count: int) -> tuple[float, float]:
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from portal import create_app
    from portal.config import DevConfig
    from portal.extensions import db
    from portal.models import OutboxMessage, OutboxStatus
    from portal.outbox import queue_email
    from portal.tenancy import unscoped
    from portal.worker import Worker

    app = create_app(
        DevConfig,
        SECRET_KEY="bench-only-secret-key-0123456789",
        SQLALCHEMY_DATABASE_URI=url,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        BASE_URL="https://portal.example.jp",
    )
    with app.app_context(), unscoped("the benchmark seeds and reads rows directly"):
        empty_schema(db.engine)
        upgrade()
        started = time.perf_counter()
        for i in range(count):
            queue_email(
                "password_reset",
                f"learner{i:05d}@example.com",
                idempotency_key=f"bench:{i}",
                user=SimpleNamespace(name="佐藤 翔太", email=f"learner{i:05d}@example.com"),
                reset_url=f"https://portal.example.jp/password/reset/{i:040d}",
                hours=1,
            )
        db.session.commit()
        queue_rate = count / (time.perf_counter() - started)

        worker = Worker()
        started = time.perf_counter()
        result = worker.run_once()
        elapsed = time.perf_counter() - started
        sent = db.session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT))
        assert result.sent == sent == count, (result, sent)
        db.session.remove()
        db.engine.dispose()
    return queue_rate, count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        run_sink(args.sink)
        return

    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, __file__, "--sink", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert sink.stdout.readline().strip() == "ready"
    backends = [("SQLite", None)]
    if os.environ.get("PORTAL_TEST_DATABASE_URL"):
        backends.append(("PostgreSQL", os.environ["PORTAL_TEST_DATABASE_URL"]))
    print(f"{args.count} messages, one worker, batch size from MAIL_BATCH_SIZE, SMTP sink on 127.0.0.1:{port}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, url in backends:
                url = url or f"sqlite:///{tmp}/bench.sqlite3"
                queue_rate, send_rate = bench(url, port, args.count)
                print(f"{name:<11} queued {queue_rate:8.0f} msg/s   delivered {send_rate:8.0f} msg/s", flush=True)
    finally:
        sink.stdin.close()
        print(f"sink: {sink.stdout.read().strip()}")
        sink.wait(timeout=10)


if __name__ == "__main__":
    main()
