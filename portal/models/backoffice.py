"""The operator's side of a customer: contract, registered profile, status history, invoices, seat usage."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from portal.extensions import db
from portal.models.accounts import Organization, User
from portal.models.base import UTCDateTime, utcnow
from portal.tenancy import TenantScoped


class Contract(TenantScoped, db.Model):
    """One contract period of an organization (Art. 3). Amounts are integer yen, tax excluded.

    An organization keeps every period: a renewal adds the next one (``portal.contracts``), so the
    contract in force is the latest that has started (:func:`portal.contracts.current_contract`).
    ``ends_on`` is the period's last day.
    """

    __tablename__ = "contracts"
    __table_args__ = (
        CheckConstraint("ends_on > starts_on", name="ends_after_start"),
        CheckConstraint("seat_limit > 0", name="seat_limit_positive"),
        CheckConstraint("annual_fee >= 0", name="annual_fee_not_negative"),
        CheckConstraint("overage_unit_price >= 0", name="overage_unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    plan_name: Mapped[str] = mapped_column(String(100))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    # 上限利用者数: active learners beyond this are charged per seat (Art. 3-2).
    seat_limit: Mapped[int] = mapped_column(Integer)
    annual_fee: Mapped[int] = mapped_column(Integer)
    # Per learner over the limit, for the contract period.
    overage_unit_price: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship(lazy="joined")


class OrganizationProfile(TenantScoped, db.Model):
    """What the customer registers itself (Art. 12-2) and who its primary administrator is (Art. 12-1).

    ``registered_at`` is empty until the first administrator has registered; until then the org
    screens send that administrator to the registration form.
    """

    __tablename__ = "organization_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True, index=True
    )
    # The one administrator who receives the operator's email; a column, so there is exactly one.
    primary_admin_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    postal_code: Mapped[str] = mapped_column(String(8), default="")
    prefecture: Mapped[str] = mapped_column(String(8), default="")
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(20), default="")
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship(lazy="joined")
    primary_admin: Mapped[User | None] = relationship(lazy="joined")


class OrganizationStatusChange(TenantScoped, db.Model):
    """Each change of ``Organization.status`` with its reason; the latest one explains the current status."""

    __tablename__ = "organization_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    changed_by: Mapped[User | None] = relationship(lazy="joined")


class Invoice(TenantScoped, db.Model):
    """A qualified invoice (適格請求書) for one contract period, paid by bank transfer (Art. 3-3).

    Issuer, registration number, bank account and amounts are copied at issue, so a later change of
    configuration or contract never alters an invoice already sent.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("organization_id", "period_start"),
        CheckConstraint("period_end > period_start", name="period_ends_after_start"),
        CheckConstraint("total >= 0", name="total_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    recipient_name: Mapped[str] = mapped_column(String(200))
    plan_name: Mapped[str] = mapped_column(String(100))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    base_amount: Mapped[int] = mapped_column(Integer)
    seat_limit: Mapped[int] = mapped_column(Integer)
    overage_seats: Mapped[int] = mapped_column(Integer)
    overage_unit_price: Mapped[int] = mapped_column(Integer)
    overage_amount: Mapped[int] = mapped_column(Integer)
    subtotal: Mapped[int] = mapped_column(Integer)
    tax_rate: Mapped[int] = mapped_column(Integer)
    tax_amount: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    issuer_name: Mapped[str] = mapped_column(String(200))
    registration_number: Mapped[str] = mapped_column(String(14))
    bank_account: Mapped[str] = mapped_column(Text)
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organization: Mapped[Organization] = relationship(lazy="joined")

    # ``amount_received``: the sum of the payments assigned to it (a column property set below Payment).

    def is_overdue(self, today: date) -> bool:
        return self.paid_at is None and self.due_on < today

    @property
    def balance(self) -> int:
        """What is still owed; negative when more was received than billed (an overpayment to refund)."""
        return self.total - (self.amount_received or 0)

    @property
    def payment_status(self) -> str:
        """"unpaid", "partial", "paid" or "overpaid"."""
        received = self.amount_received or 0
        if received == 0 and self.total > 0:
            return "unpaid"
        if received < self.total:
            return "partial"
        return "paid" if received == self.total else "overpaid"


class CreditNote(TenantScoped, db.Model):
    """A qualified return invoice (適格返還請求書, 返還インボイス) correcting an issued invoice.

    It names the issuer and registration number, the date, the invoice it corrects, the amount returned
    (tax excluded) and the consumption tax on it by rate; copied at issue like the invoice's own facts.
    """

    __tablename__ = "credit_notes"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("total > 0", name="total_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    recipient_name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    amount: Mapped[int] = mapped_column(Integer)
    tax_rate: Mapped[int] = mapped_column(Integer)
    tax_amount: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    issuer_name: Mapped[str] = mapped_column(String(200))
    registration_number: Mapped[str] = mapped_column(String(14))
    issued_on: Mapped[date] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    invoice: Mapped[Invoice] = relationship(lazy="joined")


class SeatUsage(TenantScoped, db.Model):
    """The highest number of active learners seen in one month (Tokyo time), for overage (Art. 3-2)."""

    __tablename__ = "seat_usage"
    __table_args__ = (UniqueConstraint("organization_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    # "YYYY-MM"
    month: Mapped[str] = mapped_column(String(7))
    peak: Mapped[int] = mapped_column(Integer, default=0)
    # The contract's limit and unit price in force that month, kept with the month so that a later change of
    # the contract (or a renewal) does not rewrite a past month's overage. Empty: no contract had started.
    seat_limit: Mapped[int | None] = mapped_column(Integer)
    overage_unit_price: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Termination(TenantScoped, db.Model):
    """The end of an organization's use: its request (Art. 15) or the operator's cancellation (Art. 16)."""

    __tablename__ = "terminations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), unique=True, index=True
    )
    # "customer" (申し入れ, Art. 15) or "operator" (解除, Art. 16)
    kind: Mapped[str] = mapped_column(String(16))
    end_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The service ends on end_on only once the operator has received the request (Art. 15).
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id], lazy="joined")


class CureNotice(TenantScoped, db.Model):
    """A notice asking an organization to cure a breach within 14 days (催告, Art. 16-3).

    Open until ``cured_at`` is set; once ``deadline_on`` has passed uncured, the operator may cancel the
    contract on ground 16-3. ``expired_at`` is when the periodic job first saw it expired.
    """

    __tablename__ = "cure_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    breach: Mapped[str] = mapped_column(Text)
    # The last day (Tokyo) on which the breach may be cured.
    deadline_on: Mapped[date] = mapped_column(Date, index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cured_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cured_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cure_note: Mapped[str] = mapped_column(String(500), default="")
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    organization: Mapped[Organization] = relationship(lazy="joined")
    sent_by: Mapped[User | None] = relationship(foreign_keys=[sent_by_id], lazy="joined")


class DeletionRecord(db.Model):
    """What was deleted of an organization, by whom and when. Outlives the organization (no foreign key)."""

    __tablename__ = "deletion_records"
    # Staff-only, and it must outlive the organization, so the tenant guard does not apply.
    __tenant_exempt__ = "operator-only record that outlives the deleted organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(Integer, index=True)
    organization_name: Mapped[str] = mapped_column(String(200))
    # "personal": personal data after the retention period; "all": everything, at the operator's request.
    scope: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # {"table name": rows deleted}
    counts: Mapped[dict] = mapped_column(JSON, default=dict)

    deleted_by: Mapped[User | None] = relationship(lazy="joined")


class DeletionRequestStatus:
    PENDING = "pending"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


class DeletionRequest(db.Model):
    """One operator asks to delete all of an organization's data; a different operator approves (four eyes).

    Kept after the deletion, like :class:`DeletionRecord`: who asked, on what ground, who approved.
    """

    __tablename__ = "deletion_requests"
    __tenant_exempt__ = "operator-only record that outlives the deleted organization's data"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(Integer, index=True)
    organization_name: Mapped[str] = mapped_column(String(200))
    # "ended" (the contract is over) or a ground of the terms, Art. 16 or 19 (portal.deletion.GROUNDS).
    ground: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default=DeletionRequestStatus.PENDING, index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deletion_record_id: Mapped[int | None] = mapped_column(ForeignKey("deletion_records.id", ondelete="SET NULL"))

    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")


class Handover(TenantScoped, db.Model):
    """Passing the primary administrator's role to a successor, with notes (Art. 12-1-2)."""

    __tablename__ = "handovers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    predecessor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    successor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    # What the predecessor keeps after acceptance: "end" (no access), "manager" or "org_admin".
    predecessor_after: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    predecessor: Mapped[User | None] = relationship(foreign_keys=[predecessor_id], lazy="joined")
    successor: Mapped[User] = relationship(foreign_keys=[successor_id], lazy="joined")


class ThirdParty(TenantScoped, db.Model):
    """A third party the operator has approved to use the service under the customer (Art. 14-1)."""

    __tablename__ = "third_parties"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(500), default="")
    approved_on: Mapped[date] = mapped_column(Date)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ThirdPartyMember(TenantScoped, db.Model):
    """A learner who belongs to an approved third party (the customer answers for them, Art. 14-2)."""

    __tablename__ = "third_party_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    third_party_id: Mapped[int] = mapped_column(ForeignKey("third_parties.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    third_party: Mapped[ThirdParty] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")


class Payment(TenantScoped, db.Model):
    """Money received by bank transfer (Art. 3-3), as the bank statement shows it.

    Recorded first and assigned to an invoice then or later: until it is assigned it belongs to no
    organization (``organization_id`` NULL, seen only by staff). Amounts are integer yen, tax included.
    """

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"), index=True)
    received_on: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[int] = mapped_column(Integer)
    # 振込名義 as the statement prints it, folded to full-width katakana (portal.payments.payer_name).
    payer_name: Mapped[str] = mapped_column(String(100), default="", index=True)
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    invoice: Mapped[Invoice | None] = relationship(lazy="joined")


# What an invoice has received, read with the invoice in the same statement (no query per row).
Invoice.amount_received = column_property(
    select(func.coalesce(func.sum(Payment.amount), 0))
    .where(Payment.invoice_id == Invoice.id)
    .correlate_except(Payment)
    .scalar_subquery(),
    deferred=False,
)


class InvoiceReminder(TenantScoped, db.Model):
    """One payment reminder (督促) of one invoice at one step; the row makes the job idempotent."""

    __tablename__ = "invoice_reminders"
    __table_args__ = (UniqueConstraint("invoice_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    # "due_soon" (7 days before), "overdue_0" (the day after the due date), "overdue_1" (a week later), ...
    step: Mapped[str] = mapped_column(String(16))
    balance: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
