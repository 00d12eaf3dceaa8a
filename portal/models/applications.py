"""Applications for the service (利用申込, terms Art. 16-2-2) from companies (Art. 2-1), before they are customers."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Organization, User
from portal.models.base import UTCDateTime, utcnow
from portal.models.legal import LegalDocument


class ApplicationStatus(enum.StrEnum):
    # Submitted; the applicant has not yet opened the confirmation link. The operator does not act on it.
    UNCONFIRMED = "unconfirmed"
    # The email address is confirmed: the application waits for the operator's review.
    CONFIRMED = "confirmed"
    APPROVED = "approved"
    REJECTED = "rejected"


class ScreeningResult(enum.StrEnum):
    CLEAR = "clear"  # no sign of an anti-social force: approval may proceed
    CONCERN = "concern"  # a concern found: the application cannot be approved


class ServiceKind(enum.StrEnum):
    SECUTORE = "secutore"
    SECUREJI = "secureji"


class Application(db.Model):
    """One company's application. Not tenant-scoped: it exists before its organization does.

    The confirmation link's secret is kept only as a SHA-256; ``organization_id`` is set on approval.
    """

    __tablename__ = "applications"
    __tenant_exempt__ = "comes before its organization; only operators and the applicant's own link read it"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=ApplicationStatus.UNCONFIRMED, index=True)
    corporate_name: Mapped[str] = mapped_column(String(200))
    # 法人番号: 13 digits, the first one a check digit.
    corporate_number: Mapped[str] = mapped_column(String(13), index=True)
    postal_code: Mapped[str] = mapped_column(String(8))
    prefecture: Mapped[str] = mapped_column(String(8))
    address_line1: Mapped[str] = mapped_column(String(200))
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    applicant_name: Mapped[str] = mapped_column(String(100))
    applicant_department: Mapped[str] = mapped_column(String(100), default="")
    # Lower-cased, like User.email.
    applicant_email: Mapped[str] = mapped_column(String(254), index=True)
    admin_name: Mapped[str] = mapped_column(String(100))
    admin_department: Mapped[str] = mapped_column(String(100), default="")
    admin_email: Mapped[str] = mapped_column(String(254), index=True)
    expected_learners: Mapped[int] = mapped_column(Integer)
    desired_start_on: Mapped[date] = mapped_column(Date)
    # Comma-separated ServiceKind values, in the order of ServiceKind.
    services: Mapped[str] = mapped_column(String(64))
    terms_document_id: Mapped[int | None] = mapped_column(ForeignKey("legal_documents.id", ondelete="SET NULL"))
    # Kept as text as well: the version the applicant saw, even if the document row goes.
    terms_version: Mapped[str] = mapped_column(String(40))
    terms_accepted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str | None] = mapped_column(String(45))
    # The applicant's declaration that it is not an anti-social force (Art. 24-1); NULL before 0026_terms.
    antisocial_declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The operator's screening (反社チェック, Art. 24-2) before approval: result, day, who, note.
    screening_result: Mapped[str | None] = mapped_column(String(16))
    screened_on: Mapped[date | None] = mapped_column(Date)
    screened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    screening_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    terms_document: Mapped[LegalDocument | None] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    screened_by: Mapped[User | None] = relationship(foreign_keys=[screened_by_id])
    organization: Mapped[Organization | None] = relationship()

    @property
    def service_list(self) -> list[str]:
        return [s for s in (self.services or "").split(",") if s]

    @property
    def reference(self) -> str:
        """受付番号 shown to the applicant and the operator."""
        return f"A{self.id:06d}"
