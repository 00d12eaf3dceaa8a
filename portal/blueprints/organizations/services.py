"""Organizations: the operator's (contracts, administrators, renewal, the page of one organization) and the
organization's own (registration, members, the handover of the primary administrator, Art. 12).

Every function validates its business rule, writes, audits, queues email and flushes; the request commits
once. A broken rule raises :class:`RuleViolation` with a Japanese message for the user. Creating an
organization and issuing an administrator's ID are :mod:`portal.organizations` (an approved application
creates one too).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from portal import audit, inbox
from portal.accounts import ADDRESS_UNAVAILABLE, email_taken, name_taken
from portal.clock import add_months_to_date, utcnow
from portal.contracts import ContractTerms, contract_history
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.invitations import send_invitation
from portal.invoicing import issue_invoice
from portal.models import (
    AuditEvent,
    Contract,
    Handover,
    Invoice,
    Organization,
    OrganizationProfile,
    OrganizationStatus,
    Role,
    User,
)
from portal.organizations import pending_handover, profile_of
from portal.outbox import external_url, queue_email
from portal.rules import RuleViolation
from portal.tenancy import unscoped
from portal.termination import get_termination

# --- the operator's view: contracts, administrators, renewal (Art. 3) -----------------------------


def update_contract(contract: Contract, terms: ContractTerms, by: User) -> Contract:
    """:raises RuleViolation: impossible dates, a limit below one, negative amounts."""
    terms.check()
    before = ContractTerms.of(contract).for_audit()
    with unscoped("the operator acts on any organization"):
        for key, value in terms.__dict__.items():
            setattr(contract, key, value)
        after = terms.for_audit()
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
        audit.record("contract.created", target=contract, **terms.for_audit())
    return contract


def resend_invitation(user: User, by: User) -> None:
    """:raises RuleViolation: the user has set a password already."""
    if user.password_hash:
        raise RuleViolation(_l("この管理者はすでにパスワードを設定済みです。"))
    send_invitation(user, by, user.organization.name)


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
        audit.record("contract.renewed", target=contract, previous=latest.id, **terms.for_audit())
    invoice = issue_invoice(
        org, contract, period_start=terms.starts_on, period_end=terms.ends_on, due_on=due_on, overage_seats=0, by=by
    )
    return contract, invoice


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


# --- the organization's view: registration (Art. 12-2), administrators and managers -------------------

MEMBER_ROLES = (Role.ORG_ADMIN, Role.MANAGER)


def is_primary_admin(user: User) -> bool:
    profile = profile_of(user.organization)
    return profile is not None and profile.primary_admin_id == user.id


@dataclass
class ProfileData:
    organization_name: str
    postal_code: str
    prefecture: str
    address_line1: str
    address_line2: str
    phone: str
    admin_name: str


def save_profile(org: Organization, admin: User, data: ProfileData) -> OrganizationProfile:
    """Register (first time) or change the organization's name, address, phone and the admin's name.

    :raises RuleViolation: the name belongs to another organization already.
    """
    if name_taken(data.organization_name, exclude_id=org.id):
        raise RuleViolation(_l("同じ法人名の組織がすでに登録されています。運営事務局にお問い合わせください。"))
    profile = profile_of(org)
    if profile is None:
        profile = OrganizationProfile(organization_id=org.id)
        db.session.add(profile)
    first = profile.registered_at is None
    before = {
        "organization_name": org.name,
        "postal_code": profile.postal_code,
        "prefecture": profile.prefecture,
        "address_line1": profile.address_line1,
        "address_line2": profile.address_line2,
        "phone": profile.phone,
        "admin_name": admin.name,
    }
    org.name = data.organization_name
    profile.postal_code = data.postal_code
    profile.prefecture = data.prefecture
    profile.address_line1 = data.address_line1
    profile.address_line2 = data.address_line2
    profile.phone = data.phone
    admin.name = data.admin_name
    if first:
        profile.registered_at = utcnow()
    if profile.primary_admin_id is None and admin.role == Role.ORG_ADMIN:
        profile.primary_admin_id = admin.id
    after = dict(data.__dict__)
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    audit.record(
        "org.profile_registered" if first else "org.profile_updated",
        target=org,
        organization_id=org.id,
        changes=changes,
    )
    db.session.flush()
    return profile


def members(org: Organization) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.role.in_([str(r) for r in MEMBER_ROLES])).order_by(User.role.desc(), User.id)
        )
    )


def invite_member(org: Organization, name: str, email: str, role: str, by: User) -> User:
    """Another administrator or a manager, invited by email; only the primary administrator may.

    :raises RuleViolation: not the primary administrator, an unknown role, or the email is taken.
    """
    if not is_primary_admin(by):
        raise RuleViolation(_l("管理者・マネージャーを追加できるのは主管理者だけです。"))
    if role not in {str(r) for r in MEMBER_ROLES}:
        raise RuleViolation(_l("権限を選んでください。"))
    email = email.strip().lower()
    if email_taken(email):
        raise RuleViolation(ADDRESS_UNAVAILABLE)
    user = User(organization_id=org.id, role=role, email=email, name=name.strip(), password_hash=None)
    db.session.add(user)
    db.session.flush()
    audit.record("org.member_invited", target=user, role=role)
    send_invitation(user, by, org.name)
    return user


# --- handover of the primary administrator (Art. 12-1-2) -------------------------------------

PREDECESSOR_CHOICES = ("end", "manager", "org_admin")


def start_handover(
    org: Organization, successor_name: str, successor_email: str, notes: str, predecessor_after: str, by: User
) -> Handover:
    """Name a successor to the primary administrator, with notes; the successor is invited.

    :raises RuleViolation: not the primary administrator (nor the operator), a handover already
        pending, a successor from another organization or staff, or the predecessor themself.
    """
    if not by.is_staff and not is_primary_admin(by):
        raise RuleViolation(_l("引き継ぎを始められるのは主管理者か運営事務局だけです。"))
    if predecessor_after not in PREDECESSOR_CHOICES:
        raise RuleViolation(_l("前任者の引き継ぎ後の扱いを選んでください。"))
    if pending_handover(org) is not None:
        raise RuleViolation(_l("進行中の引き継ぎがあります。後任者の受諾をお待ちください。"))
    email = successor_email.strip().lower()
    with unscoped("the successor's address is looked up service-wide"):
        profile = db.session.scalar(select(OrganizationProfile).where(OrganizationProfile.organization_id == org.id))
        predecessor = profile.primary_admin if profile else None
        successor = db.session.scalar(select(User).where(User.email == email))
        if successor is not None and successor.organization_id != org.id:
            raise RuleViolation(ADDRESS_UNAVAILABLE)
        if successor is not None and predecessor is not None and successor.id == predecessor.id:
            raise RuleViolation(_l("現在の主管理者を後任者に指定することはできません。"))
        if successor is not None and (successor.role == Role.LEARNER or not successor.is_active):
            raise RuleViolation(
                _l("後任者には、有効な管理者・マネージャー、または新しいメールアドレスを指定してください。")
            )
        new_user = successor is None
        if new_user:
            successor = User(
                organization_id=org.id,
                role=Role.ORG_ADMIN,
                email=email,
                name=successor_name.strip(),
                password_hash=None,
            )
            db.session.add(successor)
            db.session.flush()
        handover = Handover(
            organization_id=org.id,
            predecessor_id=predecessor.id if predecessor else None,
            successor_id=successor.id,
            notes=notes.strip(),
            predecessor_after=predecessor_after,
            created_by_id=by.id,
        )
        db.session.add(handover)
        db.session.flush()
        audit.record(
            "org.handover_started", target=handover, successor=successor.id, predecessor_after=predecessor_after
        )
        if not by.is_staff:
            # The customer changes who answers for the contract (Art. 12-1-2); the operator checks it.
            inbox.open_item(
                "handover",
                str(handover.id),
                subject_type="Handover",
                subject_id=handover.id,
                organization_id=org.id,
                summary=org.name,
            )
        if new_user:
            send_invitation(successor, by, org.name, template="handover", handover=handover)
        else:
            queue_email(
                "handover",
                successor.email,
                idempotency_key=f"handover:{handover.id}",
                organization_id=org.id,
                user_id=successor.id,
                locale=successor.locale,
                user=successor,
                organization_name=org.name,
                invited_by=by,
                handover=handover,
                accept_url=external_url("org_organizations.handover_accept"),
                days=0,
            )
        db.session.flush()
    return handover


def accept_handover(handover: Handover, user: User) -> None:
    """The successor takes the primary role; the predecessor keeps what was chosen. :raises RuleViolation:"""
    if handover.accepted_at is not None or handover.successor_id != user.id:
        raise RuleViolation(_l("この引き継ぎは受諾できません。"))
    profile = db.session.scalar(
        select(OrganizationProfile).where(OrganizationProfile.organization_id == handover.organization_id)
    )
    if profile is None:
        profile = OrganizationProfile(organization_id=handover.organization_id)
        db.session.add(profile)
    profile.primary_admin_id = user.id
    user.role = Role.ORG_ADMIN
    predecessor = handover.predecessor
    if predecessor is not None and predecessor.id != user.id:
        if handover.predecessor_after == "end":
            predecessor.is_active_flag = False
            predecessor.end_all_sessions()
        elif handover.predecessor_after == "manager":
            predecessor.role = Role.MANAGER
    handover.accepted_at = utcnow()
    audit.record(
        "org.handover_accepted",
        target=handover,
        predecessor=handover.predecessor_id,
        predecessor_after=handover.predecessor_after,
    )
    db.session.flush()
