"""Error pages in the user's language, with a reference id and never a stack trace."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, current_app, g, make_response, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal import audit
from portal.accounts import find_user_by_email
from portal.extensions import db
from portal.htmx import into_flash, is_htmx, page_or_flash
from portal.i18n import lazy_gettext as _l
from portal.rules import NotFound
from portal.tenancy import unscoped

log = logging.getLogger("portal.errors")

MESSAGES = {
    400: (_l("リクエストを処理できませんでした"), _l("入力内容を確認して、もう一度お試しください。")),
    401: (_l("ログインが必要です"), _l("ログインしてから、もう一度お試しください。")),
    403: (_l("この操作を行う権限がありません"), _l("必要な場合は、組織の管理者にお問い合わせください。")),
    404: (_l("ページが見つかりません"), _l("URLが正しいか、リンクが古くなっていないかをご確認ください。")),
    405: (_l("この方法ではアクセスできません"), _l("画面のボタンやリンクから操作してください。")),
    413: (_l("送信されたデータが大きすぎます"), _l("ファイルを小さくするか、分けて送信してください。")),
    429: (_l("アクセスが集中しています"), _l("しばらく待ってから、もう一度お試しください。")),
    500: (
        _l("システムエラーが発生しました"),
        _l("時間をおいてもう一度お試しください。続く場合は参照番号をサポートへお知らせください。"),
    ),
}
LOCKOUT_MESSAGE = _l(
    "ログインに続けて失敗したため、一時的にログインを制限しています。15分ほど待ってからもう一度お試しください。"
    "パスワードを忘れた場合は「パスワードを忘れた方」から再設定できます。"
)
BUSY_MESSAGE = (
    _l("混み合っています"),
    _l("ただいま混み合っています。もう一度お試しください。"),
)
# PostgreSQL SQLSTATEs of a database that is busy rather than broken: lock_timeout, statement_timeout,
# deadlock, serialization failure.
BUSY_SQLSTATES = {"55P03", "57014", "40P01", "40001"}
# Fields never echoed back on the "busy" page (the user types them again): passwords, TOTP and recovery
# codes, secrets, tokens.
SECRET_FIELD_PARTS = ("password", "secret", "token", "recovery")
SECRET_FIELD_NAMES = {"code"}
CSRF_MESSAGE = (
    _l("ページの有効期限が切れました"),
    _l("ページを再読み込みしてから、もう一度操作してください。入力中の内容は控えておいてください。"),
)


def render_error(status: int, title=None, detail=None, reference: str | None = None):
    default_title, default_detail = MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    context = {
        "status": status,
        "title": title or default_title,
        "detail": detail or default_detail,
        "reference": reference or uuid.uuid4().hex[:12],
    }
    return page_or_flash("errors/error.html", "errors/_fragment.html", status, **context)


def _audit_lockout() -> None:
    """A sign-in refused by the limits is kept on record (the account, when the address names one)."""
    user = find_user_by_email(request.form.get("email", ""))
    with unscoped("sign-in comes before a tenant is known"):
        audit.record_denial("auth.lockout", target=user, actor=None)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error):
        title, detail = CSRF_MESSAGE
        return render_error(400, title, detail)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code == 403:
            _audit_denial()
        sign_in = request.endpoint in ("auth.login", "auth.org_login")
        if error.code == 429 and getattr(error, "description", None) and sign_in:
            _audit_lockout()
            return render_error(429, MESSAGES[429][0], LOCKOUT_MESSAGE)
        if error.code is None or error.code >= 500:
            return _internal(error)
        response = render_error(error.code)
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(NotFound)
    def _not_found(error: NotFound):
        # A lookup that found nothing the user may reach: the same answer as an unknown address.
        return render_error(404, error.title, error.detail)

    @app.errorhandler(OperationalError)
    def _database(error: OperationalError):
        if not is_busy(error):
            return _internal(error)
        return _busy()

    @app.errorhandler(Exception)
    def _unhandled(error: Exception):
        return _internal(error)


def is_busy(error: OperationalError) -> bool:
    """The database is locked or a statement timed out (SQLite busy, PostgreSQL lock/statement timeout,
    deadlock): worth trying again, not a bug."""
    original = getattr(error, "orig", None)
    if getattr(original, "sqlstate", None) in BUSY_SQLSTATES:
        return True
    message = str(original or error).lower()
    return "database is locked" in message or "database table is locked" in message


def _busy():
    """503 「混み合っています」: the transaction is undone as a whole; a plain form's input comes back as
    hidden fields with a button that sends it again (passwords and codes excepted); htmx gets the message
    in the flash region and keeps its form as it is. Renders without touching the database, which is
    still busy."""
    reference = uuid.uuid4().hex[:12]
    log.warning("database busy: %s %s, reference %s", request.method, request.endpoint, reference)
    # The layout's banners read site-wide state (and the signed-in user's row): not on this page.
    g.database_busy = True
    try:
        # Detach first so that the signed-in user's loaded attributes survive the rollback (reading them
        # again would wait for the lock once more).
        db.session.expunge_all()
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the page must render even with a broken session
        log.exception("rollback failed, reference %s", reference)
    if "_login_user" not in g:
        g._login_user = current_app.login_manager.anonymous_user()
    title, detail = BUSY_MESSAGE
    context = {"status": 503, "title": title, "detail": detail, "reference": reference}
    if is_htmx():
        response = into_flash(make_response(render_template("errors/_fragment.html", **context), 503))
    else:
        kept, dropped = [], False
        if request.method == "POST":
            for name, value in request.form.items(multi=True):
                if name == "csrf_token":
                    continue
                if name in SECRET_FIELD_NAMES or any(part in name.lower() for part in SECRET_FIELD_PARTS):
                    dropped = True
                    continue
                kept.append((name, value))
        context.update(
            kept=kept, resend=request.method == "POST", dropped=dropped, files=bool(request.files),
            action=request.full_path if request.query_string else request.path,
        )
        response = make_response(render_template("errors/busy.html", **context), 503)
    response.headers["Retry-After"] = "5"
    return response


def _internal(error: Exception):
    reference = uuid.uuid4().hex[:12]
    original = getattr(error, "original_exception", None) or error
    if not isinstance(original, HTTPException) or isinstance(original, InternalServerError):
        log.error("unhandled error, reference %s", reference, exc_info=original)
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the error page must render even with a broken session
        log.exception("rollback failed, reference %s", reference)
    return render_error(500, reference=reference)


def _audit_denial() -> None:
    audit.record_denial(
        "auth.permission_denied",
        target_type="route",
        target_id=request.endpoint,
        path=request.path[:200],
        method=request.method,
        role=getattr(current_user, "role", None),
    )
