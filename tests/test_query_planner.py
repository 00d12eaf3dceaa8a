"""SQLite's planner statistics (portal/query_planner.py, #17): without them a learner's sheet read its answers
through the organization's index, every answer of the organization; the worker's hourly job and ``flask demo``
refresh them. PostgreSQL keeps its own (autovacuum): the refresh does nothing there."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from portal import query_planner
from portal.blueprints.inspections.sheets import services as sheets
from portal.extensions import db
from portal.jobs import REGISTRY
from portal.models import InspectionResponse, Role
from portal.tenancy import tenant_scope
from tests.inspection_helpers import add_edition, answer_all, open_round, response_of


@pytest.fixture
def no_statistics(app):
    """The test database as a new deployment has it, and again afterwards for the tests that follow."""

    def drop():
        with app.app_context():
            if db.engine.dialect.name == "sqlite":
                with db.engine.begin() as conn:
                    conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
                    conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat4")

    drop()
    yield
    drop()


def _answers_plan(app, organization_id: int, response_id: int) -> str:
    """SQLite's plan for the statement by which the sheet's page reads its answers (tenant criteria included)."""
    seen = []

    def note(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    with app.test_request_context(), tenant_scope(organization_id):
        response = db.session.get(InspectionResponse, response_id)
        event.listen(db.engine, "before_cursor_execute", note)
        try:
            sheets.saved_answers(response)  # the sheet page's own read of its answers
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        statement, parameters = next(each for each in seen if "FROM inspection_answers" in each[0])
        raw = db.session.connection().connection.driver_connection
        return " / ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters))


def test_the_hourly_job_lets_a_sheet_read_its_answers_by_its_own_index(app, world, run_in_app, make_user,
                                                                       no_statistics):
    org = world["org_a"]
    people = [world["learner_a"], *(make_user(Role.LEARNER, org, login_id=f"P{n}") for n in range(5))]
    edition, items = run_in_app(lambda: add_edition(org.id, items=6))
    found = run_in_app(lambda: open_round(world["admin_a"], edition, person_ids=[p.id for p in people]))
    sheet_ids = [run_in_app(lambda p=p: response_of(found.id, p.id).id) for p in people]
    for sheet_id in sheet_ids:
        run_in_app(lambda sheet_id=sheet_id: answer_all(sheet_id, dict.fromkeys(items, "yes")))
    job = REGISTRY["database.planner_statistics"]
    assert job.func is query_planner.refresh_planner_statistics

    if db_dialect(app) != "sqlite":
        assert run_in_app(lambda: query_planner.refresh(db.session.connection())) is False
        return
    # A new deployment: the organization's index, which holds every answer of the organization.
    assert "ix_inspection_answers_organization_id" in _answers_plan(app, org.id, sheet_ids[0])
    run_in_app(lambda: job.func(datetime(2026, 11, 10, tzinfo=UTC)))
    plan = _answers_plan(app, org.id, sheet_ids[0])
    assert "inspection_answers_1 (response_id=?)" in plan and "organization_id" not in plan
    # The page itself is unchanged: the sheet's own answers.
    with app.test_request_context(), tenant_scope(org.id):
        response = db.session.get(InspectionResponse, sheet_ids[0])
        assert sorted(sheets.saved_answers(response)) == sorted(items)


def db_dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def test_flask_demo_leaves_the_planner_its_statistics(app, no_statistics):
    """``make run`` seeds with ``flask demo``: its pages are measured and used before the worker's first
    hourly refresh."""
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    if db_dialect(app) != "sqlite":
        return
    with app.app_context(), db.engine.connect() as conn:
        analysed = {row[0] for row in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}
    assert {"inspection_answers", "inspection_responses", "assignments", "users"} <= analysed
