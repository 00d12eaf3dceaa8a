"""The database layer: migrations agree with the models, and SQLite copes with several writers."""

import threading
import warnings

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
