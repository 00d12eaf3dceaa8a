"""The database layer: migrations agree with the models, and SQLite copes with several writers."""

import threading
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import SAWarning

from portal.extensions import db
from portal.models import Organization
from portal.tenancy import unscoped


def test_models_and_migrations_agree(app):
    with app.app_context(), db.engine.connect() as conn, warnings.catch_warnings():
        # SQLite's indexes on an expression cannot be reflected, so Alembic leaves them out of the comparison;
        # tests/test_learners.py checks the one on lower(login_id) by what it refuses.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index", SAWarning)
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run flask db migrate: {diff}"


def test_sqlite_runs_in_wal_with_a_busy_timeout(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            assert db.engine.dialect.name == "postgresql"
            return
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_concurrent_read_then_write_transactions_do_not_fail(app, make_org):
    """The pattern that raises "database is locked" on SQLite without BEGIN IMMEDIATE."""
    org = make_org()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with app.app_context(), unscoped("the test reads and writes rows directly"):
                for i in range(15):
                    row = db.session.get(Organization, org.id)
                    row.name = f"writer {n} round {i}"
                    db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(Organization.name).where(Organization.id == org.id)).endswith("round 14")


def test_foreign_keys_are_enforced_after_migrations(app):
    """The migrations switch SQLite's foreign keys off while they copy tables; they must be back on."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        for _ in range(3):  # every pooled connection
            with db.engine.connect() as conn:
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_web_request_has_a_statement_timeout_set_once_per_connection_and_a_job_has_none(app, monkeypatch):
    """PostgreSQL: a web request's statements stop after ``REQUEST_STATEMENT_TIMEOUT_MS``, the worker's jobs
    and the commands run unlimited; the setting is made when a pooled connection changes between the two,
    not in every request's transaction (one round trip per request fewer, #17)."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("statement_timeout is PostgreSQL's (SQLite has no such setting)")
    import psycopg

    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def recording(cursor, query, *args, **kwargs):
        sent.append(str(query))
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    monkeypatch.setitem(app.config, "REQUEST_STATEMENT_TIMEOUT_MS", 1234)
    with app.app_context():
        db.engine.dispose()  # connections set by earlier tests' requests
    client = app.test_client()
    for _ in range(3):
        with app.test_request_context("/"):
            assert db.session.execute(text("SHOW statement_timeout")).scalar() == "1234ms"
            db.session.remove()
        assert client.get("/status/").status_code == 200
    with app.app_context():
        assert db.session.execute(text("SHOW statement_timeout")).scalar() == "0"
        db.session.remove()
    with app.test_request_context("/"):
        assert db.session.execute(text("SHOW statement_timeout")).scalar() == "1234ms"
        db.session.remove()
    settings = [query for query in sent if "statement_timeout =" in query]
    # Set for the first request, lifted for the job, set again after it: three, however many requests.
    assert settings == ["SET statement_timeout = 1234", "SET statement_timeout = 0", "SET statement_timeout = 1234"]
