"""Mail delivery state beside the outbox: suppressions and hard-failure counts per address."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Organization, User
from portal.models.base import UTCDateTime, utcnow
from portal.tenancy import TenantScoped


class SuppressionReason:
    OPERATOR = "operator"
    HARD_FAILURES = "hard_failures"


class MailSuppression(TenantScoped, db.Model):
    """Email to one address, or to everyone in one organization, is held back while this row exists.

    Operators manage these (across tenants); an address suppression belongs to no organization.
    Lifting deletes the row; the audit trail keeps its history, and the messages it held back stay in
    the outbox with status ``suppressed``.
    """

    __tablename__ = "mail_suppressions"
    __table_args__ = (CheckConstraint("(address IS NULL) <> (organization_id IS NULL)", name="one_target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lower-cased, like User.email.
    address: Mapped[str | None] = mapped_column(String(254), unique=True)
    # Redeclared from TenantScoped: one suppression per organization.
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True
    )
    reason: Mapped[str] = mapped_column(String(16), default=SuppressionReason.OPERATOR)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    organization: Mapped[Organization | None] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(lazy="joined")


class MailAddressFailures(db.Model):
    """Consecutive hard failures (5xx answers) for an address; a delivery or a lifted suppression resets it."""

    __tablename__ = "mail_address_failures"

    address: Mapped[str] = mapped_column(String(254), primary_key=True)
    hard_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
