"""The real ``flask --app wsgi worker`` process: killed or stopped mid-batch, it loses nothing;
and the password reset email goes all the way through it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from portal.extensions import db
from portal.models import OutboxStatus, WorkerHeartbeat, utcnow
from tests.conftest import PASSWORD, csrf_token_from, login
from tests.test_mail_worker import queue, rows, run_worker

ROOT = Path(__file__).resolve().parent.parent


def start_worker_process(app, smtp, *extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PORTAL_SECRET_KEY": "worker-subprocess-test-key-0123456789",
        "PORTAL_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTAL_MAIL_SERVER": "127.0.0.1",
        "PORTAL_MAIL_PORT": str(smtp.port),
        "PORTAL_MAIL_BATCH_SIZE": "25",
        "PORTAL_WORKER_POLL_SECONDS": "0.2",
        # The production configuration refuses to start without staff addresses that can receive mail.
        "PORTAL_SUPPORT_EMAIL": "support-desk@staff.example.com",
        "PORTAL_ONCALL_EMAIL": "oncall@staff.example.com",
        "PORTAL_OPERATOR_EMAIL": "security@staff.example.com",
    }
    env.pop("PORTAL_ENV", None)
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# How long a worker process may take before the test calls it hung. Generous on purpose: on a loaded 2-core
# machine (CI beside other test runs) starting Python and the portal alone can take most of a minute. A
# bound on a hang, not a measure of speed: nothing here asserts how fast the worker is.
PATIENCE = 300.0


def wait_until(condition, timeout=PATIENCE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_a_worker_killed_mid_batch_loses_no_row(app, smtp):
    """SIGKILL at any moment: every row still ends sent. A row can reach the server twice only if the
    kill fell between the server's acceptance and the commit of "sent"; both copies then carry the
    row's Message-ID, and at most one row (the one in hand) can be affected."""
    ids = queue(app, 120)
    smtp.handler.data_delay = 0.01
    process = start_worker_process(app, smtp)
    try:
        wait_until(lambda: len(smtp.received()) >= 30)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    before = rows(app)
    assert any(r.status == OutboxStatus.PENDING for r in before), "the kill should land mid-batch"
    # A second worker takes over once the dead worker's lease has run out.
    lease = timedelta(seconds=app.config["MAIL_LEASE_SECONDS"])
    smtp.handler.data_delay = 0
    run_worker(app, at=utcnow() + lease + timedelta(seconds=1))
    after = rows(app)
    assert [r.id for r in after] == ids
    assert {r.status for r in after} == {OutboxStatus.SENT}
    counts = smtp.handler.message_ids()
    assert set(counts) == {r.message_id for r in after}
    duplicates = [mid for mid, n in counts.items() if n > 1]
    assert len(duplicates) <= 1 and max(counts.values()) <= 2


def test_sigterm_finishes_the_message_in_hand_and_hands_the_rest_back(app, smtp):
    queue(app, 120)
    smtp.handler.data_delay = 0.01
    process = start_worker_process(app, smtp)
    try:
        wait_until(lambda: len(smtp.received()) >= 20)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=PATIENCE)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err.decode()
    assert b"stopped" in out
    left = rows(app)
    assert any(r.status == OutboxStatus.PENDING for r in left), "SIGTERM should land mid-batch"
    # Nothing stays leased: the stopped worker gave its unsent rows back at once.
    assert {r.leased_by for r in left} == {None}
    with app.app_context():
        assert db.session.scalar(select(WorkerHeartbeat.state)) == "stopped"
    smtp.handler.data_delay = 0
    run_worker(app)
    assert {r.status for r in rows(app)} == {OutboxStatus.SENT}
    counts = smtp.handler.message_ids()
    assert len(counts) == 120 and set(counts.values()) == {1}


def test_worker_once_delivers_and_exits(app, smtp):
    queue(app, 3)
    process = start_worker_process(app, smtp, "--once")
    out, err = process.communicate(timeout=PATIENCE)
    assert process.returncode == 0, err.decode()
    assert b"sent 3" in out
    assert len(smtp.received()) == 3


def test_password_reset_email_goes_through_the_worker_and_its_link_works(app, client, smtp, world):
    learner = world["admin_a"]
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    response = client.post("/password/forgot", data={"email": learner.email, "csrf_token": token})
    assert response.status_code == 303
    assert smtp.received() == []  # the request only queued it
    run_worker(app)  # (the world's overdue invoice also sends the operator an inbox email)
    [received] = [m for m in smtp.received() if m["To"] == learner.email]
    assert received["Subject"] == "【セキュトレ・セキュレジ】パスワード再設定のご案内"
    text = received.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"http://portal\.test(/password/reset/\S+)", text).group(1)
    page = client.get(link)
    assert page.status_code == 200
    new_password = "a brand new passphrase for 2027"
    response = client.post(
        link,
        data={
            "new_password": new_password,
            "confirm_password": new_password,
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    assert response.status_code == 303
    fresh = app.test_client()
    assert login(fresh, learner.email, PASSWORD).status_code == 200
    assert login(fresh, learner.email, new_password).status_code == 303
