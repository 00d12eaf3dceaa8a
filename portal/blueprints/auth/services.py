"""Who may sign in, passwords and resets, sign-in links, two-factor enrolment. Services write and flush; the
request commits. The session itself (start, second factor pending, end) is portal/sign_in.py."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import Select, bindparam, select

from portal import audit, inbox, mfa
from portal.accounts import find_user_by_email, login_id_is, normalize_login_id
from portal.clock import epoch_seconds, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import Organization, OrganizationStatus, Role, User
from portal.outbox import external_url, queue_email
from portal.passwords import hash_password, needs_rehash, verify_password
from portal.site_state import ProcessCache
from portal.staff_alerts import queue_staff_alert
from portal.tenancy import tenant_scope, unscoped
from portal.tokens import TokenInvalid, consume_token, issue_token, peek_token

RESET_PURPOSE = "password_reset"


# --- signing in --------------------------------------------------------------------------------


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Both outcomes are audited."""
    user = find_user_by_email(email)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        with unscoped("sign-in comes before a tenant is known"):
            audit.record(
                "auth.login_failed",
                target=user,
                reason="inactive" if (ok and user) else "bad_credentials",
            )
        return None
    with unscoped("sign-in comes before a tenant is known"):
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        audit.record("auth.login", target=user, actor=user)
        db.session.flush()
    return user


# --- passwords ------------------------------------------------------------------------------


def change_password(user: User, new_password: str) -> None:
    with unscoped("any account: staff (no organization) or a customer's"):
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        audit.record("auth.password_changed", target=user, actor=user)
        db.session.flush()


def request_password_reset(email: str) -> None:
    """Email a reset link if the address belongs to an active user; say nothing either way."""
    user = find_user_by_email(email)
    with unscoped("an anonymous visitor: the account is found by its address"):
        if user is None or not user.is_active:
            audit.record("auth.password_reset_requested", outcome="no_active_account")
            return
        raw = issue_token(user, RESET_PURPOSE, current_app.config["PASSWORD_RESET_TTL"])
        hours = int(current_app.config["PASSWORD_RESET_TTL"].total_seconds() // 3600)
        message = queue_email(
            "password_reset",
            user.email,
            idempotency_key=f"password_reset:{user.id}:{hashlib.sha256(raw.encode()).hexdigest()[:16]}",
            organization_id=user.organization_id,
            user_id=user.id,
            locale=user.locale,
            user=user,
            reset_url=external_url("auth.reset_password", token=raw),
            hours=hours,
        )
        audit.record("auth.password_reset_requested", target=user, actor=None, message_id=message.id)


def reset_target(raw: str) -> User:
    """The user a live reset link belongs to. :raises TokenInvalid:"""
    with unscoped("a reset link names its user before anyone signs in"):
        return peek_token(raw, RESET_PURPOSE).user


def reset_password(raw: str, new_password: str) -> User:
    """Set a new password through a reset link, once. :raises TokenInvalid:"""
    with unscoped("a reset link names its user before anyone signs in"):
        user = consume_token(raw, RESET_PURPOSE)
        if not user.is_active:
            raise TokenInvalid
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        user.password_compromised_at = None
        user.end_all_sessions()
        audit.record("auth.password_reset", target=user, actor=user)
        db.session.flush()
    return user


# --- learners: the organization's login URL, sign-in links, invitations ------------------------

SIGN_IN_LINK_PURPOSE = "magic_link"


def find_organization(code: str) -> Organization | None:
    """The active organization with login code ``code``, or None."""
    if not code or len(code) > 32:
        return None
    org = db.session.scalar(_organization_by_code(), {"code": code})
    if org is None or org.status != OrganizationStatus.ACTIVE:
        return None
    return org


@cache
def _organization_by_code() -> Select:
    """Built once: the organization's login page is a learner's way in (#17)."""
    return select(Organization).where(Organization.code == bindparam("code"))


def offers_sign_in_links(code: str, now: datetime) -> bool:
    """Whether the sign-in page at ``code`` offers a sign-in link by email: an active organization that allows
    them. What the page shows before anyone signs in, so it reads no row (#17: the page every phone opens
    first): the active organizations' codes are kept per process for a minute and forgotten when this process
    writes an organization. Signing in and asking for a link read the organization afresh."""
    return _sign_in_links.get(now).get(code, False)


def _load_sign_in_links(_now, _key) -> dict[str, bool]:
    return dict(db.session.execute(
        select(Organization.code, Organization.magic_link_sign_in)
        .where(Organization.status == OrganizationStatus.ACTIVE)).all())


_sign_in_links = ProcessCache("sign-in links offered", (Organization,), timedelta(seconds=60), _load_sign_in_links)


def authenticate_learner(organization: Organization | None, login_id: str, password: str) -> User | None:
    """The active learner of ``organization`` with this 受講者ID (in any case: learner01 is LEARNER01) and
    password, or None.

    An unknown organization costs the same time and is refused and audited like a wrong password.
    """
    login_id = normalize_login_id(login_id)
    user = None
    if organization is not None and login_id:
        with tenant_scope(organization.id):
            user = db.session.scalar(select(User).where(login_id_is(login_id), User.role == Role.LEARNER))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        with unscoped("sign-in comes before a tenant is known"):
            audit.record(
                "auth.login_failed",
                target=user,
                organization_id=organization.id if organization else None,
                via="organization_url",
                reason="inactive" if (ok and user) else "bad_credentials",
            )
        return None
    with unscoped("sign-in comes before a tenant is known"):
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        audit.record("auth.login", target=user, actor=user, via="organization_url")
        db.session.flush()
    return user


def request_sign_in_link(organization: Organization | None, email: str) -> None:
    """Email a one-time sign-in link if the organization allows it and the address is one of its
    active learners; say nothing either way (the caller shows the same answer)."""
    user = find_user_by_email(email)
    with unscoped("an anonymous visitor: the account is found by its address"):
        if (
            organization is None
            or not organization.magic_link_sign_in
            or user is None
            or user.organization_id != organization.id
            or user.role != Role.LEARNER
            or not user.is_active
        ):
            audit.record(
                "auth.sign_in_link_requested",
                organization_id=organization.id if organization else None,
                outcome="not_sent",
            )
            return
        ttl = current_app.config["MAGIC_LINK_TTL"]
        raw = issue_token(user, SIGN_IN_LINK_PURPOSE, ttl)
        message = queue_email(
            "sign_in_link",
            user.email,
            idempotency_key=f"sign_in_link:{user.id}:{hashlib.sha256(raw.encode()).hexdigest()[:16]}",
            organization_id=user.organization_id,
            user_id=user.id,
            locale=user.locale,
            user=user,
            organization=organization,
            sign_in_url=external_url("auth.sign_in_link", token=raw),
            minutes=int(ttl.total_seconds() // 60),
        )
        audit.record("auth.sign_in_link_requested", target=user, actor=None, message_id=message.id)


def sign_in_link_target(raw: str) -> User:
    """:raises TokenInvalid:"""
    with unscoped("a sign-in link names its user before anyone signs in"):
        return peek_token(raw, SIGN_IN_LINK_PURPOSE).user


def use_sign_in_link(raw: str) -> User:
    """Use a sign-in link once and return its (active) learner. :raises TokenInvalid:"""
    with unscoped("a sign-in link names its user before anyone signs in"):
        user = consume_token(raw, SIGN_IN_LINK_PURPOSE)
        if not user.is_active or user.organization is None or not user.organization.magic_link_sign_in:
            raise TokenInvalid
        user.last_login_at = utcnow()
        audit.record("auth.login", target=user, actor=user, via="sign_in_link")
        db.session.flush()
    return user


# --- two-factor sign-in (#10) -----------------------------------------------------------------

# How long a secret shown for enrollment (QR code) waits for its first code.
MFA_ENROLL_MINUTES = 30


RECOVERY_CODES_REVOKED = _l(
    "以前の回復コードは、安全のため使えなくしました。認証アプリはそのまま使えます。"
    "「2段階認証」の画面で回復コードを作り直してください。"
)


def verify_second_factor(user: User, code: str) -> str | None:
    """Check a TOTP code (never the same time step twice) or an unused recovery code.

    Returns ``"totp"`` or ``"recovery"``; ``None`` when refused. Every outcome is audited.
    """
    with unscoped("the second step comes before the session is signed in"):
        secret = mfa.decrypt_secret(user.totp_secret_encrypted or "")
        step = mfa.matching_step(secret, code, after=user.totp_last_step) if secret else None
        if step is not None:
            user.totp_last_step = step
            user.last_login_at = utcnow()
            audit.record("auth.mfa_verified", target=user, actor=user)
            db.session.flush()
            return "totp"
        hashed = mfa.matching_recovery_hash(user, code)
        if hashed is not None:
            remaining = list(user.recovery_code_hashes)
            remaining.remove(hashed)
            user.recovery_code_hashes = remaining
            user.last_login_at = utcnow()
            audit.record("auth.recovery_code_used", target=user, actor=user, remaining=len(remaining))
            db.session.flush()
            return "recovery"
        # The wrong code is answered with 422 (the request rolls back): the attempt stays on record.
        audit.record_denial("auth.mfa_failed", target=user, actor=None)
    return None


def enrollment_secret(user: User, *, now: datetime | None = None) -> tuple[str, bool]:
    """The secret ``user`` is enrolling, and whether it is new: kept encrypted on the user's row (never in
    the session cookie, which the browser can read) for ``MFA_ENROLL_MINUTES``, then replaced."""
    now = now or utcnow()
    with unscoped("any account: staff (no organization) or a customer's"):
        expires = user.totp_pending_expires_at
        if user.totp_pending_encrypted and expires is not None and expires > now:
            secret = mfa.decrypt_secret(user.totp_pending_encrypted)
            if secret:
                return secret, False
        secret = mfa.new_secret()
        user.totp_pending_encrypted = mfa.encrypt_secret(secret)
        user.totp_pending_expires_at = now + timedelta(minutes=MFA_ENROLL_MINUTES)
        db.session.flush()
    return secret, True


def enroll_mfa(user: User, secret: str, code: str) -> list[str] | None:
    """Turn on two-factor sign-in when ``code`` proves the app holds ``secret``.

    Returns the ten recovery codes (shown once; only their hashes are kept), or None for a wrong code.
    """
    step = mfa.matching_step(secret, code)
    if step is None:
        # Answered with 422 (the request rolls back): the failed attempt stays on record.
        audit.record_denial("auth.mfa_enroll_failed", target=user, actor=user)
        return None
    codes = mfa.new_recovery_codes()
    with unscoped("any account: staff (no organization) or a customer's"):
        user.totp_secret_encrypted = mfa.encrypt_secret(secret)
        user.totp_last_step = step
        user.mfa_enabled_at = utcnow()
        user.recovery_code_hashes = [mfa.hash_recovery_code(user, c) for c in codes]
        user.recovery_codes_revoked_at = None
        user.mfa_reset_at = None
        user.totp_pending_encrypted = None
        user.totp_pending_expires_at = None
        audit.record("auth.mfa_enrolled", target=user, actor=user)
        db.session.flush()
    return codes


def disable_mfa(user: User) -> None:
    """Turn two-factor sign-in off (the view has checked the current password)."""
    with unscoped("any account: staff (no organization) or a customer's"):
        user.totp_secret_encrypted = None
        user.totp_last_step = None
        user.mfa_enabled_at = None
        user.recovery_code_hashes = None
        user.recovery_codes_revoked_at = None
        audit.record("auth.mfa_disabled", target=user, actor=user)
        db.session.flush()


def regenerate_recovery_codes(user: User) -> list[str]:
    codes = mfa.new_recovery_codes()
    with unscoped("any account: staff (no organization) or a customer's"):
        user.recovery_code_hashes = [mfa.hash_recovery_code(user, c) for c in codes]
        user.recovery_codes_revoked_at = None
        audit.record("auth.recovery_codes_regenerated", target=user, actor=user)
        db.session.flush()
    return codes


# --- "someone may know my password" (terms Art. 13-4) -------------------------------------------


def report_compromised_password(user: User) -> bool:
    """The old password stops working at once, every session ends, and the operator is told.

    A user with an email address gets a reset link; one without (受講者ID) asks their administrator
    for a new initial password. Returns whether the report to the operator can be delivered (the
    screen must not say the operator was told when it was not). The caller signs this session out.
    """
    with unscoped("the account itself; the operator's alert and inbox are global"):
        user.password_hash = None
        user.password_compromised_at = utcnow()
        user.end_all_sessions()
        audit.record("auth.password_compromise_reported", target=user, actor=user)
        if user.email:
            raw = issue_token(user, RESET_PURPOSE, current_app.config["PASSWORD_RESET_TTL"])
            queue_email(
                "password_reset",
                user.email,
                idempotency_key=f"password_reset:{user.id}:{hashlib.sha256(raw.encode()).hexdigest()[:16]}",
                organization_id=user.organization_id,
                user_id=user.id,
                locale=user.locale,
                user=user,
                reset_url=external_url("auth.reset_password", token=raw),
                hours=int(current_app.config["PASSWORD_RESET_TTL"].total_seconds() // 3600),
            )
        operator_told = queue_staff_alert(
            "OPERATOR_EMAIL",
            "password_compromise_reported",
            idempotency_key=f"password_compromise:{user.id}:{epoch_seconds()}",
            user_id=None,
            subject_user_id=user.id,
            role=user.role,
            subject_organization_id=user.organization_id,
            audit_url=external_url("operator.audit_log", action="auth.password_compromise_reported"),
        )
        # The alert above is the operator's email; the inbox item keeps the report until someone handles it.
        inbox.open_item(
            "password_compromise",
            f"{user.id}:{user.password_compromised_at:%Y%m%dT%H%M%S}",
            subject_type="User",
            subject_id=user.id,
            organization_id=user.organization_id,
            summary=f"ID {user.id}",
            notify=False,
        )
        db.session.flush()
    return operator_told
