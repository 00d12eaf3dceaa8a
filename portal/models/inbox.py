"""The operator's inbox: what customers did (or what time made due) that waits on staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import User
from portal.models.base import UTCDateTime, utcnow


class InboxItem(db.Model):
    """One thing for the operator to handle: an application, a termination request, an overdue invoice...

    ``key`` makes opening idempotent (``termination:12``, ``ticket_due:7:20261207T0100``): the service or
    the periodic job that opens an item twice gets the first one back. ``subject_type``/``subject_id`` name
    the underlying object the inbox links to.
    """

    __tablename__ = "inbox_items"
    __tenant_exempt__ = "the operator's work queue across all organizations; customers never read it"
    __table_args__ = (Index("ix_inbox_items_open_kind", "handled_at", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(120), unique=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    # What the operator reads in the list: an organization's or applicant's name, an invoice number.
    summary: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")

    handled_by: Mapped[User | None] = relationship(foreign_keys=[handled_by_id])

    @property
    def is_open(self) -> bool:
        return self.handled_at is None

    def __repr__(self) -> str:
        return f"<InboxItem {self.id} {self.key}>"
