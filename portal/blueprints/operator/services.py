"""The operator's back office: organizations and contracts, administrators, status.

Every function validates its business rule, writes, audits, queues email and flushes; the view
commits once. A broken rule raises :class:`RuleViolation` with a Japanese message for the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select

from portal import audit
from portal.accounts import email_taken, name_taken, normalize_email
from portal.clock import add_months_to_date
from portal.contracts import contract_history, termination_fees
from portal.corporations import corporate_number_valid, normalize_corporate_number
from portal.extensions import db
from portal.invitations import send_invitation
from portal.invoicing import default_due_on, issue_invoice, suggested_overage_seats
from portal.models import (
    AuditEvent,
    Contract,
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
from portal.organizations import get_profile
from portal.rules import RuleViolation
from portal.seats import active_learners_query
from portal.tenancy import unscoped
from portal.termination import get_termination

STATUS_LABELS = {
    OrganizationStatus.ACTIVE: _l("利用中"),
    OrganizationStatus.SUSPENDED: _l("利用停止中"),
    OrganizationStatus.TERMINATED: _l("契約終了"),
}


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
        asked to end, no contract to renew, or the invoice refused (see :func:`portal.invoicing.issue_invoice`).
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


# --- the fees until the end of the term (Art. 16-4, 3-5) ---------------------------------------------------


def settle_termination_fees(org: Organization, by: User) -> Invoice | None:
    """Issue the final invoice for the contract period in force if that period was never invoiced.

    The whole period's fee is owed (Art. 16-4 after a cancellation, Art. 3-5 after the customer's request),
    at the terms in force, with the overage recorded so far. Returns the invoice issued, or None.

    :raises RuleViolation: the invoice refused (see :func:`portal.invoicing.issue_invoice`).
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
