"""The operator's back office: the emails given up on (the home), invoices and credit notes.

Every function validates its business rule, writes, audits, queues email and flushes; the view
commits once. A broken rule raises :class:`RuleViolation` with a Japanese message for the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from portal import audit
from portal.clock import TOKYO, today_in_tokyo, utcnow
from portal.extensions import db
from portal.models import (
    Contract,
    CreditNote,
    Invoice,
    Organization,
    OrganizationStatus,
    OrganizationStatusChange,
    OutboxMessage,
    OutboxStatus,
    User,
)
from portal.organizations import change_status, mail_primary_admin
from portal.outbox import external_url
from portal.rules import RuleViolation
from portal.seats import month_key, overage_between
from portal.tenancy import unscoped

REGISTRATION_NUMBER = re.compile(r"T\d{13}")
NON_PAYMENT_REASON = _l("利用料金のお支払いが確認できないため(利用規約第3条第4項)")


# --- the operator's home ----------------------------------------------------------------------


def dead_emails_since(since: datetime) -> list[OutboxMessage]:
    """Emails given up on (status dead) among those queued since ``since``."""
    with unscoped("the operator sees every organization's email"):
        return list(
            db.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == OutboxStatus.DEAD, OutboxMessage.created_at >= since)
                .order_by(OutboxMessage.created_at.desc())
                .limit(50)
            )
        )


# --- invoices (Art. 3) ----------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceAmounts:
    base_amount: int
    overage_seats: int
    overage_unit_price: int
    tax_rate: int

    @property
    def overage_amount(self) -> int:
        return self.overage_seats * self.overage_unit_price

    @property
    def subtotal(self) -> int:
        return self.base_amount + self.overage_amount

    @property
    def tax_amount(self) -> int:
        # A qualified invoice rounds the tax once per rate per invoice; fractions of a yen are dropped.
        return self.subtotal * self.tax_rate // 100

    @property
    def total(self) -> int:
        return self.subtotal + self.tax_amount


def suggested_overage_seats(contract: Contract, period_start: date, period_end: date) -> int:
    """Learners over the limit in the period's month that went furthest over the limit in force that month."""
    first = month_key(datetime.combine(period_start, datetime.min.time(), tzinfo=TOKYO))
    last = month_key(datetime.combine(period_end, datetime.min.time(), tzinfo=TOKYO))
    return overage_between(contract.organization_id, first, last, contract.seat_limit)


def issuer_settings() -> tuple[str, str, str]:
    """(issuer name, registration number, bank account) from the configuration.

    :raises RuleViolation: the registration number or bank account is not configured properly.
    """
    cfg = current_app.config
    number = (cfg.get("INVOICE_REGISTRATION_NUMBER") or "").strip()
    bank = (cfg.get("INVOICE_BANK_ACCOUNT") or "").strip()
    if not REGISTRATION_NUMBER.fullmatch(number):
        raise RuleViolation(
            _l(
                "適格請求書発行事業者の登録番号(T+13桁)が設定されていません。"
                "PORTAL_INVOICE_REGISTRATION_NUMBER を設定してください。"
            )
        )
    if not bank:
        raise RuleViolation(_l("振込先口座が設定されていません。PORTAL_INVOICE_BANK_ACCOUNT を設定してください。"))
    return cfg["INVOICE_ISSUER_NAME"], number, bank


def issue_invoice(
    org: Organization,
    contract: Contract,
    *,
    period_start: date,
    period_end: date,
    due_on: date,
    overage_seats: int,
    by: User,
) -> Invoice:
    """Issue the invoice for one contract period and email the primary administrator.

    :raises RuleViolation: impossible dates, negative seats, an invoice for this period already
        issued, or the issuer not configured.
    """
    issued_on = today_in_tokyo()
    if period_end <= period_start:
        raise RuleViolation(_l("請求期間の終了日は開始日より後の日付にしてください。"))
    if due_on < issued_on:
        raise RuleViolation(_l("お支払期限は発行日以降の日付にしてください。"))
    if overage_seats < 0:
        raise RuleViolation(_l("超過人数は0以上にしてください。"))
    issuer_name, number, bank = issuer_settings()
    with unscoped("the operator invoices any organization"):
        exists = db.session.scalar(
            select(Invoice.id).where(Invoice.organization_id == org.id, Invoice.period_start == period_start)
        )
        if exists is not None:
            raise RuleViolation(_l("この期間の請求書はすでに発行されています。"))
        amounts = InvoiceAmounts(
            base_amount=contract.annual_fee,
            overage_seats=overage_seats,
            overage_unit_price=contract.overage_unit_price,
            tax_rate=int(current_app.config["INVOICE_TAX_RATE"]),
        )
        invoice = Invoice(
            organization_id=org.id,
            number=f"TMP-{utcnow().timestamp()}",
            recipient_name=org.name,
            plan_name=contract.plan_name,
            period_start=period_start,
            period_end=period_end,
            base_amount=amounts.base_amount,
            seat_limit=contract.seat_limit,
            overage_seats=amounts.overage_seats,
            overage_unit_price=amounts.overage_unit_price,
            overage_amount=amounts.overage_amount,
            subtotal=amounts.subtotal,
            tax_rate=amounts.tax_rate,
            tax_amount=amounts.tax_amount,
            total=amounts.total,
            issuer_name=issuer_name,
            registration_number=number,
            bank_account=bank,
            issued_on=issued_on,
            due_on=due_on,
            created_by_id=by.id,
        )
        db.session.add(invoice)
        db.session.flush()
        invoice.number = f"INV-{issued_on:%Y%m}-{invoice.id:06d}"
        audit.record("invoice.issued", target=invoice, number=invoice.number, total=invoice.total)
        mail_primary_admin(
            org,
            "invoice_issued",
            f"invoice_issued:{invoice.id}",
            invoice=invoice,
            invoice_url=external_url("org.invoice_detail", invoice_id=invoice.id),
        )
        db.session.flush()
    return invoice


def overdue_invoices_query(today: date | None = None) -> Select:
    today = today or today_in_tokyo()
    return (
        select(Invoice)
        .where(Invoice.paid_at.is_(None), Invoice.due_on < today)
        .order_by(Invoice.due_on, Invoice.id)
    )


def suspend_for_non_payment(invoice: Invoice, by: User) -> OrganizationStatusChange:
    """Suspend the invoice's organization (Art. 3-4). :raises RuleViolation: not overdue, or suspended."""
    if not invoice.is_overdue(today_in_tokyo()):
        raise RuleViolation(_l("お支払期限を過ぎていない請求書では利用停止にできません。"))
    reason = f"{NON_PAYMENT_REASON} {invoice.number}"
    return change_status(invoice.organization, OrganizationStatus.SUSPENDED, reason, by)


def default_due_on() -> date:
    return today_in_tokyo() + timedelta(days=int(current_app.config["INVOICE_DUE_DAYS"]))




# --- credit notes: qualified return invoices (適格返還請求書) ------------------------------------------


def paid_amount(invoice: Invoice) -> int:
    """What the customer has paid on ``invoice`` (tax included): the payments recorded against it
    (``portal/payments.py``)."""
    return invoice.amount_received or 0


def credit_notes_of(invoice: Invoice) -> list[CreditNote]:
    with unscoped("the operator reads any organization's invoices"):
        return list(
            db.session.scalars(
                select(CreditNote).where(CreditNote.invoice_id == invoice.id).order_by(CreditNote.id)
            )
        )


def refundable(invoice: Invoice) -> int:
    """What may still be returned on ``invoice`` (tax included): paid, less the credit notes already issued."""
    return max(0, paid_amount(invoice) - sum(note.total for note in credit_notes_of(invoice)))


def issue_credit_note(invoice: Invoice, amount: int, reason: str, by: User) -> CreditNote:
    """A return invoice for ``amount`` yen (tax excluded) of ``invoice``, with its tax at the invoice's rate;
    emailed to the primary administrator.

    :raises RuleViolation: no reason, an amount of 0 or less, an invoice not paid, a total (tax included) over
        what is left to return, or the issuer not configured.
    """
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation(_l("返還の理由を入力してください。"))
    if amount <= 0:
        raise RuleViolation(_l("返還する金額は1円以上にしてください。"))
    if invoice.paid_at is None:
        raise RuleViolation(_l("入金が確認されていない請求書には返還インボイスを発行できません。"))
    tax_amount = amount * invoice.tax_rate // 100
    total = amount + tax_amount
    left = refundable(invoice)
    if total > left:
        raise RuleViolation(
            _l(
                "返還額(税込 %(total)s円)がお支払い済みで未返還の金額(%(left)s円)を超えています。",
                total=f"{total:,}",
                left=f"{left:,}",
            )
        )
    issuer_name, number, _bank = issuer_settings()
    issued_on = today_in_tokyo()
    with unscoped("the operator acts on any organization"):
        note = CreditNote(
            organization_id=invoice.organization_id,
            invoice_id=invoice.id,
            number=f"TMP-CN-{utcnow().timestamp()}",
            recipient_name=invoice.recipient_name,
            reason=reason,
            amount=amount,
            tax_rate=invoice.tax_rate,
            tax_amount=tax_amount,
            total=total,
            issuer_name=issuer_name,
            registration_number=number,
            issued_on=issued_on,
            created_by_id=by.id,
        )
        db.session.add(note)
        db.session.flush()
        note.number = f"CN-{issued_on:%Y%m}-{note.id:06d}"
        audit.record(
            "credit_note.issued", target=note, number=note.number, invoice=invoice.number, total=note.total
        )
        mail_primary_admin(
            invoice.organization,
            "credit_note_issued",
            f"credit_note_issued:{note.id}",
            note=note,
            invoice=invoice,
            note_url=external_url("org.credit_note_detail", note_id=note.id),
        )
        db.session.flush()
    return note
