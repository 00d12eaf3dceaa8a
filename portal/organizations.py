"""An organization as the back office and the customer both see it: its profile, its status (suspension,
resumption, termination) and the email to its primary administrator.

Used by the operator's and the organization's areas, by applications once approved, and by
:mod:`portal.termination` and :mod:`portal.suspension`.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models import Organization, OrganizationProfile, OrganizationStatus, OrganizationStatusChange, User
from portal.outbox import external_url, queue_email
from portal.rules import RuleViolation
from portal.tenancy import unscoped


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
