"""The email outbox: a message is a row written in the transaction that caused it."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Organization, User
from portal.models.base import UTCDateTime, utcnow
from portal.tenancy import TenantScoped


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    SUPPRESSED = "suppressed"
    # No longer needed before it went out (the learner passed while it waited for the sending window,
    # or the delivery was closed): kept, never sent.
    CANCELLED = "cancelled"


class OutboxMessage(TenantScoped, db.Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # A delivery's page counts its emails by status in one query.
        Index("ix_outbox_topic_status", "topic", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # One logical email (say, reminder 2 of delivery X to learner Y) is queued once.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    template: Mapped[str] = mapped_column(String(64), index=True)
    # What the email belongs to, when it belongs to something that counts or cancels its emails
    # (``delivery:12``: the invitations, reminders and escalations of training delivery 12).
    topic: Mapped[str | None] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(254))
    # Where a reply goes (a ticket's reply address, portal/blueprints/tickets/mail_in.py); empty: no Reply-To.
    reply_to: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # SQLite has no SKIP LOCKED: a worker leases a row until this time, then another may take it.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    leased_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Lists load these with joinedload; a lazy load per row would be an N+1.
    organization: Mapped[Organization | None] = relationship(lazy="raise_on_sql")
    user: Mapped[User | None] = relationship(lazy="raise_on_sql")

    @property
    def message_id(self) -> str:
        """Stable across resends so that a receiving server or person can recognise a duplicate."""
        return outbox_message_id(self.id, self.idempotency_key)

    @property
    def idempotency_key_digest(self) -> str:
        return hashlib.sha256(self.idempotency_key.encode()).hexdigest()[:16]


def outbox_message_id(message_id: int, idempotency_key: str) -> str:
    """The Message-ID header of outbox row ``message_id``: the same on every (re)send of that row."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
    return f"<outbox-{message_id}-{digest}@portal>"
