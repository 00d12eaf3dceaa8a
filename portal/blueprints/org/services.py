"""The organization's registration (Art. 12), its administrators and managers."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit
from portal.blueprints.invitations.services import send_invitation
from portal.blueprints.operator.services import RuleViolation, email_taken, name_taken
from portal.extensions import db
from portal.models import Organization, OrganizationProfile, Role, User, utcnow

MEMBER_ROLES = (Role.ORG_ADMIN, Role.MANAGER)


def profile_of(org: Organization | None) -> OrganizationProfile | None:
    """The org's profile in the current tenant scope (None for organizations made before the back office)."""
    if org is None:
        return None
    return db.session.scalar(select(OrganizationProfile).where(OrganizationProfile.organization_id == org.id))


def registration_due(org: Organization | None) -> bool:
    profile = profile_of(org)
    return profile is not None and profile.registered_at is None


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
        raise RuleViolation(_l("このメールアドレスはすでに登録されています。"))
    user = User(organization_id=org.id, role=role, email=email, name=name.strip(), password_hash=None)
    db.session.add(user)
    db.session.flush()
    audit.record("org.member_invited", target=user, role=role)
    send_invitation(user, by, org.name)
    return user
