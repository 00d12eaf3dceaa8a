"""Billing: the operator issues invoices and credit notes, records the money received and suspends an
organization that does not pay; the organization reads its invoices.

Issuing an invoice is ``portal/invoicing.py`` (a renewal and the fees at termination issue them too), the
money received against it ``portal/payments.py``. Every function here validates its business rule, writes,
audits, queues email and flushes; the request commits once. A broken rule raises :class:`RuleViolation`.
"""

from __future__ import annotations

from sqlalchemy import select

from portal import audit
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.invoicing import issuer_settings
from portal.models import CreditNote, Invoice, OrganizationStatus, OrganizationStatusChange, User
from portal.organizations import change_status, mail_primary_admin
from portal.outbox import external_url
from portal.rules import RuleViolation
from portal.tenancy import unscoped

NON_PAYMENT_REASON = _l("利用料金のお支払いが確認できないため(利用規約第3条第4項)")


# --- suspension for non-payment (Art. 3-4) ----------------------------------------------------------------


def suspend_for_non_payment(invoice: Invoice, by: User) -> OrganizationStatusChange:
    """Suspend the invoice's organization (Art. 3-4). :raises RuleViolation: not overdue, or suspended."""
    if not invoice.is_overdue(today_in_tokyo()):
        raise RuleViolation(_l("お支払期限を過ぎていない請求書では利用停止にできません。"))
    reason = f"{NON_PAYMENT_REASON} {invoice.number}"
    return change_status(invoice.organization, OrganizationStatus.SUSPENDED, reason, by)


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
            note_url=external_url("org_billing.credit_note_detail", note_id=note.id),
        )
        db.session.flush()
    return note
