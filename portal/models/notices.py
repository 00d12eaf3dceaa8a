"""Notices from the operator to customers (Art. 9, 11, 20, 21, 25): board, email, status page."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import User
from portal.models.base import UTCDateTime, utcnow
from portal.tenancy import TenantScoped


class NoticeKind(enum.StrEnum):
    MAINTENANCE = "maintenance"
    INCIDENT = "incident"
    SERVICE_END = "service_end"
    TERMS_REVISION = "terms_revision"
    GENERAL = "general"


class IncidentStatus(enum.StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class Notice(db.Model):
    """One notice, to every organization or to the chosen ones (``NoticeTarget`` rows).

    Not tenant-scoped itself: an organization sees it when ``all_organizations`` is set or it is a
    target; ``portal.notices.visible_notices`` is the one query that decides.
    """

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    all_organizations: Mapped[bool] = mapped_column(default=True)
    # Maintenance window (and, for incidents, when it began).
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # For a service-end notice: the last day of the service (at least 3 months after publication).
    service_ends_on: Mapped[date | None] = mapped_column(Date)
    incident_status: Mapped[str | None] = mapped_column(String(20))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Withdrawn by the operator: gone from the customers' board, banners, status page and the maintenance
    # gate; kept for the operator with its history (``NoticeRevision``).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by: Mapped[User | None] = relationship(lazy="joined")
    revisions: Mapped[list[NoticeRevision]] = relationship(
        back_populates="notice", order_by="NoticeRevision.id", cascade="all, delete-orphan"
    )
    updates: Mapped[list[NoticeUpdate]] = relationship(
        back_populates="notice", order_by="NoticeUpdate.created_at", cascade="all, delete-orphan"
    )


class NoticeUpdate(db.Model):
    """A status update of an incident until it is resolved (Art. 11)."""

    __tablename__ = "notice_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    notice: Mapped[Notice] = relationship(back_populates="updates")


class RevisionAction(enum.StrEnum):
    EDITED = "edited"
    WITHDRAWN = "withdrawn"


class NoticeRevision(db.Model):
    """One correction or the withdrawal of a notice: what each changed field was before and after.

    ``changes`` maps a field (title, body, starts_at, ends_at, service_ends_on) to ``[before, after]``
    as text (datetimes in ISO 8601, UTC), so the notice's page shows its whole history.
    """

    __tablename__ = "notice_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(String(500), default="")
    # Whether the primary administrators were emailed again about it (the operator's choice).
    renotified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    notice: Mapped[Notice] = relationship(back_populates="revisions")
    created_by: Mapped[User | None] = relationship(lazy="joined")


class NoticeTarget(TenantScoped, db.Model):
    """A chosen organization of a notice that is not for all."""

    __tablename__ = "notice_targets"
    __table_args__ = (UniqueConstraint("notice_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)


class NoticeRead(TenantScoped, db.Model):
    """Who read which notice, and when (the operator sees it; the board counts the unread)."""

    __tablename__ = "notice_reads"
    __table_args__ = (UniqueConstraint("notice_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")
