"""What /healthz and /metrics report: figures read from the database at the moment they are asked for.

Every figure is computed at scrape time from the database (not kept in a process's memory), so any
app instance and any gunicorn worker answers with the same numbers; only the request-latency histogram
lives in the processes (see ``portal.metrics``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.clock import utcnow
from portal.extensions import db
from portal.models import OutboxStatus
from portal.outbox import outbox_figures
from portal.security import has_role
from portal.worker import last_heartbeat


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
        beat = last_heartbeat()
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
