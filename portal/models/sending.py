"""What a training delivery and an inspection round share: who they are for, when they open and are due,
when their emails may go out, the reminders, the monthly recurrence and the salt of the personal links.

Both are sent by the same machinery (:mod:`portal.sending`), which reads only these columns.
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.models.base import UTCDateTime, utcnow


class TargetKind(enum.StrEnum):
    EVERYONE = "everyone"
    DEPARTMENTS = "departments"
    LEARNERS = "learners"


class Recurrence(enum.StrEnum):
    NONE = "none"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


class SendingSchedule:
    """Columns of anything sent to learners on a schedule (a mixin for a tenant-scoped model)."""

    target_kind: Mapped[str] = mapped_column(String(16), default=TargetKind.EVERYONE)
    target_department_ids: Mapped[list] = mapped_column(JSON, default=list)
    target_learner_ids: Mapped[list] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Days relative to the due date: negative before it, positive after it (overdue). At most 5.
    reminder_days: Mapped[list] = mapped_column(JSON, default=list)
    # How many of the reminders (in time order) have been sent.
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    window_start_hour: Mapped[int] = mapped_column(Integer, default=9)
    window_end_hour: Mapped[int] = mapped_column(Integer, default=18)
    business_days_only: Mapped[bool] = mapped_column(Boolean, default=True)
    recurrence: Mapped[str] = mapped_column(String(16), default=Recurrence.NONE)
    round_no: Mapped[int] = mapped_column(Integer, default=1)
    # Mixed with the app's secret key to derive each learner's personal link.
    link_salt: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
