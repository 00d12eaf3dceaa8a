"""The weekly summary email to an organization's administrators: one row per organization and week."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.tenancy import TenantScoped


class WeeklySummary(TenantScoped, db.Model):
    """The week's summary of one organization was queued (to ``recipients`` administrators). The unique key
    is the claim: a restarted job or a second worker finds the row and queues nothing again."""

    __tablename__ = "weekly_summaries"
    __table_args__ = (UniqueConstraint("organization_id", "week_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    # The Monday (Tokyo) of the week summarised.
    week_of: Mapped[date] = mapped_column(Date)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
