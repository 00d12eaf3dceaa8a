"""The worker: delivers the outbox over SMTP and runs the periodic jobs (``flask --app wsgi worker``).

Promises:

* Several workers never send the same row twice in normal operation. A worker claims a batch of due
  rows by leasing them (``lease_until``, ``leased_by``); on PostgreSQL the rows are picked with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` so that workers take disjoint batches without waiting; on
  SQLite every transaction starts with ``BEGIN IMMEDIATE``, so claims are serialised. A lease that
  runs out (its worker died) is taken over by the next worker.
* Nothing is lost: each outcome is committed right after the SMTP answer, so a worker killed at any
  point leaves every row either finished or pending under a lease that expires. A message can go
  out twice only when the kill lands between the server's "250 accepted" and that commit; it then
  carries the same Message-ID both times, so it can be recognised.
* SMTP 4xx answers and connection errors are retried with exponential backoff and jitter up to
  ``MAIL_MAX_ATTEMPTS``; 5xx answers and invalid addresses end as ``dead`` with the server's answer
  in ``last_error``. ``MAIL_HARD_FAILURES_TO_SUPPRESS`` consecutive 5xx answers for one recipient
  suppress that address. Suppressed messages end as ``suppressed`` and are kept.
* SIGTERM (or Ctrl-C) finishes the message in hand, hands the rest of the batch back and exits.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import smtplib
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from email_validator import EmailNotValidError
from flask import current_app
from sqlalchemy import bindparam, delete, func, or_, select, update

from portal import audit
from portal.bulk import insert_on_conflict
from portal.clock import as_utc, utcnow
from portal.extensions import db
from portal.jobs import REGISTRY, PeriodicJob, periodic
from portal.models import (
    JobRun,
    MailAddressFailures,
    MailSuppression,
    OutboxMessage,
    OutboxStatus,
    SuppressionReason,
    WorkerHeartbeat,
    outbox_message_id,
)
from portal.smtp import Failure, SmtpConnection, deliverable_address, send_one
from portal.tenancy import unscoped

log = logging.getLogger("portal.worker")
OUTBOX = OutboxMessage.__table__

Clock = Callable[[], datetime]

# The most frequent write of all, built once: constructing a statement costs ~0.25 ms a message.
MARK_SENT = (
    update(OUTBOX)
    .where(OUTBOX.c.id == bindparam("row_id"), OUTBOX.c.leased_by == bindparam("worker"))
    .values(
        status=OutboxStatus.SENT,
        sent_at=bindparam("at"),
        last_attempt_at=bindparam("at"),
        attempts=bindparam("attempts_now"),
        last_error=None,
        lease_until=None,
        leased_by=None,
    )
)


def retry_delay(attempts: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: ``base * 2**(attempts-1)`` capped at
    ``cap``, with "equal jitter" (between half and all of it) so that retries do not arrive in waves."""
    ceiling = min(cap, base * 2 ** min(max(attempts - 1, 0), 30))
    return timedelta(seconds=ceiling / 2 + rand() * ceiling / 2)


@dataclass(frozen=True)
class Claimed:
    """A leased outbox row, copied out so that sending needs no database access."""

    id: int
    to_address: str
    subject: str
    body_text: str
    body_html: str | None
    attempts: int
    organization_id: int | None
    message_id: str
    reply_to: str | None = None


@dataclass
class BatchResult:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    suppressed: int = 0
    released: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.dead + self.suppressed

    def add(self, other: BatchResult) -> None:
        for name in ("sent", "retried", "dead", "suppressed", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Worker:
    """One worker process (or thread in tests). ``clock`` is injectable so tests can step time."""

    def __init__(self, *, worker_id: str | None = None, clock: Clock = utcnow, batch_size: int | None = None):
        cfg = current_app.config
        host = socket.gethostname()[:40]
        self.worker_id = worker_id or f"{host}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.hostname = host
        self.clock = clock
        self.batch_size = batch_size or cfg["MAIL_BATCH_SIZE"]
        self.lease = timedelta(seconds=cfg["MAIL_LEASE_SECONDS"])
        self.max_attempts = cfg["MAIL_MAX_ATTEMPTS"]
        self.retry_base = cfg["MAIL_RETRY_BASE_SECONDS"]
        self.retry_cap = cfg["MAIL_RETRY_MAX_SECONDS"]
        self.suppress_after = cfg["MAIL_HARD_FAILURES_TO_SUPPRESS"]
        self.job_lease = timedelta(seconds=cfg["JOB_LEASE_SECONDS"])
        self.poll_seconds = cfg["WORKER_POLL_SECONDS"]
        self.heartbeat_every = timedelta(seconds=cfg["WORKER_HEARTBEAT_SECONDS"])
        self.postgres = db.engine.dialect.name == "postgresql"
        self._autocommit = None
        # A plain flag: a signal handler must not take the lock inside threading.Event.
        self._stop_requested = False
        self._last_beat: datetime | None = None
        self._sent_total = 0

    # --- stopping -----------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    def stop(self, *_args) -> None:
        """Finish the message in hand, hand the rest back, exit. Safe to call from a signal handler."""
        self._stop_requested = True

    def _idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, seconds))

    # --- claiming -----------------------------------------------------------------------------

    def claim(self) -> list[Claimed]:
        """Lease up to ``batch_size`` due rows to this worker and commit the lease."""
        now = self.clock()
        free = or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now)
        ids = db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now, free)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(self.batch_size)
            # PostgreSQL: rows another worker is claiming right now are skipped, not waited for.
            # SQLite renders no FOR UPDATE; its BEGIN IMMEDIATE already serialises the claim.
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            db.session.rollback()
            return []
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(lease_until=now + self.lease, leased_by=self.worker_id)
            .execution_options(synchronize_session=False)
        )
        rows = db.session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.to_address,
                OutboxMessage.subject,
                OutboxMessage.body_text,
                OutboxMessage.body_html,
                OutboxMessage.attempts,
                OutboxMessage.organization_id,
                OutboxMessage.idempotency_key,
                OutboxMessage.reply_to,
            )
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        ).all()
        db.session.commit()
        return [
            Claimed(
                id=row.id,
                to_address=row.to_address,
                subject=row.subject,
                body_text=row.body_text,
                body_html=row.body_html,
                attempts=row.attempts,
                organization_id=row.organization_id,
                message_id=outbox_message_id(row.id, row.idempotency_key),
                reply_to=row.reply_to,
            )
            for row in rows
        ]

    def _suppressions(self, batch: list[Claimed]) -> tuple[set[str], set[int]]:
        addresses = {m.to_address.strip().lower() for m in batch}
        orgs = {m.organization_id for m in batch if m.organization_id is not None}
        rows = db.session.execute(
            select(MailSuppression.address, MailSuppression.organization_id).where(
                or_(MailSuppression.address.in_(addresses), MailSuppression.organization_id.in_(orgs))
            )
        ).all()
        return {r.address for r in rows if r.address}, {r.organization_id for r in rows if r.organization_id}

    def _failing_addresses(self, batch: list[Claimed]) -> set[str]:
        addresses = {m.to_address.strip().lower() for m in batch}
        return set(
            db.session.scalars(select(MailAddressFailures.address).where(MailAddressFailures.address.in_(addresses)))
        )

    # --- outcomes -----------------------------------------------------------------------------

    def _finish(self, message: Claimed, *, alone: bool = False, **values) -> bool:
        """Write an outcome for a row this worker still leases; False if the lease was lost.

        ``alone``: the outcome is this one statement, committed on its own (no session commit needed).
        Otherwise it joins the session's transaction, which the caller commits.
        """
        # Core (table-level) UPDATEs in the hot path: the ORM bulk-update machinery costs ~1 ms each.
        stmt = (
            update(OUTBOX)
            .where(OUTBOX.c.id == message.id, OUTBOX.c.leased_by == self.worker_id)
            .values(lease_until=None, leased_by=None, **values)
        )
        return self._write_outcome(message, stmt, {}, alone=alone)

    def _write_outcome(self, message: Claimed, stmt, params: dict, *, alone: bool) -> bool:
        if alone and self._autocommit is not None:
            result = self._autocommit.execute(stmt, params)
        else:
            result = db.session.execute(stmt, params)
            if alone:
                db.session.commit()
        if result.rowcount != 1:
            log.warning("outbox %s: lease lost before its outcome was written", message.id)
            return False
        return True

    def _open_outcome_connection(self) -> None:
        """PostgreSQL: a connection in autocommit mode for one-statement outcomes (one round trip
        instead of BEGIN/UPDATE/COMMIT) that does not wait for the WAL flush. If PostgreSQL itself
        crashes in the few hundred ms before the flush, a "sent" mark can be lost: the row is pending
        again and goes out a second time with the same Message-ID. A worker crash loses nothing."""
        if not self.postgres:
            return
        conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("SET synchronous_commit TO OFF")
        self._autocommit = conn

    def _close_outcome_connection(self) -> None:
        conn, self._autocommit = self._autocommit, None
        if conn is None:
            return
        try:
            conn.exec_driver_sql("RESET synchronous_commit")
        finally:
            conn.close()

    def _record_sent(self, message: Claimed, now: datetime, failing: set[str]) -> None:
        address = message.to_address.strip().lower()
        recovered = address in failing
        params = {"row_id": message.id, "worker": self.worker_id, "at": now, "attempts_now": message.attempts + 1}
        self._write_outcome(message, MARK_SENT, params, alone=not recovered)
        if recovered:
            db.session.execute(delete(MailAddressFailures).where(MailAddressFailures.address == address))
            db.session.commit()
            failing.discard(address)

    def _record_failure(
        self, message: Claimed, now: datetime, failure: Failure, failing: set[str], suppressed: set[str]
    ) -> str:
        attempts = message.attempts + 1
        if failure.permanent or attempts >= self.max_attempts:
            status = OutboxStatus.DEAD
            values = {"status": status}
        else:
            status = OutboxStatus.PENDING
            values = {"next_attempt_at": now + retry_delay(attempts, self.retry_base, self.retry_cap)}
        self._finish(message, attempts=attempts, last_attempt_at=now, last_error=failure.error[:2000], **values)
        if failure.hard_bounce:
            address = message.to_address.strip().lower()
            if self._count_hard_failure(address, now, failure.error, failing):
                suppressed.add(address)
        db.session.commit()
        return status

    def _count_hard_failure(self, address: str, now: datetime, error: str, failing: set[str]) -> bool:
        """Count a 5xx for ``address``; True when the address is now suppressed."""
        table = MailAddressFailures.__table__
        stmt = insert_on_conflict(table).values(address=address, hard_failures=1, last_failure_at=now, last_error=error)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.address],
            set_={"hard_failures": table.c.hard_failures + 1, "last_failure_at": now, "last_error": error},
        ).returning(table.c.hard_failures)
        count = db.session.execute(stmt).scalar_one()
        failing.add(address)
        if count < self.suppress_after:
            return False
        suppressions = MailSuppression.__table__
        inserted = db.session.execute(
            insert_on_conflict(suppressions)
            .values(
                address=address,
                reason=SuppressionReason.HARD_FAILURES,
                note=error[:500],
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[suppressions.c.address])
            .returning(suppressions.c.id)
        ).scalar_one_or_none()
        if inserted is not None:
            audit.record(
                "mail.address_suppressed",
                target_type="MailSuppression",
                target_id=inserted,
                actor=None,
                address=address,
                reason=SuppressionReason.HARD_FAILURES,
                hard_failures=count,
                last_error=error[:500],
            )
        return True

    def _extend_leases(self, ids: list[int], now: datetime) -> datetime:
        db.session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids), OUTBOX.c.leased_by == self.worker_id)
            .values(lease_until=now + self.lease)
        )
        db.session.commit()
        return now + self.lease

    def _release(self, ids: list[int]) -> int:
        if not ids:
            return 0
        result = db.session.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids), OUTBOX.c.leased_by == self.worker_id)
            .values(lease_until=None, leased_by=None)
        )
        db.session.commit()
        return result.rowcount

    # --- delivering ---------------------------------------------------------------------------

    def deliver(self, batch: list[Claimed]) -> BatchResult:
        """Send a claimed batch over one SMTP connection, committing each outcome as it comes."""
        result = BatchResult()
        suppressed_addresses, suppressed_orgs = self._suppressions(batch)
        failing = self._failing_addresses(batch)
        db.session.commit()
        lease_until = self.clock() + self.lease
        connection: SmtpConnection | None = None
        connect_failure: Failure | None = None
        self._open_outcome_connection()
        try:
            for index, message in enumerate(batch):
                if self.stopping:
                    result.released += self._release([m.id for m in batch[index:]])
                    break
                now = self.clock()
                if lease_until - now < self.lease / 2:
                    lease_until = self._extend_leases([m.id for m in batch[index:]], now)
                address = message.to_address.strip().lower()
                if address in suppressed_addresses or message.organization_id in suppressed_orgs:
                    why = "address" if address in suppressed_addresses else "organization"
                    self._finish(message, alone=True, status=OutboxStatus.SUPPRESSED, last_error=f"suppressed: {why}")
                    result.suppressed += 1
                    continue
                try:
                    recipient = deliverable_address(message.to_address)
                except EmailNotValidError as exc:
                    self._record_failure(
                        message, now, Failure(f"invalid address: {exc}", permanent=True), failing, suppressed_addresses
                    )
                    result.dead += 1
                    continue
                if connection is None and connect_failure is None:
                    try:
                        connection = SmtpConnection().open()
                    except (OSError, smtplib.SMTPException) as exc:
                        # Every message of this batch would fail the same way: back them all off.
                        connect_failure = Failure(
                            f"connection error: {type(exc).__name__}: {exc}", permanent=False, broken_connection=True
                        )
                        log.warning("SMTP connection failed: %s", connect_failure.error)
                failure = connect_failure or send_one(connection, message, recipient)
                now = self.clock()
                if failure is None:
                    self._record_sent(message, now, failing)
                    self._sent_total += 1
                    result.sent += 1
                    continue
                status = self._record_failure(message, now, failure, failing, suppressed_addresses)
                if status == OutboxStatus.DEAD:
                    result.dead += 1
                else:
                    result.retried += 1
                if failure.broken_connection and connection is not None:
                    connection.close()
                    connection = None
        finally:
            if connection is not None:
                connection.close()
            self._close_outcome_connection()
        return result

    def deliver_due(self) -> BatchResult:
        """Claim and deliver batches until nothing is due (or the worker is stopping)."""
        total = BatchResult()
        while not self.stopping:
            batch = self.claim()
            if not batch:
                break
            total.add(self.deliver(batch))
            self.heartbeat()
        return total

    # --- periodic jobs ------------------------------------------------------------------------

    def _claim_job(self, job: PeriodicJob, now: datetime) -> bool:
        table = JobRun.__table__
        db.session.execute(
            insert_on_conflict(table)
            .values(name=job.name, runs=0)
            .on_conflict_do_nothing(index_elements=[table.c.name])
        )
        claimed = db.session.execute(
            update(table)
            .where(
                table.c.name == job.name,
                or_(table.c.lease_until.is_(None), table.c.lease_until <= now),
                or_(table.c.last_started_at.is_(None), table.c.last_started_at <= now - job.every),
            )
            .values(
                lease_until=now + self.job_lease,
                leased_by=self.worker_id,
                last_started_at=now,
                last_status="running",
                runs=table.c.runs + 1,
            )
        ).rowcount
        db.session.commit()
        return claimed == 1

    def run_due_jobs(self) -> list[str]:
        """Run every registered job whose time has come and that no other worker is running."""
        ran = []
        now = self.clock()
        # One read decides which jobs may be due; only those are claimed (a write), so an idle worker
        # does not write to the database on every poll.
        known = {r.name: r for r in db.session.execute(select(JobRun.name, JobRun.last_started_at, JobRun.lease_until))}
        db.session.rollback()
        for job in sorted(REGISTRY.values(), key=lambda j: j.name):
            if self.stopping:
                break
            row = known.get(job.name)
            if row is not None and (
                (row.lease_until is not None and row.lease_until > now)
                or (row.last_started_at is not None and row.last_started_at > now - job.every)
            ):
                continue
            now = self.clock()
            if not self._claim_job(job, now):
                continue
            error = None
            try:
                job.func(now)
                db.session.commit()
            except Exception as exc:  # a failing job must not stop the mail
                db.session.rollback()
                error = f"{type(exc).__name__}: {exc}"
                log.exception("periodic job %s failed", job.name)
            table = JobRun.__table__
            db.session.execute(
                update(table)
                .where(table.c.name == job.name, table.c.leased_by == self.worker_id)
                .values(
                    lease_until=None,
                    leased_by=None,
                    last_finished_at=self.clock(),
                    last_status="error" if error else "ok",
                    last_error=error,
                )
            )
            db.session.commit()
            ran.append(job.name)
        return ran

    # --- heartbeat ----------------------------------------------------------------------------

    def heartbeat(self, state: str = "running", *, force: bool = False) -> None:
        """Record that this worker is alive (at most every ``WORKER_HEARTBEAT_SECONDS`` unless forced)."""
        now = self.clock()
        if not force and self._last_beat is not None and now - self._last_beat < self.heartbeat_every:
            return
        table = WorkerHeartbeat.__table__
        values = {"beat_at": now, "state": state, "sent_total": self._sent_total}
        db.session.execute(
            insert_on_conflict(table)
            .values(worker_id=self.worker_id, hostname=self.hostname, pid=os.getpid(), started_at=now, **values)
            .on_conflict_do_update(index_elements=[table.c.worker_id], set_=values)
        )
        db.session.commit()
        self._last_beat = now

    # --- loops --------------------------------------------------------------------------------

    def run_once(self) -> BatchResult:
        """Run due jobs, deliver what is due, and return (``flask worker --once``)."""
        with unscoped("the worker serves every organization"):
            self.heartbeat(force=True)
            self.run_due_jobs()
            result = self.deliver_due()
            self.heartbeat("stopped", force=True)
        return result

    def run_forever(self) -> None:
        """Loop until :meth:`stop` (SIGTERM, SIGINT). Idle polls every ``WORKER_POLL_SECONDS``."""
        with unscoped("the worker serves every organization"):
            self.heartbeat(force=True)
            while not self.stopping:
                try:
                    self.run_due_jobs()
                    result = self.deliver_due()
                    self.heartbeat()
                except Exception:
                    # The database went away or similar: keep the process, try again after a pause.
                    db.session.rollback()
                    log.exception("worker loop failed; retrying")
                    result = BatchResult()
                if not result.handled:
                    self._idle(self.poll_seconds)
            try:
                self.heartbeat("stopped", force=True)
            except Exception:
                db.session.rollback()
                log.exception("could not record the worker's stop")


def last_heartbeat() -> datetime | None:
    """When any worker last said it was alive (for /healthz and Prometheus)."""
    return as_utc(
        db.session.scalar(select(WorkerHeartbeat.beat_at).order_by(WorkerHeartbeat.beat_at.desc()).limit(1))
    )


def heartbeat_count(now: datetime, within_seconds: float) -> int:
    """Workers heard of in the last ``within_seconds`` (for Prometheus)."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(WorkerHeartbeat)
            .where(
                WorkerHeartbeat.beat_at >= now - timedelta(seconds=within_seconds),
                WorkerHeartbeat.state == "running",
            )
        )
        or 0
    )


@periodic("worker.prune_heartbeats", every=timedelta(hours=1))
def prune_heartbeats(now: datetime) -> None:
    """Forget workers that have not been heard of for a day (restarts leave a row each)."""
    db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - timedelta(days=1)))


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due, run due periodic jobs, then exit.")
def worker_command(once: bool) -> None:
    """Deliver queued email and run periodic jobs until stopped (SIGTERM finishes the message in hand)."""
    worker = Worker()
    if once:
        result = worker.run_once()
        click.echo(
            f"sent {result.sent}, retry later {result.retried}, dead {result.dead}, suppressed {result.suppressed}"
        )
        return
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
    log.info("worker %s started", worker.worker_id)
    click.echo(f"Worker {worker.worker_id} started; SIGTERM or Ctrl-C stops it.")
    worker.run_forever()
    click.echo(f"Worker {worker.worker_id} stopped.")
