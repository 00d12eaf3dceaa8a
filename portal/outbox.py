"""Queueing email. ``queue_email`` writes a row; the worker (``flask worker``) sends it after commit.

An email may name its *topic* (``delivery:12``): what it belongs to. :func:`topic_counts` says how many
of a topic's emails wait, are held for a sending window or failed; :func:`cancel_pending` withdraws the
ones that have not gone out when they are no longer needed. :func:`outbox_figures` is the whole outbox at a
glance, for /healthz and Prometheus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import Select, and_, bindparam, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from portal.clock import as_utc
from portal.extensions import db
from portal.models import MailSuppression, OutboxMessage, OutboxStatus
from portal.tenancy import unscoped


def external_url(endpoint: str, **values) -> str:
    """An absolute URL under ``BASE_URL``, usable with or without a request (the worker has none)."""
    parts = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def render_email(template: str, locale: str, **context) -> tuple[str, str, str]:
    """Subject, text and HTML of ``templates/email/<template>.*`` in ``locale``."""
    with force_locale(locale):
        subject = render_template(f"email/{template}.subject.txt", **context)
        text = render_template(f"email/{template}.txt", **context)
        html = render_template(f"email/{template}.html", **context)
    return " ".join(subject.split()), text, html


def queue_email(
    template: str,
    to: str,
    *,
    idempotency_key: str,
    organization_id: int | None = None,
    user_id: int | None = None,
    locale: str | None = None,
    topic: str | None = None,
    send_at: datetime | None = None,
    reply_to: str | None = None,
    **context,
) -> OutboxMessage:
    """Queue one logical email in the current transaction; asking again with the same key is a no-op.

    Nothing is sent until the transaction commits and the worker picks the row up, so a request
    that rolls back sends nothing. ``send_at`` holds it until then (a sending window); ``topic`` names
    what it belongs to; ``reply_to`` sets the Reply-To header (a ticket's reply address).
    """
    existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key))
    if existing is not None:
        return existing
    subject, text, html = render_email(template, locale or current_app.config["BABEL_DEFAULT_LOCALE"], **context)
    message = OutboxMessage(
        idempotency_key=idempotency_key,
        template=template,
        to_address=to.strip(),
        subject=subject,
        body_text=text,
        body_html=html,
        organization_id=organization_id,
        user_id=user_id,
        topic=topic,
        reply_to=reply_to,
    )
    if send_at is not None:
        message.next_attempt_at = send_at
    try:
        # A concurrent request may queue the same key first; the savepoint keeps our transaction.
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:
        existing = db.session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key))
        if existing is None:
            raise
        return existing
    return message


def is_suppressed(address: str, organization_id: int | None) -> bool:
    """Whether the worker would hold back email to ``address`` of ``organization_id``: the address or the
    organization is suppressed (``portal.models.mail.MailSuppression``)."""
    # An address suppression belongs to no organization, so the tenant scope would hide it; the query names
    # this one address and this one organization.
    with unscoped("an address suppression belongs to no organization"):
        return db.session.scalar(
            select(MailSuppression.id)
            .where(or_(MailSuppression.address == address.strip().lower(),
                       and_(MailSuppression.organization_id.is_not(None),
                            MailSuppression.organization_id == organization_id)))
            .limit(1)
        ) is not None


# --- emails by topic -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicCounts:
    """A topic's emails by what became of them. ``queued``: due, or waiting to be tried again; ``held``:
    not tried yet, waiting for the sending window; ``failed``: given up on (``dead``) or held back by a
    suppression."""

    queued: int = 0
    held: int = 0
    failed: int = 0
    sent: int = 0
    cancelled: int = 0


def topic_counts(topic: str, now: datetime) -> TopicCounts:
    """How many of ``topic``'s emails are queued, held, failed, sent and cancelled, in one query."""
    row = db.session.execute(_topic_counts(), {"topic": topic, "now": now}).one()
    return TopicCounts(*(int(n) for n in row))


@cache
def _topic_counts() -> Select:
    """Built once (#17): a delivery's results page reads it on every visit."""
    m = OutboxMessage
    pending = m.status == OutboxStatus.PENDING
    held = and_(pending, m.attempts == 0, m.next_attempt_at > bindparam("now"))

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return select(
        count(and_(pending, ~held)),
        count(held),
        count(m.status.in_([OutboxStatus.DEAD, OutboxStatus.SUPPRESSED])),
        count(m.status == OutboxStatus.SENT),
        count(m.status == OutboxStatus.CANCELLED),
    ).where(m.topic == bindparam("topic"))


def cancel_pending(topic: str, now: datetime, *, user_id: int | None = None, reason: str) -> int:
    """Cancel ``topic``'s emails (to ``user_id`` only, when given) that have not gone out and that no
    worker holds right now; returns how many. A message a worker has claimed is left to go: it may be
    on the wire already."""
    criteria = [
        OutboxMessage.topic == topic,
        OutboxMessage.status == OutboxStatus.PENDING,
        or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
    ]
    if user_id is not None:
        criteria.append(OutboxMessage.user_id == user_id)
    result = db.session.execute(
        update(OutboxMessage)
        .where(*criteria)
        .values(status=OutboxStatus.CANCELLED, last_error=f"cancelled: {reason}"[:2000])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


# --- the whole outbox, for monitoring --------------------------------------------------------------------


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
    return OutboxFigures(by_status, as_utc(oldest_pending), as_utc(oldest_due))
