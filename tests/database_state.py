"""The database between two tests: every test starts from the same rows.

Ordinarily that is no rows at all: after each test the tables that hold rows are emptied (one query finds
them, so a test that wrote nothing costs one SELECT instead of a DELETE per table).

A module whose tests all start from the same objects (the route x role table) builds them once with
``shared_rows(app)``: the rows present then are kept as a snapshot, and after each test that wrote anything
the database is put back to exactly those rows. Tests stay independent (each sees the snapshot, alone or in
any order), the objects are built once instead of once per test. After the module, the tables are emptied.
"""

from __future__ import annotations

import contextlib
import re

from sqlalchemy import Engine, event, exists, literal, select, union_all

from portal.extensions import db

# Statements that cannot change a row. Anything else (INSERT, UPDATE, DELETE, WITH ..., DDL) counts as a write.
_READS = re.compile(r"\s*(SELECT|PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SET|SHOW)\b", re.IGNORECASE)
_wrote = False
# The rows every test of the current module starts from, table by table (None: no rows).
_snapshot: dict[str, list[dict]] | None = None


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(conn, cursor, statement, parameters, context, executemany):
    global _wrote
    if not _wrote and not _READS.match(statement):
        _wrote = True


def _tables_with_rows(conn) -> set[str]:
    tables = db.metadata.sorted_tables
    query = union_all(*(select(literal(t.name)).where(exists(select(literal(1)).select_from(t))) for t in tables))
    return set(conn.scalars(query))


def _put_back(rows: dict[str, list[dict]]) -> None:
    """Delete every row, then insert ``rows`` (parents first, each table in primary-key order)."""
    db.session.remove()
    with db.engine.begin() as conn:
        filled = _tables_with_rows(conn)
        for table in reversed(db.metadata.sorted_tables):
            if table.name in filled:
                conn.execute(table.delete())
        for table in db.metadata.sorted_tables:
            if rows.get(table.name):
                conn.execute(table.insert(), rows[table.name])
    db.engine.dispose()


def _read_all() -> dict[str, list[dict]]:
    with db.engine.connect() as conn:
        filled = _tables_with_rows(conn)
        return {
            t.name: [dict(r._mapping) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in db.metadata.sorted_tables
            if t.name in filled
        }


def after_test(app) -> None:
    """Back to the rows every test starts from (see the module docstring)."""
    global _wrote
    with app.app_context():
        if _snapshot is None:
            # Not only this process may have written (a portal in a subprocess): look at the tables themselves.
            _put_back({})
        elif _wrote:
            _put_back(_snapshot)
        else:
            db.session.remove()
    _wrote = False


@contextlib.contextmanager
def shared_rows(app):
    """Keep the rows present now for every following test until the block ends; then empty the tables.

    For module- or class-scoped fixtures whose objects the tests only read, or change and get back.
    """
    global _snapshot, _wrote
    assert _snapshot is None, "one shared set of rows at a time"
    with app.app_context():
        db.session.remove()
        _snapshot = _read_all()
    _wrote = False
    try:
        yield
    finally:
        _snapshot = None
        with app.app_context():
            _put_back({})
