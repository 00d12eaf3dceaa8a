"""Permissions by role, and the security headers every response carries."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from flask import Blueprint, Flask, abort, current_app, request

from portal.accounts import signed_in_user
from portal.models import Role

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def has_role(user, *roles: str | Role) -> bool:
    """The rule itself: a signed-in, active user holding one of ``roles``."""
    return bool(user and user.is_authenticated and user.is_active and user.role in {str(r) for r in roles})


def may_edit_library_item(organization_id: int | None, user) -> bool:
    """Who edits a library's item (a course, an inspection edition): the operator's staff the global ones
    (no organization), an organization's own ones its members; nobody another organization's."""
    if user.is_staff:
        return organization_id is None
    return organization_id is not None and organization_id == user.organization_id


def role_required(*roles: str | Role) -> Callable:
    """View decorator: 401 (to the login page) when signed out, 403 for another role."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = signed_in_user()
            if not user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not has_role(user, *roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def restrict_blueprint(bp: Blueprint, roles: Iterable[str | Role]) -> None:
    """Guard every view of ``bp`` by role, so that a new view cannot forget it."""
    allowed = tuple(roles)

    @bp.before_request
    def _guard():
        user = signed_in_user()
        if not user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if not has_role(user, *allowed):
            abort(403)
        return None


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        # same-origin keeps the Referer that Flask-WTF checks over HTTPS, and leaks no link tokens.
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if app.config.get("HSTS"):
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        if request.endpoint != "static" and "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"
        if request.headers.get("HX-Request") == "true":
            h.add("Vary", "HX-Request")
        return response


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: no other host (``//``, ``\\``), and no
    control characters (a CR/LF in a Location header is refused by Werkzeug: a 500, or header injection)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(ch) < 32 or ord(ch) == 127 for ch in target)
    ):
        return target
    return None
