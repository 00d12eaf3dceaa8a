"""The delivery log's rules: reading messages, retrying a dead one, suppressing and lifting.

Services write, audit and flush; the view commits.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.orm import defer, joinedload

from portal import audit
from portal.clock import TOKYO, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.ids import MAX_ID
from portal.models import (
    MailAddressFailures,
    MailSuppression,
    Organization,
    OutboxMessage,
    OutboxStatus,
    SuppressionReason,
    User,
)
from portal.pagination import clamp_page

PER_PAGE = 50
# Ids and page numbers from URLs beyond what the database's INTEGER/OFFSET take are simply not found.
STATUS_LABELS = {
    OutboxStatus.PENDING: _l("送信待ち"),
    OutboxStatus.SENT: _l("送信済み"),
    OutboxStatus.DEAD: _l("送信失敗"),
    OutboxStatus.SUPPRESSED: _l("配信停止で保留"),
    OutboxStatus.CANCELLED: _l("不要になり取り消し"),
}
REASON_LABELS = {
    SuppressionReason.OPERATOR: _l("運営による停止"),
    SuppressionReason.HARD_FAILURES: _l("配信失敗の繰り返しによる自動停止"),
}
RETRYABLE = frozenset({OutboxStatus.DEAD, OutboxStatus.SUPPRESSED})


class NotRetryable(Exception):
    """Only dead or suppressed messages can be sent again."""


def normalize_address(value: str | None) -> str | None:
    """The address lower-cased, or None when it is not an email address."""
    value = (value or "").strip()
    try:
        validate_email(value, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError:
        return None
    return value.lower()


def _tokyo_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=TOKYO)


def message_page(
    *,
    page: int,
    organization_id: int | None = None,
    status: str | None = None,
    template: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
):
    """One page of messages, newest first, in the current tenant scope (org admins: their own).

    Bodies are not loaded and organizations are joined, so a page costs two queries whatever its size.
    """
    stmt = (
        select(OutboxMessage)
        .options(
            defer(OutboxMessage.body_text),
            defer(OutboxMessage.body_html),
            joinedload(OutboxMessage.organization),
        )
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    )
    if organization_id and organization_id <= MAX_ID:
        stmt = stmt.where(OutboxMessage.organization_id == organization_id)
    if status in STATUS_LABELS:
        stmt = stmt.where(OutboxMessage.status == status)
    if template:
        stmt = stmt.where(OutboxMessage.template == template)
    if date_from:
        stmt = stmt.where(OutboxMessage.created_at >= _tokyo_midnight_utc(date_from))
    if date_to:
        stmt = stmt.where(OutboxMessage.created_at < _tokyo_midnight_utc(date_to + timedelta(days=1)))
    return db.paginate(stmt, page=clamp_page(page), per_page=PER_PAGE, error_out=False)


def get_message(message_id: int) -> OutboxMessage | None:
    """The message if it is in the current tenant scope (another organization's: None)."""
    if not 0 < message_id <= MAX_ID:
        return None
    return db.session.scalar(
        select(OutboxMessage)
        .options(joinedload(OutboxMessage.organization), joinedload(OutboxMessage.user))
        .where(OutboxMessage.id == message_id)
    )


def retry_message(message: OutboxMessage, by: User) -> None:
    """Queue a dead (or suppressed) message again with a fresh set of attempts. :raises NotRetryable:"""
    if message.status not in RETRYABLE:
        raise NotRetryable
    previous = {"status": message.status, "attempts": message.attempts, "last_error": (message.last_error or "")[:500]}
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.lease_until = None
    message.leased_by = None
    audit.record("mail.retried", target=message, actor=by, **previous)
    db.session.flush()


def get_suppression(suppression_id: int) -> MailSuppression | None:
    if not 0 < suppression_id <= MAX_ID:
        return None
    return db.session.get(MailSuppression, suppression_id)


def suppressions() -> list[MailSuppression]:
    return list(
        db.session.scalars(
            select(MailSuppression).order_by(MailSuppression.created_at.desc(), MailSuppression.id.desc())
        ).unique()
    )


def suppress(*, address: str | None, organization: Organization | None, note: str, by: User) -> MailSuppression:
    """Hold back email to ``address`` or to everyone in ``organization`` (exactly one of them)."""
    if (address is None) == (organization is None):
        raise ValueError("exactly one of address and organization")
    suppression = MailSuppression(
        address=address.lower() if address else None,
        organization_id=organization.id if organization else None,
        reason=SuppressionReason.OPERATOR,
        note=note.strip(),
        created_by_id=by.id,
    )
    db.session.add(suppression)
    db.session.flush()
    audit.record(
        "mail.organization_suppressed" if organization else "mail.address_suppressed",
        target=suppression,
        organization_id=organization.id if organization else None,
        actor=by,
        address=suppression.address,
        reason=SuppressionReason.OPERATOR,
        note=suppression.note,
    )
    db.session.flush()
    return suppression


def lift_suppression(suppression: MailSuppression, by: User) -> None:
    """Let email flow again; an address also starts its hard-failure count afresh."""
    audit.record(
        "mail.organization_unsuppressed" if suppression.organization_id else "mail.address_unsuppressed",
        target=suppression,
        organization_id=suppression.organization_id,
        actor=by,
        address=suppression.address,
        reason=suppression.reason,
    )
    if suppression.address:
        db.session.execute(delete(MailAddressFailures).where(MailAddressFailures.address == suppression.address))
    db.session.delete(suppression)
    db.session.flush()
