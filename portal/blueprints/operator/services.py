"""The operator's back office: organizations and contracts, administrators, status, invoices.

Every function validates its business rule, writes, audits, queues email and flushes; the view
commits once. A broken rule raises :class:`RuleViolation` with a Japanese message for the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select

from portal import audit
from portal.accounts import email_taken, name_taken, normalize_email
from portal.clock import TOKYO, add_months_to_date, today_in_tokyo, utcnow
from portal.contracts import contract_history, termination_fees
from portal.corporations import corporate_number_valid, normalize_corporate_number
from portal.extensions import db
from portal.invitations import send_invitation
from portal.models import (
    AuditEvent,
    Contract,
    CreditNote,
    Invoice,
    Organization,
    OrganizationProfile,
    OrganizationStatus,
    OrganizationStatusChange,
    OutboxMessage,
    OutboxStatus,
    Role,
    User,
)
from portal.organizations import change_status, get_profile, mail_primary_admin
from portal.outbox import external_url
from portal.rules import RuleViolation
from portal.seats import active_learners_query, month_key, overage_between
from portal.tenancy import unscoped
from portal.termination import get_termination

REGISTRATION_NUMBER = re.compile(r"T\d{13}")
STATUS_LABELS = {
    OrganizationStatus.ACTIVE: _l("利用中"),
    OrganizationStatus.SUSPENDED: _l("利用停止中"),
    OrganizationStatus.TERMINATED: _l("契約終了"),
}
NON_PAYMENT_REASON = _l("利用料金のお支払いが確認できないため(利用規約第3条第4項)")


# --- organizations and contracts ------------------------------------------------------------


@dataclass
class ContractTerms:
    plan_name: str
    starts_on: date
    ends_on: date
    seat_limit: int
    annual_fee: int
    overage_unit_price: int

    def check(self) -> None:
        """:raises RuleViolation: impossible dates, a limit below one, negative amounts."""
        if self.ends_on <= self.starts_on:
            raise RuleViolation(_l("契約終了日は契約開始日より後の日付にしてください。"))
        if self.seat_limit <= 0:
            raise RuleViolation(_l("上限利用者数は1以上にしてください。"))
        if self.annual_fee < 0 or self.overage_unit_price < 0:
            raise RuleViolation(_l("金額は0円以上にしてください。"))


def create_organization(
    name: str,
    terms: ContractTerms,
    admin_name: str,
    admin_email: str,
    by: User,
    corporate_number: str | None = None,
) -> Organization:
    """A corporate customer (Art. 2-1) with its contract and primary administrator, who is invited.

    :raises RuleViolation: a duplicate name or administrator email, bad contract terms, or a 法人番号 whose
        check digit is wrong.
    """
    name = name.strip()
    if not name:
        raise RuleViolation(_l("法人名を入力してください。"))
    corporate_number = normalize_corporate_number(corporate_number) or None
    if corporate_number is not None and not corporate_number_valid(corporate_number):
        raise RuleViolation(_l("法人番号が正しくありません(チェックデジットが一致しません)。番号をご確認ください。"))
    if name_taken(name):
        raise RuleViolation(_l("同じ法人名の組織がすでに登録されています。"))
    terms.check()
    if email_taken(admin_email):
        raise RuleViolation(_l("このメールアドレスはすでに登録されています。"))
    with unscoped("the operator creates a new organization"):
        org = Organization(name=name, status=OrganizationStatus.ACTIVE, corporate_number=corporate_number)
        db.session.add(org)
        db.session.flush()
        contract = Contract(organization_id=org.id, **terms.__dict__)
        profile = OrganizationProfile(organization_id=org.id)
        db.session.add_all([contract, profile])
        db.session.add(
            OrganizationStatusChange(
                organization_id=org.id, status=OrganizationStatus.ACTIVE, reason="", changed_by_id=by.id
            )
        )
        db.session.flush()
        audit.record("org.created", target=org, name=org.name, corporate_number=corporate_number)
        audit.record("contract.created", target=contract, **_terms_for_audit(terms))
        issue_admin(org, admin_name, admin_email, by)
    return org


def _terms_for_audit(terms: ContractTerms) -> dict:
    values = dict(terms.__dict__)
    values["starts_on"] = terms.starts_on.isoformat()
    values["ends_on"] = terms.ends_on.isoformat()
    return values


def update_contract(contract: Contract, terms: ContractTerms, by: User) -> Contract:
    """:raises RuleViolation: impossible dates, a limit below one, negative amounts."""
    terms.check()
    before = _terms_for_audit(
        ContractTerms(
            contract.plan_name,
            contract.starts_on,
            contract.ends_on,
            contract.seat_limit,
            contract.annual_fee,
            contract.overage_unit_price,
        )
    )
    with unscoped("the operator acts on any organization"):
        for key, value in terms.__dict__.items():
            setattr(contract, key, value)
        after = _terms_for_audit(terms)
        changed = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        audit.record("contract.updated", target=contract, changes=changed)
        db.session.flush()
    return contract


def save_contract(org: Organization, contract: Contract | None, terms: ContractTerms, by: User) -> Contract:
    """Create the contract of an organization that has none, or update it. :raises RuleViolation:"""
    if contract is not None:
        return update_contract(contract, terms, by)
    terms.check()
    with unscoped("the operator acts on any organization"):
        contract = Contract(organization_id=org.id, **terms.__dict__)
        db.session.add(contract)
        db.session.flush()
        audit.record("contract.created", target=contract, **_terms_for_audit(terms))
    return contract


def issue_admin(org: Organization, name: str, email: str, by: User) -> User:
    """An administrator ID (Art. 1, 2-2) without password; invited by email. The first becomes primary.

    :raises RuleViolation: the email is already registered.
    """
    email = normalize_email(email)
    if email_taken(email):
        raise RuleViolation(_l("このメールアドレスはすでに登録されています。"))
    with unscoped("the operator acts on any organization"):
        user = User(organization_id=org.id, role=Role.ORG_ADMIN, email=email, name=name.strip(), password_hash=None)
        db.session.add(user)
        db.session.flush()
        profile = get_profile(org)
        if profile.primary_admin_id is None:
            profile.primary_admin_id = user.id
        audit.record("org.admin_issued", target=user, primary=profile.primary_admin_id == user.id)
        send_invitation(user, by, org.name)
    return user


def resend_invitation(user: User, by: User) -> None:
    """:raises RuleViolation: the user has set a password already."""
    if user.password_hash:
        raise RuleViolation(_l("この管理者はすでにパスワードを設定済みです。"))
    send_invitation(user, by, user.organization.name)


# --- lists for the operator -----------------------------------------------------------------


def organizations_query(q: str = "", status: str = "", over_limit: bool = False) -> Select:
    """Rows of (Organization, Contract or None, active learners), in one query."""
    used = active_learners_query().subquery()
    used_count = func.coalesce(used.c.used, 0)
    stmt = (
        select(Organization, Contract, used_count.label("used"))
        .outerjoin(Contract, Contract.organization_id == Organization.id)
        .outerjoin(used, used.c.organization_id == Organization.id)
        .order_by(Organization.name, Organization.id)
    )
    q = (q or "").strip()
    if q:
        stmt = stmt.where(
            or_(
                Organization.name.icontains(q, autoescape=True),
                Organization.code.icontains(q, autoescape=True),
                Contract.plan_name.icontains(q, autoescape=True),
            )
        )
    if status in set(OrganizationStatus):
        stmt = stmt.where(Organization.status == status)
    if over_limit:
        stmt = stmt.where(Contract.id.is_not(None), used_count > Contract.seat_limit)
    return stmt


def status_counts() -> dict[str, int]:
    rows = db.session.execute(select(Organization.status, func.count(Organization.id)).group_by(Organization.status))
    counts = dict.fromkeys((str(s) for s in OrganizationStatus), 0)
    counts.update(dict(rows.all()))
    return counts


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


def recent_activity(org: Organization, limit: int = 20) -> list[AuditEvent]:
    with unscoped("the operator reads any organization's audit"):
        return list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.organization_id == org.id)
                .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
                .limit(limit)
            )
        )


def org_staff(org: Organization) -> list[User]:
    """The active administrators and managers of ``org`` (one whose access a handover ended is not listed)."""
    with unscoped("the operator reads any organization's staff"):
        return list(
            db.session.scalars(
                select(User)
                .where(
                    User.organization_id == org.id,
                    User.role.in_([Role.ORG_ADMIN, Role.MANAGER]),
                    User.is_active_flag.is_(True),
                )
                .order_by(User.role.desc(), User.id)
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




# --- renewal: the next contract period (Art. 3) ---------------------------------------------------------


def renewal_terms(org: Organization) -> ContractTerms | None:
    """The default renewal: the latest period's terms for the year after it ends (None without a contract)."""
    history = contract_history(org.id)
    if not history:
        return None
    latest = history[0]
    starts_on = latest.ends_on + timedelta(days=1)
    return ContractTerms(
        plan_name=latest.plan_name,
        starts_on=starts_on,
        ends_on=add_months_to_date(starts_on, 12) - timedelta(days=1),
        seat_limit=latest.seat_limit,
        annual_fee=latest.annual_fee,
        overage_unit_price=latest.overage_unit_price,
    )


def renew_contract(org: Organization, terms: ContractTerms, due_on: date, by: User) -> tuple[Contract, Invoice]:
    """Add the next contract period and issue its invoice (emailed to the primary administrator).

    :raises RuleViolation: bad terms, a period that overlaps an earlier one, an organization that has ended or
        asked to end, no contract to renew, or the invoice refused (see :func:`issue_invoice`).
    """
    terms.check()
    history = contract_history(org.id)
    if not history:
        raise RuleViolation(_l("更新する契約がありません。先に契約内容を登録してください。"))
    if org.status == OrganizationStatus.TERMINATED:
        raise RuleViolation(_l("契約が終了した組織の契約は更新できません。"))
    if get_termination(org) is not None:
        raise RuleViolation(_l("利用終了の申し入れ・解除を受けている組織の契約は更新できません。"))
    latest = history[0]
    if terms.starts_on <= latest.ends_on:
        raise RuleViolation(
            _l("新しい契約期間は現在の契約の終了日(%(day)s)より後に始めてください。", day=f"{latest.ends_on:%Y/%m/%d}")
        )
    with unscoped("the operator acts on any organization"):
        contract = Contract(organization_id=org.id, **terms.__dict__)
        db.session.add(contract)
        db.session.flush()
        audit.record("contract.renewed", target=contract, previous=latest.id, **_terms_for_audit(terms))
    invoice = issue_invoice(
        org, contract, period_start=terms.starts_on, period_end=terms.ends_on, due_on=due_on, overage_seats=0, by=by
    )
    return contract, invoice


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


# --- the fees until the end of the term (Art. 16-4, 3-5) ---------------------------------------------------


def settle_termination_fees(org: Organization, by: User) -> Invoice | None:
    """Issue the final invoice for the contract period in force if that period was never invoiced.

    The whole period's fee is owed (Art. 16-4 after a cancellation, Art. 3-5 after the customer's request),
    at the terms in force, with the overage recorded so far. Returns the invoice issued, or None.

    :raises RuleViolation: the invoice refused (see :func:`issue_invoice`).
    """
    fees = termination_fees(org.id)
    if fees is None or fees.invoiced:
        return None
    contract = fees.contract
    invoice = issue_invoice(
        org,
        contract,
        period_start=contract.starts_on,
        period_end=contract.ends_on,
        due_on=default_due_on(),
        overage_seats=suggested_overage_seats(contract, contract.starts_on, contract.ends_on),
        by=by,
    )
    audit.record("contract.final_invoice_issued", target=invoice, number=invoice.number, total=invoice.total)
    return invoice
