"""The request pipeline: every app-wide gate a request passes before its view, in order, in one place.

:data:`PIPELINE` is the order, and :func:`init_app` registers it (and the teardown that releases the
tenant scope). The first gate that answers ends the request with its answer; the view never runs.

1. :func:`bind_request_scope` - the tenant scope is the signed-in user's organization (staff: all), so
   that every gate after it queries inside that scope (Flask-Login loads the user here).
2. :func:`enforce_session_lifetime` - a session ends ``SESSION_ABSOLUTE_HOURS`` after its sign-in.
3. ``suspension.check_suspension`` - a suspended or terminated organization's members see its page.
4. ``service_end.check_service_end`` - after the end of the service itself, the closed page (a
   suspended organization keeps its own page).
5. ``notices.check_maintenance`` - during a maintenance window, the maintenance page.
6. ``legal.check_terms_acceptance`` - an administrator accepts the terms in force first (remembered in
   the session once accepted).
7. ``link_sessions.enforce_link_scope`` - a session opened by a personal link reaches its task only.
8. :func:`enforce_password_change` - an initial password is changed first.
9. :func:`enforce_mfa_enrollment` - a user who must use a second factor enrolls one first.

Before them run the extensions' hooks: ``metrics``' request timer (it inserts itself first), Flask-WTF's
CSRF check and Flask-Limiter's limits (registered by ``init_app`` of each, in create_app). After them,
each blueprint's own guards run (``security.restrict_blueprint``'s role rule, org's registration gate,
the request size caps of /contact/ and /apply/).
"""

from __future__ import annotations

from flask import Flask, current_app, flash, g, request, session, url_for

from portal import legal, link_sessions, mfa, notices, service_end, sign_in, suspension
from portal.accounts import sign_in_page_for, signed_in_user
from portal.clock import epoch_seconds
from portal.htmx import redirect_page
from portal.i18n import lazy_gettext as _l
from portal.tenancy import ALL_TENANTS, reset_scope, set_scope

# Endpoints a user who must change their password can still reach.
PASSWORD_CHANGE_ALLOWED = frozenset(
    {
        "auth.change_password",
        "auth.report_compromised",
        "auth.logout",
        "main.set_language",
        "static",
    }
)
# Endpoints a user who must enroll a second factor can still reach.
MFA_ENROLL_ALLOWED = frozenset(
    {
        "auth.mfa_setup",
        "auth.logout",
        "auth.change_password",
        "auth.report_compromised",
        "main.set_language",
        "static",
    }
)


def bind_request_scope() -> None:
    """The tenant scope is the signed-in user's organization (staff: all organizations, on purpose)."""
    user = signed_in_user()
    scope = None
    if user.is_authenticated:
        scope = ALL_TENANTS if user.is_staff else user.organization_id
    g._tenant_scope_token = set_scope(scope)


def release_request_scope(exc=None) -> None:
    """Teardown: the scope bound by :func:`bind_request_scope` ends with the request."""
    token = g.pop("_tenant_scope_token", None)
    if token is not None:
        reset_scope(token)


def enforce_session_lifetime():
    """A session ends ``SESSION_ABSOLUTE_HOURS`` after its sign-in, however busy it has been (the idle
    limit, ``PERMANENT_SESSION_LIFETIME``, slides with every request). A session from before the stamp
    existed gets its hours from now."""
    user = signed_in_user()
    if not user.is_authenticated:
        return None
    started = session.get(sign_in.SIGNED_IN_AT_KEY)
    if not isinstance(started, int):
        session[sign_in.SIGNED_IN_AT_KEY] = epoch_seconds()
        return None
    if epoch_seconds() - started <= int(current_app.config["SESSION_ABSOLUTE_HOURS"]) * 3600:
        return None
    target = sign_in_page_for(user)
    if request.method == "GET" and target == url_for("auth.login"):
        target = url_for("auth.login", next=request.full_path.rstrip("?"))
    sign_in.sign_out()
    flash(str(_l("ログインしてから時間が経ったため、ログアウトしました。もう一度ログインしてください。")), "warning")
    return redirect_page(target)


def enforce_password_change():
    """A user with an initial password reaches only the change-password page (a link session reaches its
    task only, and changes nothing else)."""
    user = signed_in_user()
    if not user.is_authenticated or not user.must_change_password:
        return None
    if link_sessions.is_link_session():
        return None
    if request.endpoint in PASSWORD_CHANGE_ALLOWED:
        return None
    return redirect_page(url_for("auth.change_password"))


def enforce_mfa_enrollment():
    """A user who must use a second factor and has none reaches only enrollment."""
    user = signed_in_user()
    if not user.is_authenticated or user.mfa_enabled or link_sessions.is_link_session():
        return None
    if request.endpoint in MFA_ENROLL_ALLOWED or not mfa.mfa_required(user):
        return None
    return redirect_page(url_for("auth.mfa_setup"))


PIPELINE = (
    bind_request_scope,
    enforce_session_lifetime,
    suspension.check_suspension,
    service_end.check_service_end,
    notices.check_maintenance,
    legal.check_terms_acceptance,
    link_sessions.enforce_link_scope,
    enforce_password_change,
    enforce_mfa_enrollment,
)


def init_app(app: Flask) -> None:
    """Register :data:`PIPELINE` in its order, and the teardown that releases the tenant scope."""
    for gate in PIPELINE:
        app.before_request(gate)
    app.teardown_request(release_request_scope)
