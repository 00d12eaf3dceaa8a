"""What /healthz and /metrics report: figures read from the database at the moment they are asked for.

Every figure is computed at scrape time from the database (not kept in a process's memory), so any
app instance and any gunicorn worker answers with the same numbers; only the request-latency histogram
lives in the processes (see ``portal.metrics``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from portal.clock import utcnow
from portal.extensions import db
from portal.models import OutboxMessage, OutboxStatus, WorkerHeartbeat
from portal.security import has_role
from portal.tenancy import unscoped


@dataclass
class Health:
    """The state /healthz reports. ``ok`` is False when any check fails."""

    database: bool
    outbox_pending: int | None = None
    outbox_oldest_pending_seconds: float | None = None
    outbox_oldest_due_seconds: float | None = None
    worker_last_beat_seconds: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict:
        return {
            "status": "ok" if self.ok else "fail",
            "checks": {
                "database": "ok" if self.database else "fail",
                "outbox": {
                    "pending": self.outbox_pending,
                    "oldest_pending_seconds": _round(self.outbox_oldest_pending_seconds),
                    "oldest_due_seconds": _round(self.outbox_oldest_due_seconds),
                },
                "worker": {"last_heartbeat_seconds": _round(self.worker_last_beat_seconds)},
            },
            "problems": self.problems,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


@dataclass
class OutboxFigures:
    by_status: dict[str, int]
    oldest_pending: datetime | None
    oldest_due: datetime | None


def outbox_figures(now: datetime) -> OutboxFigures:
    """Counts by status and the oldest pending / oldest due row, across every organization (no personal data)."""
    with unscoped("the figures cover every organization"):
        counts = dict(
            db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
        )
        pending = OutboxMessage.status == OutboxStatus.PENDING
        oldest_pending, oldest_due = db.session.execute(
            select(
                func.min(OutboxMessage.created_at),
                func.min(OutboxMessage.next_attempt_at).filter(OutboxMessage.next_attempt_at <= now),
            ).where(pending)
        ).one()
    by_status = {str(status): int(counts.get(str(status), 0)) for status in OutboxStatus}
    return OutboxFigures(by_status, _aware(oldest_pending), _aware(oldest_due))


def _aware(value):
    # Aggregates bypass the UTCDateTime type on some backends: a naive value is UTC.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def last_worker_beat() -> datetime | None:
    from portal.worker import last_heartbeat

    return _aware(last_heartbeat())


def check_health(now: datetime | None = None) -> Health:
    """Database reachable, outbox not stuck, a worker alive. Never raises: a failure is a problem listed
    (and the request, answered 503, rolls the failed transaction back)."""
    now = now or utcnow()
    config = current_app.config
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return Health(database=False, problems=["database unreachable"])
    try:
        figures = outbox_figures(now)
        beat = last_worker_beat()
    except SQLAlchemyError:
        return Health(database=False, problems=["database query failed"])
    health = Health(
        database=True,
        outbox_pending=figures.by_status[OutboxStatus.PENDING],
        outbox_oldest_pending_seconds=_age(now, figures.oldest_pending),
        outbox_oldest_due_seconds=_age(now, figures.oldest_due),
        worker_last_beat_seconds=_age(now, beat),
    )
    silence = config["HEALTHZ_WORKER_MAX_SILENCE_SECONDS"]
    if beat is None:
        health.problems.append("no worker has ever run")
    elif health.worker_last_beat_seconds > silence:
        health.problems.append(f"no worker heartbeat for more than {silence} s")
    backlog_age = config["HEALTHZ_OUTBOX_MAX_DUE_SECONDS"]
    if health.outbox_oldest_due_seconds is not None and health.outbox_oldest_due_seconds > backlog_age:
        health.problems.append(f"an email has waited more than {backlog_age} s past its send time")
    return health


def heartbeat_count(now: datetime, within_seconds: float) -> int:
    """Workers heard of in the last ``within_seconds``."""
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


def parse_networks(value) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``PORTAL_METRICS_ALLOWED_NETWORKS``: a list of CIDRs (JSON list or comma-separated string).

    :raises ValueError: for an entry that is not a network.
    """
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [ipaddress.ip_network(str(item).strip(), strict=False) for item in items if str(item).strip()]


def may_read_metrics(user, remote_addr: str | None) -> bool:
    """An operator, or a client whose address is inside one of the configured networks."""
    if has_role(user, "operator"):
        return True
    if not remote_addr:
        return False
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    return any(address in network for network in current_app.config["METRICS_ALLOWED_NETWORKS_PARSED"])
