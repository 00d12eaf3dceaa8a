"""The database between two tests: every test starts from the same rows.

Ordinarily that is no rows at all: after each test the tables that hold rows are emptied (one query finds
them, so a test that wrote nothing costs one SELECT instead of a DELETE per table).

A module whose tests all start from the same objects (the route x role table) builds them once with
``shared_rows(app)``: the rows present then are kept as a snapshot, and after each test that wrote anything
the database is put back to exactly those rows. Tests stay independent (each sees the snapshot, alone or in
any order), the objects are built once instead of once per test. After the module, the tables are emptied.
The writes are seen by an engine event in this process: not for tests that run the portal in another one.

A function-scoped fixture whose tests write can still save the building: ``rows_once`` builds through the
services once and copies the same rows in for each later test.
"""

from __future__ import annotations

import contextlib
import functools
import re
from datetime import datetime, timedelta

from sqlalchemy import Engine, Integer, String, event, exists, literal, select, union_all

from portal.clock import utcnow
from portal.extensions import db

# Statements that cannot change a row. Anything else (INSERT, UPDATE, DELETE, WITH ..., DDL) counts as a write.
_READS = re.compile(r"\s*(SELECT|PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|SET|SHOW)\b", re.IGNORECASE)
_wrote = False
# The rows every test of the current module starts from, table by table (None: no rows).
_snapshot: dict[str, list[dict]] | None = None
# rows_once: key -> [(the clock's time when built, the rows, the builder's value), ...], newest last.
_built: dict[str, list[tuple[datetime, dict[str, list[dict]], object]]] = {}
REBUILD_AFTER = timedelta(seconds=600)
# Copies kept per key: one for the suite's clock and a few for the moments that tests move it to.
_COPIES = 4


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(conn, cursor, statement, parameters, context, executemany):
    global _wrote
    if not _wrote and not _READS.match(statement):
        _wrote = True


@functools.cache
def _tables() -> tuple:
    """Every table, parents first (computed once: the metadata does not change during the run)."""
    return tuple(db.metadata.sorted_tables)


@functools.cache
def _filled_tables_sql(dialect) -> str:
    query = union_all(
        *(select(literal(t.name, String)).where(exists(select(literal(1, Integer)).select_from(t))) for t in _tables())
    )
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _tables_with_rows(conn) -> set[str]:
    return {name for (name,) in conn.exec_driver_sql(_filled_tables_sql(conn.dialect))}


def _put_back(rows: dict[str, list[dict]]) -> None:
    """Delete every row, then insert ``rows`` (parents first, each table in primary-key order)."""
    db.session.remove()
    with db.engine.begin() as conn:
        filled = _tables_with_rows(conn)
        for table in reversed(_tables()):
            if table.name in filled:
                conn.execute(table.delete())
        for table in _tables():
            if rows.get(table.name):
                conn.execute(table.insert(), rows[table.name])


def _read_all() -> dict[str, list[dict]]:
    with db.engine.connect() as conn:
        filled = _tables_with_rows(conn)
        return {
            t.name: [dict(r._mapping) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in _tables()
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


def rows_once(app, key: str, build, reload):
    """``build()``'s rows, built through the services once, then copied in for each later test.

    The first call (on an empty database) builds and keeps the rows it wrote; later calls on an empty
    database insert those rows again, with the same ids, and return ``reload(value)`` (the value with its
    ORM objects read again). The rows are copied only into a test whose clock reads within
    ``REBUILD_AFTER`` of the moment they were built, so that their times are as fresh as the test expects
    (an import batch valid for an hour, a sign-in link, a user enrolled "now"), also where a fixture moved
    the clock (time_machine) before asking for them. Where rows are already present (another fixture wrote
    first), ``build()`` runs as usual.
    """
    with app.app_context(), db.engine.connect() as conn:
        empty = not _tables_with_rows(conn)
    if not empty:
        return build()
    now = utcnow()
    copies = _built.setdefault(key, [])
    for built_at, rows, value in copies:
        if abs(now - built_at) < REBUILD_AFTER:
            with app.app_context():
                _put_back(rows)
            return reload(value)
    value = build()
    with app.app_context():
        del copies[:-(_COPIES - 1)]
        copies.append((now, _read_all(), value))
    return reload(value)


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
