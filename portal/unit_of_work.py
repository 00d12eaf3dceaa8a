"""One unit of work per request: the request commits once, or rolls back.

Views and services write and ``flush()``; none of them commits. When the response is ready — after the
view or its error handler, before any ``after_request`` hook — :func:`finish` commits if the response is
a success (status below 400) and rolls back otherwise (4xx, 5xx, an exception turned into an error page).
A commit that fails is rolled back and answered by the error handlers, as if the view had raised it (503
「混み合っています」 for a busy database, 500 otherwise), so a page never says "saved" for a change that
was not.

The exception: a refusal that must leave a trace although the request fails (a permission denial, a
sign-in lockout, a wrong second-factor code). Such rows are passed to :func:`keep`; :func:`finish` writes
them in a transaction of their own after the request's commit or rollback (``audit.record_denial`` is the
usual caller).

The worker, the CLI and demo seeding are not requests: they commit for themselves.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, has_request_context, request, session
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from portal.extensions import db
from portal.tenancy import current_scope, reset_scope, set_scope

log = logging.getLogger("portal.unit_of_work")

_KEPT = "_unit_of_work_kept"
_WROTE = "_unit_of_work_wrote"


class UnitOfWorkFlask(Flask):
    """Flask whose every request ends in :func:`finish`.

    ``finalize_request`` is the one step that both a view's answer and an error handler's answer pass
    through, after the view and before the ``after_request`` hooks: so those hooks (security headers,
    metrics, a test's pause point) see a transaction that is already committed or rolled back, and a
    failed commit's error page gets the same headers as any other page.
    """

    def finalize_request(self, rv: ResponseReturnValue | HTTPException, from_error_handler: bool = False) -> Response:
        return super().finalize_request(finish(self.make_response(rv)), from_error_handler)


def finish(response: Response) -> Response:
    """Commit for a success, roll back otherwise; then write what :func:`keep` was given.

    Returns ``response``, or for a commit that failed the error handlers' answer to that failure.
    """
    kept = g.pop(_KEPT, [])
    wrote = g.pop(_WROTE, False)
    if wrote and _unmarked_get():
        # On SQLite such a request began with a deferred BEGIN and had to wait for the write lock mid-way.
        log.warning("%s %s wrote to the database but its view is not marked @writes_on_get",
                    request.method, request.endpoint)
    try:
        if response.status_code < 400:
            response = _commit(response)
        else:
            _rollback()
    finally:
        if kept:
            _write_kept(kept)
    return response


def locks_rows() -> bool:
    """Whether two writers of the same rows must queue on a row lock (``SELECT … FOR UPDATE``): on
    PostgreSQL yes. SQLite has no row locks and needs none: a transaction that may write begins with
    ``BEGIN IMMEDIATE`` (everything but a read-only GET), so it holds the whole database from its first
    statement and what it has read is current already; a ``FOR UPDATE`` there is only one statement more."""
    return db.session.get_bind().dialect.name != "sqlite"


def keep(row: db.Model) -> None:
    """Write ``row`` at the end of this request whatever its outcome, in a transaction of its own.

    Outside a request the row simply joins the session (the caller commits).
    """
    if not has_request_context():
        db.session.add(row)
        return
    g.setdefault(_KEPT, []).append((row, current_scope()))


@event.listens_for(Session, "after_flush")
def _note_write(session, flush_context) -> None:
    if has_request_context():
        g.setdefault(_WROTE, True)


def _unmarked_get() -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return view is not None and not getattr(view, "writes_on_get", False)


def _commit(response: Response) -> Response:
    if not _has_work():
        return response
    try:
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - answered by the error handlers below
        _rollback()
        _forget_flashes()
        return current_app.make_response(current_app.handle_user_exception(error))
    return response


def _has_work() -> bool:
    """Whether this request's session began a transaction or holds changes: a page that never touched the
    database (the sign-in form) has nothing to commit, and creating a session to commit nothing cost a
    tenth of its CPU."""
    if not db.session.registry.has():
        return False
    session = db.session()
    return session.in_transaction() or bool(session.new or session.dirty or session.deleted)


def _rollback() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the response must still leave with a broken connection
        log.exception("rollback failed")


def _forget_flashes() -> None:
    """The view flashed its success before the commit failed: that message must not be shown."""
    session.pop("_flashes", None)
    request_ctx.flashes = None


def _write_kept(kept: list) -> None:
    try:
        for row, scope in kept:
            token = set_scope(scope)
            try:
                db.session.add(row)
                db.session.flush()
            finally:
                reset_scope(token)
        db.session.commit()
    except Exception:  # noqa: BLE001 - a lost audit row must not turn the answer into a 500
        _rollback()
        log.exception("could not write %d row(s) kept despite the request's outcome", len(kept))
