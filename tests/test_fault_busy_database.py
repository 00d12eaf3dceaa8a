"""Fault injection (#10 item 4b): the database is busy or locked while a learner answers, a learner submits
a test, or an administrator sends a form.

Another connection holds the lock: on SQLite the write lock (``BEGIN IMMEDIATE``, longer than the app's
busy timeout), on PostgreSQL an ``EXCLUSIVE`` lock on a table the request writes late in its transaction
(so the request has already written other rows when it gives up), ending by ``lock_timeout`` — or, in the
second PostgreSQL variant, by the request's ``statement_timeout``. Every time the user gets a 503 page
「混み合っています」 (no 500), nothing of the transaction stays, the form's input comes back on the page
(passwords excepted) with a button that sends it again, and once the lock is gone that button works.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db
from portal.models import AttemptAnswer, AttemptState, AuditEvent, Role, User
from portal.tenancy import unscoped
from tests.conftest import csrf_token_from, login

BUSY_TEXT = "混み合っています"


@pytest.fixture(params=["lock_timeout", "statement_timeout"])
def busy_app(request, app):
    """The portal on the same database, but giving up on a lock after a fraction of a second."""
    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    if request.param == "statement_timeout" and not postgres:
        pytest.skip("statement_timeout is PostgreSQL's")
    timeouts = {"SQLITE_BUSY_TIMEOUT_MS": 200, "DATABASE_LOCK_TIMEOUT_MS": 300, "REQUEST_STATEMENT_TIMEOUT_MS": 0}
    if request.param == "statement_timeout":
        timeouts.update(DATABASE_LOCK_TIMEOUT_MS=10_000, REQUEST_STATEMENT_TIMEOUT_MS=300)
    busy = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                      BASE_URL="http://portal.test", **timeouts)
    busy.instance_path = app.instance_path
    yield busy
    with busy.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def database_locked(app, table: str):
    """Another connection holds a lock the request needs until the block ends."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        conn = sqlite3.connect(uri.removeprefix("sqlite:///"), isolation_level=None, timeout=5)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import psycopg

    with psycopg.connect(uri.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')  # table names from the tests below
        yield
        conn.rollback()


def _resend(client, response):
    """Press 「もう一度送信する」 on the busy page: its form, with its hidden fields."""
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    form = page.find("form", method="post")
    data = MultiDict([(i["name"], i.get("value", "")) for i in form.find_all("input")])
    return client.post(form["action"], data=data)


def _assert_busy_page(response):
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    html = response.get_data(as_text=True)
    assert BUSY_TEXT in html and "もう一度送信する" in html
    assert "Traceback" not in html
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture
def taking(app, busy_app, world, run_in_app):
    """learner_a signed in on the busy app, with an attempt of three questions started and not answered."""
    from portal.blueprints.training.quizzes import services as quiz_services
    from portal.models import Assignment
    from tests.training_helpers import add_course, assignment_of, deliver

    def build():
        course = add_course(organization_id=world["org_a"].id, questions=3)
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        assignment = assignment_of(delivery.id, world["learner_a"].id)
        attempt = quiz_services.start_attempt(db.session.get(Assignment, assignment.id))
        return attempt.id, assignment.id

    attempt_id, assignment_id = run_in_app(build)
    client = busy_app.test_client()
    assert login(client, world["learner_a"].email).status_code == 303
    return client, attempt_id, assignment_id


def _answer_form(client, attempt_id: int, number: int) -> dict:
    html = client.get(f"/me/training/attempts/{attempt_id}/{number}").get_data(as_text=True)
    page = BeautifulSoup(html, "html.parser")
    return {
        "csrf_token": csrf_token_from(html),
        "number": str(number),
        "question_id": page.find("input", attrs={"name": "question_id"})["value"],
        "choice": page.find("input", attrs={"name": "choice"})["value"],
        "go": "next",
    }


def _answers(app, attempt_id: int) -> list[AttemptAnswer]:
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        rows = db.session.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id)).all()
        db.session.expunge_all()
        return rows


def test_a_learners_answer_while_the_database_is_locked(app, busy_app, taking):
    client, attempt_id, _assignment = taking
    form = _answer_form(client, attempt_id, 1)
    with database_locked(app, "attempt_answers"):
        response = client.post(f"/me/training/attempts/{attempt_id}/answer", data=form)
    _assert_busy_page(response)
    html = response.get_data(as_text=True)
    for name in ("question_id", "choice", "number"):
        assert f'name="{name}" value="{form[name]}"' in html, f"{name} is kept"
    assert _answers(app, attempt_id) == []

    again = _resend(client, response)
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/attempts/{attempt_id}/2")
    [saved] = _answers(app, attempt_id)
    assert saved.choice_ids == [int(form["choice"])]


def test_an_htmx_answer_while_locked_gets_the_message_in_the_flash_region(app, busy_app, taking):
    client, attempt_id, _assignment = taking
    form = _answer_form(client, attempt_id, 1)
    with database_locked(app, "attempt_answers"):
        response = client.post(f"/me/training/attempts/{attempt_id}/answer", data=form,
                               headers={"HX-Request": "true"})
    assert response.status_code == 503
    assert response.headers["HX-Retarget"] == "#flash"
    assert BUSY_TEXT in response.get_data(as_text=True)
    assert _answers(app, attempt_id) == []


def test_submitting_a_test_while_locked_writes_nothing_and_can_be_sent_again(app, busy_app, taking):
    """The submission scores the attempt and updates the assignment in one transaction: it is undone whole
    (on PostgreSQL the assignment's table is locked, so the attempt's rows were already written)."""
    from portal.models import Assignment, Attempt

    client, attempt_id, assignment_id = taking
    for number in (1, 2, 3):
        assert client.post(f"/me/training/attempts/{attempt_id}/answer",
                           data=_answer_form(client, attempt_id, number)).status_code == 303
    token = csrf_token_from(client.get(f"/me/training/attempts/{attempt_id}/review").get_data(as_text=True))
    with database_locked(app, "assignments"):
        response = client.post(f"/me/training/attempts/{attempt_id}/finish", data={"csrf_token": token})
    _assert_busy_page(response)

    def state():
        with app.app_context(), unscoped("the test reads and writes rows directly"):
            attempt = db.session.get(Attempt, attempt_id)
            assignment = db.session.get(Assignment, assignment_id)
            state = (attempt.state, attempt.score, assignment.status, assignment.attempts_count)
        return (*state, [a.correct for a in _answers(app, attempt_id)])

    assert state() == (AttemptState.IN_PROGRESS, None, "in_progress", 0, [None, None, None])
    again = _resend(client, response)
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/attempts/{attempt_id}/result")
    attempt_state, score, status, count, correct = state()
    assert attempt_state == AttemptState.FINISHED and score is not None and count == 1
    assert None not in correct


def test_an_admins_form_while_locked_keeps_the_input_but_not_the_password(app, busy_app, world):
    client = busy_app.test_client()
    assert login(client, world["admin_a"].email).status_code == 303
    html = client.get("/org/learners/new").get_data(as_text=True)
    form = {"csrf_token": csrf_token_from(html), "login_id": "K-0042", "name": "混雑 時子",
            "email": "tokiko@example.com", "initial_password": "a long initial passphrase 2026"}

    def learners():
        with app.app_context(), unscoped("the test reads and writes rows directly"):
            return db.session.scalar(select(func.count()).select_from(User).where(User.login_id == "K-0042"))

    with database_locked(app, "audit_events"):
        response = client.post("/org/learners/new", data=form)
    _assert_busy_page(response)
    html = response.get_data(as_text=True)
    assert 'value="K-0042"' in html and 'value="混雑 時子"' in html and 'value="tokiko@example.com"' in html
    assert form["initial_password"] not in html and "パスワード" in html
    assert learners() == 0
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "learners.created")) == 0

    again = _resend(client, response)
    assert again.status_code == 303
    assert learners() == 1
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(User.role).where(User.login_id == "K-0042")) == Role.LEARNER


def test_a_page_that_writes_on_get_while_locked_says_try_again(app, busy_app, world):
    """On SQLite a plain page reads without waiting for the write lock (deferred BEGIN in WAL mode:
    tests/test_scale_sqlite.py), but a page that writes as it is read (a notice marked read) takes the lock
    first: while another connection holds it, the user gets the busy page with a link to load it again.
    (PostgreSQL does not lock the whole database.)"""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL locks rows and tables, not the database")
    client = busy_app.test_client()
    assert login(client, world["admin_a"].email).status_code == 303
    with database_locked(app, "users"):
        read = client.get("/org/")
        response = client.get(f"/org/notices/{world['notice_a'].id}")
    assert read.status_code == 200
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert BUSY_TEXT in html and "もう一度読み込む" in html
