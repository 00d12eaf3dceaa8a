"""The support desk: tickets, their messages and attachments, the history of changes, and the
staff's canned replies and desk breaks."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models.accounts import Organization, User
from portal.models.base import UTCDateTime, utcnow
from portal.models.notices import Notice
from portal.tenancy import TenantScoped


class TicketCategory(enum.StrEnum):
    QUESTION = "question"
    REQUEST = "request"
    BUG = "bug"
    ONBOARDING = "onboarding"
    EMERGENCY = "emergency"
    INCIDENT = "incident"

    @property
    def label(self) -> str:
        return str(CATEGORY_LABELS[self])


CATEGORY_LABELS = {
    TicketCategory.QUESTION: _l("質問"),
    TicketCategory.REQUEST: _l("要望"),
    TicketCategory.BUG: _l("不具合"),
    TicketCategory.ONBOARDING: _l("導入サポート"),
    TicketCategory.EMERGENCY: _l("緊急"),
    TicketCategory.INCIDENT: _l("事故・障害報告"),
}


class TicketStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return str(STATUS_LABELS[self])


STATUS_LABELS = {
    TicketStatus.NEW: _l("新規"),
    TicketStatus.OPEN: _l("対応中"),
    TicketStatus.WAITING: _l("お客様の返答待ち"),
    TicketStatus.RESOLVED: _l("解決済み"),
    TicketStatus.CLOSED: _l("完了"),
}
ACTIVE_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING)


class Ticket(TenantScoped, db.Model):
    """A customer's question or report.

    The promise clock (Art. 10): while an answer is owed, ``sla_started_at`` and ``sla_budget_minutes``
    say since when and how much business time is left, and ``sla_due_at`` is computed from them and
    the desk's breaks (so it can be recomputed when the operator adds a break). While the ticket waits
    for the customer the clock is paused: ``sla_started_at`` is empty and the budget is kept.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_org_status", "organization_id", "status"),
        Index("ix_tickets_status_due", "status", "sla_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Empty for a ticket from the public contact form whose sender is no known customer: only staff
    # (unscoped) see it, every organization's scope filters it out.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The sender of the public contact form (who confirmed this address); answers go to it.
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_company: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    category: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.NEW)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The promise clock; see the class docstring.
    sla_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla_budget_minutes: Mapped[int | None] = mapped_column(Integer)
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_answer_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_answer_business_minutes: Mapped[int | None] = mapped_column(Integer)
    first_answer_met: Mapped[bool | None] = mapped_column(Boolean)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A 事故・障害報告 ticket linked to the operator's incident notice about it (Art. 11).
    incident_notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"), index=True)

    organization: Mapped[Organization | None] = relationship()
    incident_notice: Mapped[Notice | None] = relationship()
    requester: Mapped[User | None] = relationship(foreign_keys=[requester_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    merged_into: Mapped[Ticket | None] = relationship(remote_side=[id])
    messages: Mapped[list[TicketMessage]] = relationship(
        back_populates="ticket", order_by="TicketMessage.created_at, TicketMessage.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.created_at, TicketEvent.id", cascade="all, delete-orphan"
    )

    @property
    def category_enum(self) -> TicketCategory:
        return TicketCategory(self.category)

    @property
    def status_enum(self) -> TicketStatus:
        return TicketStatus(self.status)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_emergency(self) -> bool:
        return self.category == TicketCategory.EMERGENCY

    @property
    def organization_name(self) -> str:
        """The organization's name, or what the staff see for a contact-form sender without one."""
        if self.organization is not None:
            return self.organization.name
        return str(_l("(組織なし・お問い合わせフォーム) %(company)s", company=self.contact_company or ""))

    @property
    def requester_name(self) -> str:
        """Who sent it: the signed-in requester, else the contact-form sender with their address."""
        if self.requester is not None:
            return self.requester.name or self.requester.email or ""
        if self.contact_email:
            return f"{self.contact_name or ''} <{self.contact_email}>"
        return ""

    @property
    def reply_address(self) -> str | None:
        """Where a staff answer is emailed: the requester's address, else the contact-form sender's."""
        if self.requester is not None and self.requester.email:
            return self.requester.email
        return self.contact_email

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.status}>"


class TicketMessage(TenantScoped, db.Model):
    """A message on a ticket. ``internal`` notes are for staff only and never shown to customers."""

    __tablename__ = "ticket_messages"
    __table_args__ = (
        # The same email delivered twice (or re-sent by a server that missed our answer) adds one message.
        Index("uq_ticket_messages_ticket_email", "ticket_id", "email_digest", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Follows its ticket's (empty for a contact-form ticket without an organization).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A message that arrived by email (a reply to a ticket's notification): SHA-256 of its Message-ID
    # (of the whole email when it has none). Empty for messages written in the portal.
    email_digest: Mapped[str | None] = mapped_column(String(64))

    ticket: Mapped[Ticket] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()
    attachments: Mapped[list[TicketAttachment]] = relationship(
        back_populates="message", order_by="TicketAttachment.id", cascade="all, delete-orphan"
    )


class TicketAttachment(TenantScoped, db.Model):
    """A file sent with a message, stored under the instance folder by a random name."""

    __tablename__ = "ticket_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Follows its ticket's (empty for a contact-form ticket without an organization).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("ticket_messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    message: Mapped[TicketMessage] = relationship(back_populates="attachments")
    ticket: Mapped[Ticket] = relationship()


EVENT_LABELS = {
    "created": _l("受付"),
    "customer_reply": _l("お客様の返信"),
    "staff_reply": _l("回答"),
    "note": _l("社内メモ"),
    "status": _l("状態の変更"),
    "reopened": _l("再開"),
    "assigned": _l("担当者の変更"),
    "merged_into": _l("統合(このお問い合わせを統合)"),
    "merged_from": _l("統合(重複を受け入れ)"),
    "rated": _l("評価"),
    "oncall_notified": _l("時間外の緊急として当番へ連絡"),
    "contact_confirmed": _l("お問い合わせフォームから受付(メールアドレス確認済み)"),
    "oncall_not_notified": _l(
        "時間外の緊急ですが、当番への連絡メールを送れませんでした(当番の送信先の設定を確認してください)"
    ),
    "notice_linked": _l("障害のお知らせに紐づけ"),
}


class TicketEvent(TenantScoped, db.Model):
    """One change to a ticket (created, replied, status, assigned, merged, rated, ...), for its history."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Follows its ticket's (empty for a contact-form ticket without an organization).
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()

    @property
    def label(self) -> str:
        return str(EVENT_LABELS.get(self.kind, self.kind))


class CannedReply(db.Model):
    """A reply text the staff reuse. Not tenant-owned: the desk serves every organization."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeskBreak(db.Model):
    """Days the desk is closed besides weekends, national holidays and 12/29-1/3 (a summer break)."""

    __tablename__ = "desk_breaks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContactRequest(db.Model):
    """A message from the public contact form (Art. 10-2) waiting for its sender to confirm the address.

    Not tenant-owned: its sender may be no customer at all. Only a SHA-256 of the confirmation link's
    secret is kept; confirming the link turns it into a ticket and deletes this row, so a link works once.
    """

    __tablename__ = "contact_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    company: Mapped[str] = mapped_column(String(200), default="")
    # Lower-cased, like User.email.
    email: Mapped[str] = mapped_column(String(254), index=True)
    category: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45))
    confirm_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
