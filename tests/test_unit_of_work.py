"""One unit of work per request (portal/unit_of_work.py): a success commits once, anything else rolls back,
and a denial stays on record although its request rolls back.

The probe views below run in a portal built like the real one (``create_app``) on the same database; each
writes an organization named after the test, then answers in one way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Blueprint, abort, flash, g, redirect, render_template_string
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal import audit, create_app, unit_of_work
from portal.config import TestConfig
from portal.exports import csv_response, rows_from_database
from portal.extensions import csrf, db
from portal.models import AuditEvent, Organization, Role
from portal.requests import writes_on_get
from portal.rules import RuleViolation
from portal.tenancy import unscoped
from portal.violations import form_status, rule_violations_shown

BLUEPRINTS = Path(__file__).resolve().parent.parent / "portal" / "blueprints"
PAGE = "{% for c, m in get_flashed_messages(with_categories=true) %}<p class={{ c }}>{{ m }}</p>{% endfor %}"


def _write(name: str) -> Organization:
    org = Organization(name=name)
    db.session.add(org)
    db.session.flush()
    return org


def _probe_blueprint() -> Blueprint:
    bp = Blueprint("probe", __name__, url_prefix="/probe")
    csrf.exempt(bp)

    @bp.post("/ok")
    def ok():
        _write("ok")
        flash("保存しました。", "success")
        return redirect("/probe/page", 303)

    @bp.get("/page")
    def page():
        return render_template_string(PAGE)

    @bp.post("/refused")
    def refused():
        with rule_violations_shown():
            _write("refused")
            raise RuleViolation("その操作はできません。")
        return render_template_string(PAGE), form_status()

    @bp.post("/refused-htmx")
    def refused_htmx():
        # htmx swaps only 2xx answers: a refusal may come back as 200 and must still write nothing.
        with rule_violations_shown():
            _write("refused-htmx")
            raise RuleViolation("その操作はできません。")
        return render_template_string(PAGE)

    @bp.post("/uncaught")
    def uncaught():
        _write("uncaught")
        raise RuleViolation("その操作はできません。")

    @bp.post("/unprocessable")
    def unprocessable():
        _write("unprocessable")
        return "入力に誤りがあります。", 422

    @bp.post("/missing")
    def missing():
        _write("missing")
        abort(404)

    @bp.post("/failed")
    def failed():
        _write("failed")
        return "", 500

    @bp.post("/raises")
    def raises():
        _write("raises")
        raise RuntimeError("a bug")

    @bp.post("/denied")
    def denied():
        _write("denied")
        audit.record_denial("probe.denied", target_type="route", target_id="probe.denied")
        abort(403)

    @bp.post("/commit-fails")
    def commit_fails():
        # Added, not flushed: the duplicate code is found by the commit itself.
        db.session.add(Organization(name="commit-fails", code="taken"))
        flash("保存しました。", "success")
        return redirect("/probe/page", 303)

    @bp.get("/counted")
    def counted():
        _write("counted on GET")
        return "", 204

    @bp.get("/counted-marked")
    @writes_on_get
    def counted_marked():
        _write("counted on GET, marked")
        return "", 204

    @bp.post("/export")
    def export():
        _write("exported")

        def rows():
            for org in db.session.scalars(select(Organization).order_by(Organization.name)):
                yield (org.name,)

        return csv_response("probe.csv", ["name"], rows_from_database(rows))

    @bp.after_request
    def _seen(response):
        # What another process sees when the after_request hooks run (tests/fault_app.py pauses here).
        with db.engine.connect() as conn:
            g.seen_by_others = conn.scalar(select(func.count()).select_from(Organization))
        response.headers["X-Seen-By-Others"] = str(g.seen_by_others)
        return response

    return bp


@pytest.fixture
def probe_app(app):
    probe = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                       BASE_URL="http://portal.test")
    probe.instance_path = app.instance_path
    probe.register_blueprint(_probe_blueprint())
    yield probe
    with probe.app_context():
        db.session.remove()
        db.engine.dispose()


def _names(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Organization.name).order_by(Organization.id)))


def _actions(app) -> list[str]:
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_a_success_commits_before_the_after_request_hooks(app, probe_app):
    client = probe_app.test_client()
    response = client.post("/probe/ok")
    assert response.status_code == 303
    assert _names(app) == ["ok"]
    # Committed before the hooks ran: another connection already saw the row.
    assert response.headers["X-Seen-By-Others"] == "1"
    assert "保存しました。" in client.get("/probe/page").get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/probe/unprocessable", 422), ("/probe/missing", 404), ("/probe/failed", 500), ("/probe/raises", 500)],
)
def test_an_error_answer_or_an_exception_rolls_back(app, probe_app, path, status):
    response = probe_app.test_client().post(path)
    assert response.status_code == status
    assert _names(app) == []
    assert response.headers["X-Seen-By-Others"] == "0"
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_rule_violation_is_rolled_back_flashed_and_answered_422(app, probe_app):
    response = probe_app.test_client().post("/probe/refused")
    assert response.status_code == 422
    assert BeautifulSoup(response.get_data(as_text=True), "html.parser").find("p", class_="error").text == (
        "その操作はできません。"
    )
    assert _names(app) == []


def test_a_rule_violation_answered_200_to_htmx_writes_nothing(app, probe_app):
    response = probe_app.test_client().post("/probe/refused-htmx", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "その操作はできません。" in response.get_data(as_text=True)
    assert _names(app) == []


def test_a_rule_violation_no_view_catches_is_a_422_page_with_its_message(app, probe_app):
    response = probe_app.test_client().post("/probe/uncaught")
    assert response.status_code == 422
    assert "その操作はできません。" in response.get_data(as_text=True)
    assert _names(app) == []


def test_a_failed_commit_is_rolled_back_and_answered_by_the_error_page(app, probe_app, make_org):
    make_org("先客", code="taken")
    client = probe_app.test_client()
    response = client.post("/probe/commit-fails")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "システムエラーが発生しました" in html and "Traceback" not in html
    # The error page went through the after_request hooks like any page.
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert _names(app) == ["先客"]
    # The success the view flashed before its commit failed is never shown.
    assert "保存しました。" not in client.get("/probe/page").get_data(as_text=True)


def test_a_denial_stays_on_record_although_the_request_rolls_back(app, probe_app):
    response = probe_app.test_client().post("/probe/denied")
    assert response.status_code == 403
    assert _names(app) == []
    # The probe's own denial, and the error handler's audit of the 403.
    assert _actions(app) == ["probe.denied", "auth.permission_denied"]


def test_a_learner_refused_an_admin_page_is_audited(app, make_org, make_user, login_as):
    learner = make_user(Role.LEARNER, make_org())
    client = login_as(learner)
    assert client.get("/org/learners/").status_code == 403
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        denial = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.permission_denied")).one()
        assert (denial.actor_id, denial.details["method"]) == (learner.id, "GET")


def test_a_streamed_export_is_committed_then_streamed(app, probe_app, make_org):
    make_org("既存")
    response = probe_app.test_client().post("/probe/export")
    assert response.status_code == 200
    assert response.is_streamed
    lines = response.get_data().decode("utf-8-sig").splitlines()
    assert lines == ['"name"', '"exported"', '"既存"']
    assert sorted(_names(app)) == ["exported", "既存"]


def test_a_get_view_that_writes_without_the_mark_is_logged(app, probe_app, caplog):
    client = probe_app.test_client()
    with caplog.at_level("WARNING", logger="portal.unit_of_work"):
        assert client.get("/probe/counted-marked").status_code == 204
        assert caplog.messages == []
        assert client.get("/probe/counted").status_code == 204
    assert caplog.messages == ["GET probe.counted wrote to the database but its view is not marked @writes_on_get"]
    assert sorted(_names(app)) == ["counted on GET", "counted on GET, marked"]


def test_a_row_kept_outside_a_request_joins_the_session(app):
    with app.app_context():
        row = Organization(name="kept")
        unit_of_work.keep(row)
        assert row in db.session.new
        db.session.rollback()
def test_no_view_or_service_in_the_blueprints_commits_or_rolls_back():
    """The request commits once (portal/unit_of_work.py); the worker and the CLI commit for themselves."""
    found = []
    for path in sorted(BLUEPRINTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("commit", "rollback"):
                found.append(f"{path.relative_to(BLUEPRINTS.parent.parent)}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_a_page_that_never_touched_the_database_commits_nothing(client):
    """The sign-in form reads nothing: no session is made (or begun) only to commit nothing (#17)."""
    begun = []

    def note(_session, transaction):
        begun.append(transaction)

    event.listen(Session, "after_transaction_create", note)
    try:
        assert client.get("/login").status_code == 200
    finally:
        event.remove(Session, "after_transaction_create", note)
    assert begun == []
