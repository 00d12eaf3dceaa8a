"""Issuing invoices (Art. 3): the amounts of a qualified invoice (適格請求書), the issuer's settings, the
invoice for one contract period, and which invoices are overdue.

In the core because billing issues invoices and so do a contract's renewal and the fees owed at termination;
the money received against them is ``portal/payments.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Select, select

from portal import audit
from portal.clock import TOKYO, today_in_tokyo, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import Contract, Invoice, Organization, User
from portal.organizations import mail_primary_admin
from portal.outbox import external_url
from portal.rules import RuleViolation
from portal.seats import month_key, overage_between
from portal.tenancy import unscoped

REGISTRATION_NUMBER = re.compile(r"T\d{13}")


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
            invoice_url=external_url("org_billing.invoice_detail", invoice_id=invoice.id),
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


def default_due_on() -> date:
    return today_in_tokyo() + timedelta(days=int(current_app.config["INVOICE_DUE_DAYS"]))
