"""The worker against a real SMTP server (aiosmtpd): delivery, retries, suppression, leases, jobs."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.jobs import REGISTRY, PeriodicJob
from portal.models import (
    AuditEvent,
    JobRun,
    MailAddressFailures,
    MailSuppression,
    OutboxMessage,
    OutboxStatus,
    SuppressionReason,
    utcnow,
)
from portal.outbox import queue_email
from portal.tenancy import unscoped
from portal.worker import Worker, last_heartbeat, retry_delay

JAPANESE_NAME = "山田 花子"


def queue(app, count=1, *, to="hanako@example.com", org_id=None, key_prefix="test"):
    """Queue ``count`` Japanese password-reset emails and commit; returns their ids."""
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        ids = []
        for i in range(count):
            message = queue_email(
                "password_reset",
                to if count == 1 else to.replace("@", f"+{i}@"),
                idempotency_key=f"{key_prefix}:{i}",
                organization_id=org_id,
                user=SimpleNamespace(name=JAPANESE_NAME, email=to),
                reset_url=f"http://portal.test/password/reset/token-{i}",
                hours=1,
            )
            ids.append(message.id)
        db.session.commit()
        return ids


def run_worker(app, *, at=None, **kwargs):
    """``flask worker --once`` in this process, with the clock standing at ``at`` if given."""
    with app.app_context():
        worker = Worker(clock=(lambda: at) if at else utcnow, **kwargs)
        return worker.run_once()


def rows(app):
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_japanese_subject_and_body_arrive_intact(app, smtp):
    queue(app)
    result = run_worker(app)
    assert result.sent == 1
    [received] = smtp.received()
    [row] = rows(app)
    assert received["Subject"] == row.subject == "【セキュトレ・セキュレジ】パスワード再設定のご案内"
    text = received.get_body(preferencelist=("plain",)).get_content()
    html = received.get_body(preferencelist=("html",)).get_content()
    assert text.replace("\r\n", "\n").strip() == row.body_text.strip()
    assert f"{JAPANESE_NAME} 様" in text
    assert JAPANESE_NAME in html
    assert received["Message-ID"] == row.message_id
    assert received["To"] == "hanako@example.com"
    assert row.status == OutboxStatus.SENT and row.attempts == 1 and row.sent_at is not None
    assert row.lease_until is None and row.leased_by is None


def test_a_rolled_back_transaction_sends_nothing(app, smtp):
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        queue_email(
            "password_reset",
            "rollback@example.com",
            idempotency_key="rolled-back",
            user=SimpleNamespace(name="x", email="rollback@example.com"),
            reset_url="http://portal.test/x",
            hours=1,
        )
        db.session.rollback()
    run_worker(app)
    assert rows(app) == []
    assert smtp.received() == []


def test_asking_twice_queues_once_and_sends_once(app, smtp):
    first = queue(app, key_prefix="same")
    second = queue(app, key_prefix="same")
    assert first == second
    run_worker(app)
    run_worker(app, at=utcnow() + timedelta(days=1))
    assert len(rows(app)) == 1
    assert len(smtp.received()) == 1


def test_with_the_server_down_messages_wait_and_go_out_when_it_returns(app, smtp):
    queue(app, 3)
    smtp.stop()
    result = run_worker(app)
    assert result.sent == 0 and result.retried == 3
    for row in rows(app):
        assert row.status == OutboxStatus.PENDING
        assert row.attempts == 1
        assert "connection error" in row.last_error
        assert row.next_attempt_at > row.last_attempt_at
    smtp.start()
    # Not yet due: nothing is sent before the backoff has passed.
    assert run_worker(app).sent == 0
    assert run_worker(app, at=utcnow() + timedelta(hours=2)).sent == 3
    assert {r.status for r in rows(app)} == {OutboxStatus.SENT}
    assert len(smtp.received()) == 3


def test_a_4xx_answer_is_retried_later(app, smtp):
    smtp.handler.rcpt_once["busy@example.com"] = ["451 4.7.1 Greylisted, try again later"]
    queue(app, to="busy@example.com")
    assert run_worker(app).retried == 1
    [row] = rows(app)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error == "451 4.7.1 Greylisted, try again later"
    assert run_worker(app, at=utcnow() + timedelta(hours=2)).sent == 1
    [row] = rows(app)
    assert row.status == OutboxStatus.SENT and row.attempts == 2 and row.last_error is None
    assert [m["Message-ID"] for m in smtp.received()] == [row.message_id]


def test_4xx_until_the_last_attempt_ends_dead(app, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
    smtp.handler.rcpt_always["full@example.com"] = "452 4.2.2 Mailbox full"
    queue(app, to="full@example.com")
    at = utcnow()
    for _ in range(3):
        at += timedelta(days=1)
        run_worker(app, at=at)
    [row] = rows(app)
    assert row.status == OutboxStatus.DEAD and row.attempts == 3
    assert row.last_error == "452 4.2.2 Mailbox full"
    # A 4xx is not a hard failure: the address is not suppressed.
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(func.count(MailSuppression.id))) == 0


def test_a_5xx_answer_ends_dead_with_the_servers_answer(app, smtp):
    smtp.handler.rcpt_always["nobody@example.com"] = "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    queue(app, to="nobody@example.com")
    assert run_worker(app).dead == 1
    [row] = rows(app)
    assert row.status == OutboxStatus.DEAD and row.attempts == 1
    assert row.last_error == "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    assert smtp.received() == []


def test_content_refused_with_5xx_ends_dead(app, smtp):
    smtp.handler.data_always = "554 5.7.1 Message rejected as spam"
    queue(app)
    assert run_worker(app).dead == 1
    [row] = rows(app)
    assert row.status == OutboxStatus.DEAD and row.last_error == "554 5.7.1 Message rejected as spam"


def test_a_long_batch_renews_its_lease(app, smtp, monkeypatch):
    queue(app, 4)
    lease = app.config["MAIL_LEASE_SECONDS"]
    start = utcnow()
    ticks = iter(range(0, 10_000, lease // 3))
    renewals = []
    original = Worker._extend_leases

    def spy(self, ids, now):
        renewals.append(list(ids))
        return original(self, ids, now)

    monkeypatch.setattr(Worker, "_extend_leases", spy)
    with app.app_context():
        worker = Worker(clock=lambda: start + timedelta(seconds=next(ticks)))
        with unscoped("the test reads and writes rows directly"):
            batch = worker.claim()
            result = worker.deliver(batch)
    assert result.sent == 4
    assert renewals, "the lease should have been renewed while the batch ran"
    # Only the rows still to be sent are renewed.
    assert all(len(ids) < 4 for ids in renewals)


def test_repeated_hard_failures_suppress_the_address(app, smtp):
    smtp.handler.rcpt_always["gone@example.com"] = "550 5.1.1 User unknown"
    for n in range(3):
        queue(app, to="gone@example.com", key_prefix=f"bounce{n}")
    queue(app, to="GONE@example.com", key_prefix="after")
    run_worker(app)
    statuses = [r.status for r in rows(app)]
    assert statuses == [OutboxStatus.DEAD] * 3 + [OutboxStatus.SUPPRESSED]
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        suppression = db.session.scalar(select(MailSuppression))
        assert suppression.address == "gone@example.com"
        assert suppression.reason == SuppressionReason.HARD_FAILURES
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "mail.address_suppressed"))
        assert event.details["hard_failures"] == 3
        assert event.details["address"] == "gone@example.com"


def test_a_delivery_resets_the_hard_failure_count(app, smtp):
    smtp.handler.rcpt_once["flaky@example.com"] = ["550 5.1.1 User unknown", "550 5.1.1 User unknown"]
    for n in range(3):
        queue(app, to="flaky@example.com", key_prefix=f"m{n}")
    run_worker(app)
    assert [r.status for r in rows(app)] == [OutboxStatus.DEAD, OutboxStatus.DEAD, OutboxStatus.SENT]
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.get(MailAddressFailures, "flaky@example.com") is None
        assert db.session.scalar(select(func.count(MailSuppression.id))) == 0


def test_an_invalid_address_ends_dead_without_contacting_the_server(app, smtp):
    queue(app, to="not an address")
    assert run_worker(app).dead == 1
    [row] = rows(app)
    assert row.status == OutboxStatus.DEAD
    assert row.last_error.startswith("invalid address")
    assert smtp.received() == []


def test_suppressed_messages_are_kept_and_not_sent(app, smtp, make_org):
    org = make_org()
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        db.session.add(MailSuppression(address="stop@example.com", reason=SuppressionReason.OPERATOR))
        db.session.add(MailSuppression(organization_id=org.id, reason=SuppressionReason.OPERATOR))
        db.session.commit()
    queue(app, to="stop@example.com", key_prefix="addr")
    queue(app, to="member@example.com", org_id=org.id, key_prefix="org")
    queue(app, to="fine@example.com", key_prefix="fine")
    result = run_worker(app)
    assert (result.sent, result.suppressed) == (1, 2)
    by_address = {r.to_address: r for r in rows(app)}
    assert by_address["stop@example.com"].status == OutboxStatus.SUPPRESSED
    assert by_address["stop@example.com"].last_error == "suppressed: address"
    assert by_address["member@example.com"].status == OutboxStatus.SUPPRESSED
    assert by_address["member@example.com"].last_error == "suppressed: organization"
    assert [m["To"] for m in smtp.received()] == ["fine@example.com"]


def test_an_expired_lease_is_taken_over_by_another_worker(app, smtp):
    queue(app, 5)
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        dead_worker = Worker(worker_id="crashed")
        claimed = dead_worker.claim()  # and then it dies without sending
    assert len(claimed) == 5
    assert {r.leased_by for r in rows(app)} == {"crashed"}
    # While the lease runs, nobody else takes these rows.
    assert run_worker(app).handled == 0
    lease = timedelta(seconds=app.config["MAIL_LEASE_SECONDS"])
    assert run_worker(app, at=utcnow() + lease + timedelta(seconds=1)).sent == 5
    assert sorted(smtp.handler.message_ids().values()) == [1] * 5
    assert {r.status for r in rows(app)} == {OutboxStatus.SENT}


def test_two_workers_in_parallel_send_each_row_once(app, smtp):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SKIP LOCKED concurrency runs on PostgreSQL; SQLite is covered by the lease takeover test")
    ids = queue(app, 200)
    smtp.handler.data_delay = 0.002  # keep both workers busy at the same time
    results, errors = [], []

    def work():
        try:
            results.append(run_worker(app, batch_size=10))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(r.sent for r in results) == 200
    assert all(r.sent > 0 for r in results), "both workers should have taken part"
    counts = smtp.handler.message_ids()
    assert len(counts) == 200 and set(counts.values()) == {1}
    assert {r.status for r in rows(app)} == {OutboxStatus.SENT}
    assert {r.id for r in rows(app)} == set(ids)


def test_retry_delay_grows_exponentially_with_jitter_and_a_cap():
    low = [retry_delay(n, 60, 3600, rand=lambda: 0.0).total_seconds() for n in range(1, 9)]
    high = [retry_delay(n, 60, 3600, rand=lambda: 1.0).total_seconds() for n in range(1, 9)]
    assert high == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert low == [h / 2 for h in high]


# --- periodic jobs and heartbeat -----------------------------------------------------------


@pytest.fixture
def counting_job():
    calls = []

    def job(now):
        calls.append(now)

    REGISTRY["test.counting"] = PeriodicJob("test.counting", timedelta(minutes=10), job)
    yield calls
    del REGISTRY["test.counting"]


def test_a_periodic_job_runs_once_per_period_across_workers(app, counting_job):
    start = utcnow()
    run_worker(app, at=start)
    run_worker(app, at=start + timedelta(minutes=5))  # another worker, not due yet
    assert len(counting_job) == 1
    run_worker(app, at=start + timedelta(minutes=11))
    assert len(counting_job) == 2
    with app.app_context():
        job_run = db.session.get(JobRun, "test.counting")
        assert job_run.runs == 2 and job_run.last_status == "ok" and job_run.lease_until is None


def test_a_job_leased_by_a_running_worker_is_not_started_again(app, counting_job, monkeypatch):
    monkeypatch.setitem(app.config, "JOB_LEASE_SECONDS", 3600)
    start = utcnow()
    with app.app_context():
        assert Worker(worker_id="busy", clock=lambda: start)._claim_job(REGISTRY["test.counting"], start)
    # The first worker is still running it (lease held), even though the period has passed.
    run_worker(app, at=start + timedelta(minutes=11))
    assert counting_job == []
    run_worker(app, at=start + timedelta(seconds=3601))
    assert len(counting_job) == 1


def test_a_failing_job_is_recorded_and_does_not_stop_the_mail(app, smtp):
    def broken(now):
        raise RuntimeError("boom")

    REGISTRY["test.broken"] = PeriodicJob("test.broken", timedelta(minutes=1), broken)
    try:
        queue(app)
        assert run_worker(app).sent == 1
    finally:
        del REGISTRY["test.broken"]
    with app.app_context():
        job_run = db.session.get(JobRun, "test.broken")
        assert job_run.last_status == "error" and "boom" in job_run.last_error


def test_the_worker_writes_a_heartbeat(app):
    with app.app_context():
        assert last_heartbeat() is None
    before = utcnow()
    run_worker(app)
    with app.app_context():
        assert last_heartbeat() >= before
