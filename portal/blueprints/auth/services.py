"""Signing in and out, passwords and resets. Services write and flush; the view commits."""

from __future__ import annotations

import hashlib
import unicodedata

from flask import current_app, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from portal import audit
from portal.extensions import db, login_manager
from portal.models import Organization, OrganizationStatus, Role, User, utcnow
from portal.outbox import external_url, queue_email
from portal.passwords import hash_password, needs_rehash, verify_password
from portal.tenancy import ALL_TENANTS, reset_scope, set_scope, tenant_scope, unscoped
from portal.tokens import TokenInvalid, consume_token, issue_token, peek_token

RESET_PURPOSE = "password_reset"
LOCKOUT_MESSAGE = _l(
    "ログインに続けて失敗したため、一時的にログインを制限しています。15分ほど待ってからもう一度お試しください。"
    "パスワードを忘れた場合は「パスワードを忘れた方」から再設定できます。"
)


def normalize_email(value: str | None) -> str:
    return (value or "").strip().lower()


def find_user_by_email(email: str) -> User | None:
    """Any organization's user: sign-in happens before a tenant is known."""
    email = normalize_email(email)
    if not email:
        return None
    with unscoped():
        return db.session.scalar(select(User).where(User.email == email))


# --- sessions -------------------------------------------------------------------------------


@login_manager.user_loader
def load_user(alt_id: str) -> User | None:
    """Flask-Login's loader. The id carries the session token, so rotating it ends every session."""
    user_id, _, token = (alt_id or "").partition(":")
    if not user_id.isdigit() or not token:
        return None
    with unscoped():
        user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or user.session_token != token:
        return None
    return user


def bind_request_scope() -> None:
    """Before each request: the tenant scope is the signed-in user's organization."""
    if current_user.is_authenticated:
        scope = ALL_TENANTS if current_user.is_staff else current_user.organization_id
    else:
        scope = None
    g._tenant_scope_token = set_scope(scope)


def release_request_scope(exc=None) -> None:
    token = g.pop("_tenant_scope_token", None)
    if token is not None:
        reset_scope(token)


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. Both outcomes are audited."""
    user = find_user_by_email(email)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        with unscoped():
            audit.record(
                "auth.login_failed",
                target=user,
                reason="inactive" if (ok and user) else "bad_credentials",
            )
        return None
    with unscoped():
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        audit.record("auth.login", target=user, actor=user)
        db.session.flush()
    return user


def start_session(user: User) -> None:
    """A fresh session (no fixation), keeping only the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session.permanent = True
    login_user(user, remember=False)


def end_all_sessions(user: User, action: str = "auth.logout") -> None:
    """End this and every other session of ``user``."""
    with unscoped():
        user.end_all_sessions()
        audit.record(action, target=user, actor=user)
        db.session.flush()
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang


def audit_lockout() -> None:
    user = find_user_by_email(request.form.get("email", ""))
    with unscoped():
        audit.record("auth.lockout", target=user, actor=None)
        db.session.commit()


def login_account_key() -> str:
    """Rate-limit key per account: the submitted address, hashed so no email sits in the store."""
    email = normalize_email(request.form.get("email"))
    return "login:" + hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()


# --- passwords ------------------------------------------------------------------------------


def change_password(user: User, new_password: str) -> None:
    with unscoped():
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        audit.record("auth.password_changed", target=user, actor=user)
        db.session.flush()


def request_password_reset(email: str) -> None:
    """Email a reset link if the address belongs to an active user; say nothing either way."""
    user = find_user_by_email(email)
    with unscoped():
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
    with unscoped():
        return peek_token(raw, RESET_PURPOSE).user


def reset_password(raw: str, new_password: str) -> User:
    """Set a new password through a reset link, once. :raises TokenInvalid:"""
    with unscoped():
        user = consume_token(raw, RESET_PURPOSE)
        if not user.is_active:
            raise TokenInvalid
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()
        user.must_change_password = False
        user.end_all_sessions()
        audit.record("auth.password_reset", target=user, actor=user)
        db.session.flush()
    return user


# --- learners: the organization's login URL, sign-in links, invitations ------------------------

SIGN_IN_LINK_PURPOSE = "magic_link"
# Endpoints a user who must change their password can still reach.
_PASSWORD_CHANGE_ALLOWED = {"auth.change_password", "auth.logout", "main.set_language", "static"}


def normalize_login_id(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def find_organization(code: str) -> Organization | None:
    """The active organization with login code ``code``, or None."""
    if not code or len(code) > 32:
        return None
    org = db.session.scalar(select(Organization).where(Organization.code == code))
    if org is None or org.status != OrganizationStatus.ACTIVE:
        return None
    return org


def authenticate_learner(organization: Organization | None, login_id: str, password: str) -> User | None:
    """The active learner of ``organization`` with this 受講者ID and password, or None.

    An unknown organization costs the same time and is refused and audited like a wrong password.
    """
    login_id = normalize_login_id(login_id)
    user = None
    if organization is not None and login_id:
        with tenant_scope(organization.id):
            user = db.session.scalar(select(User).where(User.login_id == login_id, User.role == Role.LEARNER))
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        with unscoped():
            audit.record(
                "auth.login_failed",
                target=user,
                organization_id=organization.id if organization else None,
                via="organization_url",
                reason="inactive" if (ok and user) else "bad_credentials",
            )
        return None
    with unscoped():
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utcnow()
        audit.record("auth.login", target=user, actor=user, via="organization_url")
        db.session.flush()
    return user


def org_login_account_key() -> str:
    """Rate-limit key per account at an organization's URL: code and 受講者ID, hashed."""
    code = (request.view_args or {}).get("code", "")
    login_id = normalize_login_id(request.form.get("login_id")).lower()
    digest = hashlib.sha256(f"{code}\x00{login_id}".encode("utf-8", "surrogatepass")).hexdigest()
    return "org-login:" + digest


def request_sign_in_link(organization: Organization | None, email: str) -> None:
    """Email a one-time sign-in link if the organization allows it and the address is one of its
    active learners; say nothing either way (the caller shows the same answer)."""
    user = find_user_by_email(email)
    with unscoped():
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
    with unscoped():
        return peek_token(raw, SIGN_IN_LINK_PURPOSE).user


def use_sign_in_link(raw: str) -> User:
    """Use a sign-in link once and return its (active) learner. :raises TokenInvalid:"""
    with unscoped():
        user = consume_token(raw, SIGN_IN_LINK_PURPOSE)
        if not user.is_active or user.organization is None or not user.organization.magic_link_sign_in:
            raise TokenInvalid
        user.last_login_at = utcnow()
        audit.record("auth.login", target=user, actor=user, via="sign_in_link")
        db.session.flush()
    return user


def enforce_password_change():
    """Before each request: a user with an initial password reaches only the change-password page."""
    if not current_user.is_authenticated or not current_user.must_change_password:
        return None
    if request.endpoint in _PASSWORD_CHANGE_ALLOWED:
        return None
    target = url_for("auth.change_password")
    if request.headers.get("HX-Request") == "true":
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303 if request.method != "GET" else 302)


def sign_in_page_for(user: User) -> str:
    """Where ``user`` signs in again: the organization's URL for a learner without email."""
    if not user.email and user.organization is not None:
        return url_for("auth.org_login", code=user.organization.code)
    return url_for("auth.login")
