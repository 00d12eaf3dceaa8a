"""The signed-in session: start, second factor pending, end.

Everything that reads or writes the request's session and Flask-Login's sign-in lives here, so that the
rules (who may sign in: ``blueprints/auth/services.py``; what a personal link opens:
:mod:`portal.link_sessions`) stay free of HTTP.

- A sign-in always starts from an empty session (no fixation), stamped with its sign-in time
  (:data:`SIGNED_IN_AT_KEY`, read by the session-lifetime gate); only the chosen language survives.
- Flask-Login's id carries the user's session token (:func:`load_user`): rotating the token
  (``User.end_all_sessions``) ends every session of the user at their next request.
- With a second factor, the password only makes the session *pending* (:data:`MFA_PENDING_KEY`, for
  :data:`MFA_PENDING_SECONDS`); the session is signed in when the code is right.
- A personal link signs its person in with a *link session* that opens one task (see
  :mod:`portal.link_sessions`).
"""

from __future__ import annotations

from functools import cache

from flask import Flask, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Select, bindparam, select

from portal import audit, link_sessions
from portal.clock import epoch_seconds, utcnow
from portal.extensions import db, login_manager
from portal.models import User
from portal.tenancy import unscoped

# The session's sign-in time (epoch seconds), stamped at every sign-in.
SIGNED_IN_AT_KEY = "signed_in_at"
# The user waiting at the second step of sign-in, and how long they may wait.
MFA_PENDING_KEY = "mfa_pending"
MFA_PENDING_SECONDS = 600
# The language chosen on the site (portal/i18n.py): the one thing a new or ended session keeps.
_LANG_KEY = "lang"
# An unchanged session's cookie is signed again (its 14-hour idle limit slid) once this many seconds have
# passed since it was last signed, not on every request.
SESSION_REFRESH_SECONDS = 60


class SlidingCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, whose idle limit slides at most once a minute.

    Flask signs and sends the whole cookie again on every request of a permanent session
    (``SESSION_REFRESH_EACH_REQUEST``), for the idle limit (``PERMANENT_SESSION_LIFETIME``, 14 hours) to
    slide: about 0.15 ms of CPU and a ``Set-Cookie`` header per page (#17). Here an unchanged session is
    signed again only when its signature is at least :data:`SESSION_REFRESH_SECONDS` old, so the idle limit
    counts from the last minute's request instead of the last request. A changed session is sent at once,
    as before; the cookie's format and signature are Flask's own.
    """

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # Built once per secret (and fallbacks) instead of twice per request.
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("portal_session_serializer")
        if cached is None or cached[0] != key:
            cached = (key, super().get_signing_serializer(app))
            app.extensions["portal_session_serializer"] = cached
        return cached[1]

    def open_session(self, app: Flask, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        try:
            data, signed_at = serializer.loads(
                value, max_age=int(app.permanent_session_lifetime.total_seconds()), return_timestamp=True
            )
        except BadSignature:
            return self.session_class()
        opened = self.session_class(data)
        opened.signed_at = signed_at.timestamp()
        return opened

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or epoch_seconds() - signed_at >= SESSION_REFRESH_SECONDS


@cache
def _user_by_id() -> Select:
    """The signed-in user with their organization (joined), built once: every signed-in request runs it, and
    ``session.get`` on a request's empty session cost 48 µs more (#17)."""
    return select(User).where(User.id == bindparam("id"))


@login_manager.user_loader
def load_user(alt_id: str) -> User | None:
    """Flask-Login's loader. The id carries the session token, so rotating it ends every session."""
    user_id, _, token = (alt_id or "").partition(":")
    if not user_id.isdigit() or not token:
        return None
    with unscoped("the user is loaded before the request's scope is bound"):
        user = db.session.scalar(_user_by_id(), {"id": int(user_id)})
    if user is None or not user.is_active or user.session_token != token:
        return None
    return user


def _empty_session() -> None:
    """Empty the session, keeping only the chosen language."""
    lang = session.get(_LANG_KEY)
    session.clear()
    if lang:
        session[_LANG_KEY] = lang


def _fresh_session() -> None:
    """An empty session (no fixation), keeping only the chosen language, stamped with the sign-in time."""
    _empty_session()
    session.permanent = True
    session[SIGNED_IN_AT_KEY] = epoch_seconds()


def start_session(user: User) -> None:
    """A fresh, full session of ``user`` (no fixation), keeping only the chosen language."""
    _fresh_session()
    login_user(user, remember=False)


def sign_out() -> None:
    """This session only: signed out and emptied, keeping the chosen language. (Ending the user's other
    sessions is :func:`end_all_sessions`.)"""
    logout_user()
    _empty_session()


def end_all_sessions(user: User, action: str = "auth.logout", *, keep_links: bool = False) -> None:
    """End this and every other session of ``user`` (and their personal links sent so far, unless
    ``keep_links``), audited as ``action``. Signing out of a link session ends that session only."""
    with unscoped("any account: staff (no organization) or a customer's"):
        if link_sessions.is_link_session():
            audit.record(action, target=user, actor=user, session="link")
        else:
            user.end_all_sessions(keep_links=keep_links)
            audit.record(action, target=user, actor=user)
        db.session.flush()
    sign_out()


# --- a personal link ------------------------------------------------------------------------------------


def start_link_session(person: User, kind: str, object_id: int, via: str, **details) -> None:
    """The person's own click on their personal link: a link session that opens this one task
    (:mod:`portal.link_sessions`), audited. A full session of the same person stays as it
    is; a link session of the same person gains the task. Someone else signed in is refused before this."""
    if current_user.is_authenticated and not link_sessions.is_link_session():
        return
    if not current_user.is_authenticated:
        _fresh_session()
        login_user(person, remember=False)
        # The administrator's 最終ログイン counts a link's use too: it is the learner being active.
        person.last_login_at = utcnow()
    link_sessions.add_grant(kind, object_id)
    audit.record("auth.link_session_started", target=person, actor=person, via=via, **details)
    db.session.flush()


# --- the second factor ----------------------------------------------------------------------------------


def begin_sign_in(user: User, next_url: str | None = None) -> bool:
    """After the password (or link) is right: sign in, or, with a second factor, hold the user at the
    second step. Returns whether the second step is pending (the session is not signed in yet)."""
    if not user.mfa_enabled:
        start_session(user)
        return False
    _empty_session()
    session[MFA_PENDING_KEY] = {
        "user_id": user.id,
        "token": user.session_token,
        "at": epoch_seconds(),
        "next": next_url,
    }
    return True


def pending_user_id() -> int | None:
    """The id of the user this session holds at the second step (however old the wait), or None."""
    pending = session.get(MFA_PENDING_KEY)
    user_id = pending.get("user_id") if isinstance(pending, dict) else None
    return user_id if isinstance(user_id, int) else None


def pending_mfa_user() -> User | None:
    """The user waiting at the second step of this session, if the wait is fresh and still valid."""
    pending = session.get(MFA_PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    user_id, token, at = pending.get("user_id"), pending.get("token"), pending.get("at")
    if not isinstance(user_id, int) or not isinstance(at, int) or epoch_seconds() - at > MFA_PENDING_SECONDS:
        return None
    with unscoped("the second step comes before the session is signed in"):
        user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.session_token != token or not user.mfa_enabled:
        return None
    return user


def finish_sign_in(user: User) -> str | None:
    """The second step passed: a fresh signed-in session. Returns the page asked for before sign-in."""
    pending = session.get(MFA_PENDING_KEY) or {}
    next_url = pending.get("next") if isinstance(pending, dict) else None
    start_session(user)
    return next_url if isinstance(next_url, str) else None
