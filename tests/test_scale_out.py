"""The production layout, exercised: two app instances (gunicorn, two workers each, different ports) and two
mail workers, all on one PostgreSQL database, with the rate limits in Redis.

Checks that a session cookie from one instance works on the other, that a learner's answers alternate
between the instances without one being lost, that the login limit is shared, that every queued email
goes out exactly once through a real SMTP server, and that /metrics adds up every gunicorn worker.

Runs in the PostgreSQL pass only (``PORTAL_TEST_BACKEND=postgres``; `.ci/run` starts Redis).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal.extensions import db
from portal.models import Attempt, AttemptAnswer, OutboxMessage, OutboxStatus, Role, utcnow
from portal.tenancy import unscoped
from tests.conftest import PASSWORD, csrf_token_from
from tests.test_mail_worker import queue
from tests.training_helpers import add_course, assignment_of, deliver

requests = pytest.importorskip("requests")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LEARNERS = 4
QUESTIONS = 6
EMAILS = 60


def _redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


pytestmark = [
    pytest.mark.skipif(
        os.environ.get("PORTAL_TEST_BACKEND") != "postgres",
        reason="several instances need a shared server database: runs in the PostgreSQL pass",
    ),
    pytest.mark.skipif(not _redis_answers(), reason=f"Redis does not answer at {REDIS_URL}"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code in (200, 503)
    except requests.RequestException:
        return False


@pytest.fixture
def cluster(app, smtp, tmp_path):
    """Two gunicorn instances and two workers on the test database; yields the two base URLs."""
    env = {
        **os.environ,
        "PORTAL_ENV": "development",
        "PORTAL_SECRET_KEY": secrets.token_urlsafe(32),
        "PORTAL_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTAL_RATELIMIT_STORAGE_URI": REDIS_URL,
        # A fresh namespace in Redis for this run, so that earlier runs' counters do not count.
        "PORTAL_RATELIMIT_KEY_PREFIX": f"portal-test-{secrets.token_hex(4)}",
        "PORTAL_ARGON2_TIME_COST": str(app.config["ARGON2_TIME_COST"]),
        "PORTAL_ARGON2_MEMORY_COST": str(app.config["ARGON2_MEMORY_COST"]),
        "PORTAL_ARGON2_PARALLELISM": str(app.config["ARGON2_PARALLELISM"]),
        "PORTAL_MAIL_SERVER": "127.0.0.1",
        "PORTAL_MAIL_PORT": str(smtp.port),
        "PORTAL_MAIL_BATCH_SIZE": "5",
        "PORTAL_WORKER_POLL_SECONDS": "0.2",
        "PORTAL_METRICS_ALLOWED_NETWORKS": "127.0.0.1/32",
        "PORTAL_BASE_URL": "http://portal.test",
    }
    env.pop("PORTAL_TEST_BACKEND", None)
    processes, urls = [], []
    try:
        for n in range(2):
            port = _free_port()
            metrics_dir = tmp_path / f"metrics-{n}"
            metrics_dir.mkdir()
            processes.append(subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                 "wsgi:app"],
                cwd=ROOT, env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"gunicorn-{n}.log", "w"),  # noqa: SIM115
            ))
            urls.append(f"http://127.0.0.1:{port}")
        for n in range(2):
            processes.append(subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"worker-{n}.log", "w"),  # noqa: SIM115
            ))
        for url in urls:
            _wait_until(lambda url=url: _answers(url + "/healthz"), 90, f"{url} to start")
        yield urls
    finally:
        for log in sorted(tmp_path.glob("*.log")):
            tail = log.read_text(errors="replace")[-3000:]
            if "Traceback" in tail or "Error" in tail:
                print(f"--- {log.name}\n{tail}")
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _sign_in(session, base: str, email: str, password: str = PASSWORD):
    token = csrf_token_from(session.get(base + "/login").text)
    return session.post(base + "/login", data={"email": email, "password": password, "csrf_token": token},
                        allow_redirects=False)


def _take_test(session, urls, assignment_id: int, learner: int, chosen: dict, errors: list) -> None:
    """Start, answer every question and finish, each request on the other instance than the one before."""
    last = None

    def track(response):
        nonlocal last
        last = response
        return response

    try:
        calls = iter(range(10_000))

        def base():
            return urls[(next(calls) + learner) % 2]

        page = track(session.get(f"{base()}/me/training/{assignment_id}"))
        started = track(session.post(f"{base()}/me/training/{assignment_id}/start",
                               data={"csrf_token": csrf_token_from(page.text)}, allow_redirects=False))
        assert started.status_code == 303, started.status_code
        attempt_url = started.headers["Location"].rsplit("/", 1)[0]
        for number in range(1, QUESTIONS + 1):
            page = track(session.get(f"{base()}{attempt_url}/{number}"))
            assert page.status_code == 200, page.status_code
            form = BeautifulSoup(page.text, "html.parser")
            question_id = int(form.find("input", {"name": "question_id"})["value"])
            choices = [int(i["value"]) for i in form.find_all("input", {"name": "choice"})]
            choice = choices[(number + learner) % len(choices)]
            chosen[question_id] = choice
            saved = track(session.post(f"{base()}{attempt_url}/answer", allow_redirects=False, data={
                "csrf_token": csrf_token_from(page.text), "number": number, "question_id": question_id,
                "choice": choice,
            }))
            assert saved.status_code == 303, saved.status_code
        review = track(session.get(f"{base()}{attempt_url}/review"))
        assert review.status_code == 200, review.status_code
        finished = track(session.post(f"{base()}{attempt_url}/finish",
                                      data={"csrf_token": csrf_token_from(review.text)}, allow_redirects=False))
        assert finished.status_code == 303, finished.status_code
    except Exception as exc:  # reported by the main thread, with the response it came from
        where = "before any response"
        if last is not None:
            hops = " -> ".join(f"{r.status_code} {r.request.method} {r.url}" for r in [*last.history, last])
            title = BeautifulSoup(last.text, "html.parser").title
            flashes = [p.get_text(" ", strip=True) for p in BeautifulSoup(last.text, "html.parser").select("p.flash")]
            where = f"{hops} (title {title.string if title else None!r}, messages {flashes})"
        errors.append(f"learner {learner}: {exc!r} after {where}")


def _sample(body: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(prefix))


def test_two_instances_and_two_workers_share_one_database_and_redis(
    app, run_in_app, make_org, make_user, smtp, cluster
):
    a, b = cluster
    org = make_org()
    admin = make_user(Role.ORG_ADMIN, org, mfa=False)
    learners = [make_user(Role.LEARNER, org, email=f"scale{i}@example.com") for i in range(LEARNERS)]
    course_id = run_in_app(lambda: add_course(organization_id=org.id, questions=QUESTIONS).id)
    delivery_id = run_in_app(lambda: deliver(admin, course_id).id)
    assignments = [run_in_app(lambda u=u: assignment_of(delivery_id, u.id).id) for u in learners]

    # Sessions: signed in on one instance, the same cookie works on the other (and in turn).
    sessions = []
    for i, learner in enumerate(learners):
        session = requests.Session()
        first, second = (a, b) if i % 2 == 0 else (b, a)
        assert _sign_in(session, first, learner.email).status_code == 303
        home = session.get(second + "/me/", allow_redirects=False)
        assert home.status_code == 200, f"the session of {first} is not accepted by {second}"
        sessions.append(session)

    # Answers: every learner at once, each request on the other instance; none may be lost.
    chosen = [{} for _ in learners]
    errors: list[str] = []
    threads = [
        threading.Thread(target=_take_test, args=(sessions[i], cluster, assignments[i], i, chosen[i], errors))
        for i in range(LEARNERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []

    def saved_answers():
        rows = {}
        for i, assignment_id in enumerate(assignments):
            attempt = db.session.scalar(select(Attempt).where(Attempt.assignment_id == assignment_id))
            answers = db.session.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id))
            rows[i] = (attempt.state, {x.question_id: x.choice_ids for x in answers})
        return rows

    for i, (state, answers) in run_in_app(saved_answers).items():
        assert state == "finished"
        assert answers == {q: [c] for q, c in chosen[i].items()}
        assert len(answers) == QUESTIONS

    # The per-account login limit (5 failures) counts across both instances: 3 on A, 2 on B, then locked on both.
    target = learners[0].email
    attacker = requests.Session()
    for n in range(5):
        assert _sign_in(attacker, (a, b)[n % 2], target, "wrong password 12345").status_code == 200
    assert _sign_in(attacker, a, target, "wrong password 12345").status_code == 429
    assert _sign_in(requests.Session(), b, target).status_code == 429

    # Email: whatever the delivery queued plus 60 more; the two workers send each exactly once.
    queue(app, EMAILS, to="many@example.com", org_id=org.id, key_prefix="scale-out")

    def pending() -> int:
        """Due rows not yet sent (the delivery's invitations may wait for business hours: not counted)."""
        with app.app_context(), unscoped("the test reads and writes rows directly"):
            count = len(db.session.scalars(select(OutboxMessage.id).where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= utcnow())).all())
            db.session.rollback()
            return count

    _wait_until(lambda: pending() == 0, 90, "the workers to send what is due")
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT)).all()
        expected_ids = {m.message_id for m in sent}
    received = Counter(m["Message-ID"] for m in smtp.received())
    assert len(sent) >= EMAILS
    assert set(received) == expected_ids
    assert [mid for mid, n in received.items() if n > 1] == []

    # Monitoring: healthy on both; /metrics adds up both gunicorn workers of an instance.
    for url in cluster:
        health = requests.get(url + "/healthz", timeout=5)
        assert health.status_code == 200, health.text
    for _ in range(12):
        requests.get(a + "/healthz", timeout=5)
    body = requests.get(a + "/metrics", timeout=5).text
    count = _sample(body, 'portal_request_duration_seconds_count{endpoint="monitoring.healthz"')
    # 12 above, 1 just before, and the start-up polls: all of them, whichever worker answered.
    assert count >= 13
    assert _sample(body, 'portal_outbox_messages{status="sent"}') == len(sent)
    assert _sample(body, "portal_workers_running") == 2
