"""An organization as the back office and the customer both see it: its creation (the operator's form or an
approved application), its administrators' IDs, its profile, its status (suspension, resumption, termination),
the operator's lists of organizations, the handover of its primary administrator, and the email to it.

Used by the organizations subject (``portal/blueprints/organizations/``, both views), the operator's and the
organization's homes, applications once approved, and :mod:`portal.termination` and :mod:`portal.suspension`.
"""

from __future__ import annotations

from functools import cache

from flask import current_app
from sqlalchemy import Select, bindparam, func, or_, select

from portal import audit
from portal.accounts import email_taken, name_taken, normalize_email
from portal.contracts import ContractTerms
from portal.corporations import corporate_number_valid, normalize_corporate_number
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.invitations import send_invitation
from portal.models import (
    Contract,
    Handover,
    Organization,
    OrganizationProfile,
    OrganizationStatus,
    OrganizationStatusChange,
    OutboxMessage,
    Role,
    User,
)
from portal.outbox import external_url, queue_email
from portal.rules import RuleViolation
from portal.seats import active_learners_query
from portal.tenancy import unscoped

STATUS_LABELS = {
    OrganizationStatus.ACTIVE: _l("利用中"),
    OrganizationStatus.SUSPENDED: _l("利用停止中"),
    OrganizationStatus.TERMINATED: _l("契約終了"),
}


def get_or_404(org_id: int) -> Organization:
    """The organization (the operator's views: any organization)."""
    return db.get_or_404(Organization, org_id)


def profile_of(org: Organization | None) -> OrganizationProfile | None:
    """The org's profile in the current tenant scope (None for organizations made before the back office)."""
    if org is None:
        return None
    return db.session.scalar(select(OrganizationProfile).where(OrganizationProfile.organization_id == org.id))


def registration_due(org: Organization | None) -> bool:
    """True until an administrator registers the organization's name, address and administrator (Art. 12-2)."""
    profile = profile_of(org)
    return profile is not None and profile.registered_at is None


def get_profile(org: Organization) -> OrganizationProfile:
    """The org's profile row, created on first need (organizations made before the back office)."""
    with unscoped("filtered by the organization's id in the statement"):
        profile = db.session.scalar(select(OrganizationProfile).where(OrganizationProfile.organization_id == org.id))
        if profile is None:
            profile = OrganizationProfile(organization_id=org.id, registered_at=None)
            db.session.add(profile)
            db.session.flush()
    return profile


def mail_primary_admin(org: Organization, template: str, key: str, **context) -> None:
    admin = get_profile(org).primary_admin
    if admin is None or not admin.email:
        return
    queue_email(
        template,
        admin.email,
        idempotency_key=key,
        organization_id=org.id,
        user_id=admin.id,
        locale=admin.locale,
        user=admin,
        organization=org,
        **context,
    )


# --- creation: the operator's form and an approved application ------------------------------


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
        audit.record("contract.created", target=contract, **terms.for_audit())
        issue_admin(org, admin_name, admin_email, by)
    return org


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


# --- the operator's lists (the organizations page and the operator's home) ----------------------------


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


# --- status: suspension, resumption, termination ---------------------------------------------


def latest_status_change(org: Organization) -> OrganizationStatusChange | None:
    with unscoped("filtered by the organization's id in the statement"):
        return db.session.scalar(
            select(OrganizationStatusChange)
            .where(OrganizationStatusChange.organization_id == org.id)
            .order_by(OrganizationStatusChange.created_at.desc(), OrganizationStatusChange.id.desc())
            .limit(1)
        )


def status_history(org: Organization, limit: int = 10) -> list[OrganizationStatusChange]:
    with unscoped("filtered by the organization's id in the statement"):
        return list(
            db.session.scalars(
                select(OrganizationStatusChange)
                .where(OrganizationStatusChange.organization_id == org.id)
                .order_by(OrganizationStatusChange.created_at.desc(), OrganizationStatusChange.id.desc())
                .limit(limit)
            )
        )


def change_status(org: Organization, status: str, reason: str, by: User | None) -> OrganizationStatusChange:
    """Suspend (Art. 3-4), resume or terminate; the primary administrator is told by email.

    :raises RuleViolation: no change, or no reason for a suspension or termination.
    """
    status = OrganizationStatus(status)
    reason = (reason or "").strip()
    if status == org.status:
        raise RuleViolation(_l("組織はすでにその状態です。"))
    if status != OrganizationStatus.ACTIVE and not reason:
        raise RuleViolation(_l("利用停止・契約終了には理由を入力してください。"))
    with unscoped("the operator acts on any organization"):
        previous = org.status
        org.status = status
        change = OrganizationStatusChange(
            organization_id=org.id, status=status, reason=reason, changed_by_id=by.id if by else None
        )
        db.session.add(change)
        db.session.flush()
        audit.record(
            "org.status_changed", target=org, actor=by, previous=previous, status=str(status), reason=reason
        )
        profile = get_profile(org)
        admin = profile.primary_admin
        if admin is not None and admin.email:
            queue_email(
                "org_status_changed",
                admin.email,
                idempotency_key=f"org_status_changed:{change.id}",
                organization_id=org.id,
                user_id=admin.id,
                locale=admin.locale,
                user=admin,
                organization=org,
                status=str(status),
                reason=reason,
                contact=current_app.config["BILLING_CONTACT"],
                portal_url=external_url("main.index"),
            )
        db.session.flush()
    return change


# --- the handover of the primary administrator (Art. 12) and what the operator sent before ----------------

# Emails from the operator that a successor must be able to read again (never invitations: they carry links).
OPERATOR_TEMPLATES = ("org_status_changed", "invoice_issued", "notice", "termination_received", "cure_notice")


def pending_handover(org: Organization) -> Handover | None:
    with unscoped("filtered by the organization's id in the statement"):
        return db.session.scalar(_pending_handover(), {"organization_id": org.id})


@cache
def _pending_handover() -> Select:
    """Built once (#17): the administrator's start page asks on every visit."""
    return select(Handover).where(Handover.organization_id == bindparam("organization_id"),
                                  Handover.accepted_at.is_(None))


def operator_messages(org: Organization) -> list[OutboxMessage]:
    """What the operator emailed this organization, so that a successor reads what came before."""
    return list(
        db.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.organization_id == org.id, OutboxMessage.template.in_(OPERATOR_TEMPLATES))
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(200)
        )
    )
