"""Signing in and out, passwords and resets. Services write and flush; the view commits."""

from __future__ import annotations

import hashlib

from flask import current_app, g, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from portal import audit
from portal.extensions import db, login_manager
from portal.models import User, utcnow
from portal.outbox import external_url, queue_email
from portal.passwords import hash_password, needs_rehash, verify_password
from portal.tenancy import ALL_TENANTS, reset_scope, set_scope, unscoped
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
