"""Billing that follows the money (Art. 3, 23): bank transfers received, assigned to invoices, reminders
(督促) before and after the due date, resuming an organization suspended for non-payment once paid, and
what an organization paid in the last twelve months (the cap on damages of Art. 23-2).

An invoice's balance is its total minus the payments assigned to it; ``Invoice.paid_at`` is the moment
the balance first reached zero. A payment is recorded as the bank statement shows it and may stay
unassigned (whose money it is is not known yet) until the operator assigns it.

Overpayment: money that arrived cannot be refused, so a payment above the balance is refused only until
the operator confirms it; it is then recorded and the invoice shows the excess as an amount to refund.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.orm import aliased

from portal import audit
from portal.clock import TOKYO, add_months_to_date, today_in_tokyo, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.jobs import periodic
from portal.models import (
    Invoice,
    InvoiceReminder,
    Organization,
    OrganizationStatus,
    OrganizationStatusChange,
    Payment,
    User,
)
from portal.organizations import change_status, get_profile, latest_status_change
from portal.outbox import external_url, queue_email
from portal.rules import RuleViolation
from portal.tenancy import tenant_scope, unscoped

PAYMENT_STATUS_LABELS = {
    "unpaid": _l("未入金"),
    "partial": _l("一部入金"),
    "paid": _l("入金済み"),
    "overpaid": _l("過入金(返金あり)"),
}
MAX_AMOUNT = 2_000_000_000
# What a Japanese bank statement prints for the payer (全銀協 characters), once folded to full width.
PAYER_NAME = re.compile(r"[0-9A-Zァ-ヶー゛゜ .,()\-/「」¥]+")
# Reminders: a week before the due date, the day after it, then weekly.
DUE_SOON_DAYS = 7
REMINDER_WEEKS = 12
# Reminders are queued from 9:00 in Tokyo, not at night.
REMINDER_HOUR = 9


def payer_name(raw: str) -> str:
    """The payer name folded as banks print it: half-width katakana to full width, letters upper case,
    spaces single. Empty stays empty. :raises RuleViolation: kanji, hiragana or other characters."""
    text = unicodedata.normalize("NFKC", raw or "").upper()
    text = text.replace("\u3000", " ")
    text = re.sub(r"\s+", " ", text).strip()
    if text and not PAYER_NAME.fullmatch(text):
        raise RuleViolation(
            _l("振込名義は通帳や明細に印字されたとおり、カタカナ・英数字で入力してください(例: カ)エー)。")
        )
    if len(text) > 100:
        raise RuleViolation(_l("振込名義は100文字以内で入力してください。"))
    return text


def _check_amount(amount: int | None) -> int:
    if amount is None or isinstance(amount, bool) or not isinstance(amount, int):
        raise RuleViolation(_l("入金額は半角数字(円)で入力してください。"))
    if amount <= 0:
        raise RuleViolation(_l("入金額は1円以上で入力してください。"))
    if amount > MAX_AMOUNT:
        raise RuleViolation(_l("入金額が大きすぎます。入力を確認してください。"))
    return amount


def _check_received_on(received_on: date | None) -> date:
    if received_on is None:
        raise RuleViolation(_l("入金日を入力してください。"))
    if received_on > today_in_tokyo():
        raise RuleViolation(_l("入金日に未来の日付は指定できません。通帳や明細の日付を入力してください。"))
    if received_on < date(2000, 1, 1):
        raise RuleViolation(_l("入金日が古すぎます。入力を確認してください。"))
    return received_on


@contextmanager
def refusals_audited(action: str, **details) -> Iterator[None]:
    """A refused payment stays on record although the request rolls back (nothing else is written)."""
    try:
        yield
    except RuleViolation as refusal:
        audit.record_denial(action, reason=str(refusal), **details)
        raise


def _refresh(invoice: Invoice) -> None:
    db.session.flush()
    db.session.refresh(invoice, ["amount_received"])


def _apply(payment: Payment, invoice: Invoice, allow_overpayment: bool, by: User) -> None:
    """Assign ``payment`` to ``invoice``; the invoice becomes paid when its balance reaches zero.

    :raises RuleViolation: the amount exceeds the balance and the operator has not confirmed it.
    """
    balance = invoice.balance
    if payment.amount > balance and not allow_overpayment:
        if balance <= 0:
            raise RuleViolation(
                _l(
                    "請求書 %(number)s はすでに全額入金済みです。"
                    "過入金として記録する場合は確認欄にチェックしてください。",
                    number=invoice.number,
                )
            )
        raise RuleViolation(
            _l("入金額 %(amount)s円 は請求書 %(number)s の残高 %(balance)s円 を %(excess)s円 超えています。"
               "金額を確認するか、過入金(差額は返金)として記録する場合は確認欄にチェックしてください。",
               amount=f"{payment.amount:,}", number=invoice.number, balance=f"{balance:,}",
               excess=f"{payment.amount - balance:,}")
        )
    payment.invoice_id = invoice.id
    payment.organization_id = invoice.organization_id
    payment.assigned_by_id = by.id
    payment.assigned_at = utcnow()
    _refresh(invoice)
    audit.record(
        "payment.assigned", target=invoice, actor=by, payment=payment.id, number=invoice.number,
        amount=payment.amount, balance=invoice.balance, overpaid=invoice.balance < 0,
    )
    if invoice.balance <= 0 and invoice.paid_at is None:
        invoice.paid_at = utcnow()
        audit.record("invoice.paid", target=invoice, actor=by, number=invoice.number, received=invoice.amount_received)
    db.session.flush()


def record_payment(
    *,
    received_on: date | None,
    amount: int | None,
    payer: str,
    note: str = "",
    invoice: Invoice | None = None,
    allow_overpayment: bool = False,
    by: User,
) -> Payment:
    """A bank transfer as the statement shows it, assigned to ``invoice`` or left unassigned.

    :raises RuleViolation: no date or a future one, an amount that is not a positive number of yen, a payer
        name that is not katakana or alphanumeric, or an amount above the invoice's balance unconfirmed.
    """
    with refusals_audited("payment.refused", amount=amount if isinstance(amount, int) else None,
                          invoice=invoice.number if invoice else None):
        received_on = _check_received_on(received_on)
        amount = _check_amount(amount)
        name = payer_name(payer)
    # Unassigned money belongs to no organization yet: the row is written outside any tenant.
    with unscoped("a payment arrives before it is matched to an organization"):
        payment = Payment(
            received_on=received_on, amount=amount, payer_name=name, note=(note or "").strip()[:200],
            recorded_by_id=by.id, organization_id=None,
        )
        db.session.add(payment)
        db.session.flush()
        audit.record(
            "payment.recorded", target=payment, actor=by, amount=amount, received_on=received_on.isoformat(),
            payer_name=name,
        )
        if invoice is not None:
            with refusals_audited("payment.refused", amount=amount, invoice=invoice.number):
                _apply(payment, invoice, allow_overpayment, by)
    return payment


def assign_payment(payment: Payment, invoice: Invoice, allow_overpayment: bool, by: User) -> Payment:
    """Assign an unassigned payment. :raises RuleViolation: already assigned, or an unconfirmed overpayment."""
    if payment.invoice_id is not None:
        raise RuleViolation(_l("この入金はすでに請求書に割り当てられています。"))
    with (
        unscoped("the operator matches any organization's invoice"),
        refusals_audited("payment.refused", amount=payment.amount, invoice=invoice.number),
    ):
        _apply(payment, invoice, allow_overpayment, by)
    return payment


def pay_balance(invoice: Invoice, by: User) -> Payment:
    """Record the invoice's whole balance as received today (the one-click "paid").

    :raises RuleViolation: nothing is owed.
    """
    if invoice.balance <= 0:
        raise RuleViolation(_l("この請求書はすでに入金済みです。"))
    return record_payment(
        received_on=today_in_tokyo(), amount=invoice.balance, payer="", note=str(_l("残高の入金を記録")),
        invoice=invoice, by=by,
    )


def find_invoice_by_number(number: str) -> Invoice | None:
    number = unicodedata.normalize("NFKC", number or "").strip().upper()
    if not number:
        return None
    with unscoped("invoice numbers are unique across organizations"):
        return db.session.scalar(select(Invoice).where(Invoice.number == number))


def suggested_invoices(payment: Payment, limit: int = 5) -> list[Invoice]:
    """Open invoices most likely paid by ``payment``: the balance equals the amount, and the same payer
    name paid the organization before; then the oldest due date. One query."""
    earlier = aliased(Payment)
    same_payer = (
        exists().where(earlier.organization_id == Invoice.organization_id, earlier.payer_name == payment.payer_name,
                       earlier.id != payment.id)
        if payment.payer_name
        else None
    )
    balance = Invoice.total - Invoice.amount_received
    score = case((balance == payment.amount, 2), else_=0) + (case((same_payer, 3), else_=0) if same_payer is not None
                                                              else 0)
    stmt = (
        select(Invoice)
        .where(Invoice.paid_at.is_(None))
        .order_by(score.desc(), Invoice.due_on, Invoice.id)
        .limit(limit)
    )
    with unscoped("open invoices of every organization"):
        return list(db.session.scalars(stmt))


def unassigned_payments_query() -> Select:
    return select(Payment).where(Payment.invoice_id.is_(None)).order_by(Payment.received_on, Payment.id)


def payments_of(invoice: Invoice) -> list[Payment]:
    with unscoped("the operator reads any organization's invoice"):
        return list(
            db.session.scalars(
                select(Payment).where(Payment.invoice_id == invoice.id).order_by(Payment.received_on, Payment.id)
            )
        )


def received_last_12_months(org: Organization, today: date | None = None) -> int:
    """Yen received from ``org`` in the twelve months up to today (the cap on damages of Art. 23-2)."""
    today = today or today_in_tokyo()
    since = add_months_to_date(today, -12)
    with unscoped("the operator reads any organization's payments"):
        return int(
            db.session.scalar(
                select(func.coalesce(func.sum(Payment.amount), 0)).where(
                    Payment.organization_id == org.id, Payment.received_on > since, Payment.received_on <= today
                )
            )
        )


# --- resuming an organization suspended for non-payment ------------------------------------------


def suspended_for(invoice: Invoice) -> OrganizationStatusChange | None:
    """The suspension of the invoice's organization for this invoice's non-payment, if it is the current one."""
    org = invoice.organization
    if org.status != OrganizationStatus.SUSPENDED:
        return None
    change = latest_status_change(org)
    if change is None or change.status != OrganizationStatus.SUSPENDED or invoice.number not in change.reason:
        return None
    return change


def other_overdue(invoice: Invoice) -> list[Invoice]:
    with unscoped("the operator and the reminders job, any organization"):
        return list(
            db.session.scalars(
                select(Invoice).where(
                    Invoice.organization_id == invoice.organization_id, Invoice.id != invoice.id,
                    Invoice.paid_at.is_(None), Invoice.due_on < today_in_tokyo(),
                )
            )
        )


def may_offer_resume(invoice: Invoice) -> bool:
    """Fully paid, its organization suspended for it, and nothing else overdue."""
    return invoice.balance <= 0 and suspended_for(invoice) is not None and not other_overdue(invoice)


def resume_after_payment(invoice: Invoice, by: User) -> OrganizationStatusChange:
    """Resume the organization suspended for this invoice, now paid; its primary administrator is told.

    :raises RuleViolation: not fully paid, the organization not suspended for this invoice, or another
        invoice still overdue.
    """
    if invoice.balance > 0:
        raise RuleViolation(_l("請求書 %(number)s はまだ全額入金されていません。", number=invoice.number))
    if suspended_for(invoice) is None:
        raise RuleViolation(_l("この組織は、この請求書の未払いによる利用停止中ではありません。"))
    if other_overdue(invoice):
        raise RuleViolation(_l("この組織にはほかにお支払期限を過ぎた未払いの請求書があります。"))
    reason = str(_l("ご入金を確認しました(請求書 %(number)s)。", number=invoice.number))
    change = change_status(invoice.organization, OrganizationStatus.ACTIVE, reason, by)
    audit.record("org.resumed_after_payment", target=invoice.organization, actor=by, number=invoice.number)
    return change


# --- reminders (督促) ---------------------------------------------------------------------------


def reminder_step(invoice: Invoice, today: date) -> str | None:
    """The reminder an unpaid invoice is due for today, if any (the latest step only: a job that did not
    run for a while sends one email, not the ones it missed)."""
    if invoice.balance <= 0:
        return None
    if invoice.due_on - timedelta(days=DUE_SOON_DAYS) <= today < invoice.due_on:
        # An invoice issued less than a week before its due date was just sent; no reminder before it.
        if invoice.issued_on <= invoice.due_on - timedelta(days=DUE_SOON_DAYS):
            return "due_soon"
        return None
    if today > invoice.due_on:
        week = (today - invoice.due_on - timedelta(days=1)).days // 7
        if week < REMINDER_WEEKS:
            return f"overdue_{week}"
    return None


def billing_recipients(org: Organization) -> list[User]:
    """Who receives reminders: the primary administrator (the only billing contact the profile has)."""
    admin = get_profile(org).primary_admin
    return [admin] if admin is not None and admin.email and admin.is_active_flag else []


def send_reminder(invoice: Invoice, step: str, now: datetime) -> int:
    """Queue one reminder step of ``invoice`` (in its organization's scope); returns the emails queued,
    0 when the step was sent already."""
    exists_already = db.session.scalar(
        select(InvoiceReminder.id).where(InvoiceReminder.invoice_id == invoice.id, InvoiceReminder.step == step)
    )
    if exists_already is not None:
        return 0
    org = invoice.organization
    recipients = billing_recipients(org)
    row = InvoiceReminder(
        organization_id=org.id, invoice_id=invoice.id, step=step, balance=invoice.balance, recipients=len(recipients)
    )
    db.session.add(row)
    db.session.flush()
    overdue = step != "due_soon"
    for user in recipients:
        queue_email(
            "invoice_reminder", user.email,
            idempotency_key=f"invoice_reminder:{invoice.id}:{step}:{user.id}",
            organization_id=org.id, user_id=user.id, locale=user.locale, topic=f"invoice:{invoice.id}",
            user=user, organization=org, invoice=invoice, balance=invoice.balance, overdue=overdue,
            days_overdue=(today_in_tokyo(now) - invoice.due_on).days,
            invoice_url=external_url("org_billing.invoice_detail", invoice_id=invoice.id),
        )
    audit.record("invoice.reminder_sent", target=invoice, actor=None, number=invoice.number, step=step,
                 balance=invoice.balance, recipients=len(recipients))
    db.session.flush()
    return len(recipients)


@periodic("payments.reminders", every=timedelta(hours=1))
def send_payment_reminders(now: datetime) -> int:
    """From 9:00 in Tokyo, each unpaid invoice's reminder of the day, once per step; returns the emails."""
    if now.astimezone(TOKYO).hour < REMINDER_HOUR:
        return 0
    today = today_in_tokyo(now)
    horizon = today + timedelta(days=DUE_SOON_DAYS)
    # The job looks at every organization's open invoices; each reminder is written in its own scope.
    with unscoped("a worker job covers every organization"):
        invoices = db.session.scalars(
            select(Invoice)
            .join(Organization, Organization.id == Invoice.organization_id)
            .where(Invoice.paid_at.is_(None), Invoice.due_on <= horizon,
                   Organization.status != OrganizationStatus.TERMINATED)
            .order_by(Invoice.due_on, Invoice.id)
        ).all()
    queued = 0
    for invoice in invoices:
        step = reminder_step(invoice, today)
        if step is None:
            continue
        with tenant_scope(invoice.organization_id):
            queued += send_reminder(invoice, step, now)
    return queued
