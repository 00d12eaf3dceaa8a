"""Writing many rows at once, for the generators of data at scale (``flask demo --scale``, the demo's history):
PostgreSQL's ``COPY`` through psycopg 3, an ``executemany`` of one INSERT elsewhere.

:func:`copy_rows` writes what Core's ``insert(table)`` with the same values would write: each value goes
through its column's type (JSON, UTC timestamps, booleans), and a column left out takes the model's Python
default when it has one (``session_token``, ``link_salt``...), else the database's. It runs in the session's
transaction and neither flushes the ORM nor returns ids: give the ids that children need.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from operator import itemgetter

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql, sqlite

from portal.extensions import db
from portal.tenancy import ALL_TENANTS, TenantScopeError, current_scope, tenant_kind

# Distinct values converted once per column and call (a year of answers repeats the same few JSON lists and
# timestamps); a column with more distinct values than this converts the rest as they come.
CACHE_LIMIT = 100_000


def insert_on_conflict(target, dialect: str | None = None):
    """``insert(target)`` of the session's database (or of ``dialect``, by name), with its
    ``on_conflict_do_nothing`` and ``on_conflict_do_update`` (SQLite and PostgreSQL spell them alike)."""
    dialect = dialect or db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)


def copy_rows(table: Table, columns: Sequence[str], rows: Iterable[Sequence], *, use_copy: bool | None = None) -> int:
    """Write ``rows`` (values in the order of ``columns``) into ``table``; return how many were written.

    ``use_copy`` forces the path (``False``: the INSERT, on PostgreSQL too); by default COPY on PostgreSQL.

    :raises ValueError: a column that ``table`` does not have, or COPY asked of another database.
    """
    unknown = [name for name in columns if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    rows = _in_scope(table, columns, rows)
    connection = db.session.connection()
    dialect = connection.dialect
    if use_copy is None:
        use_copy = dialect.name == "postgresql"
    if use_copy and dialect.name != "postgresql":
        raise ValueError("COPY is PostgreSQL's")
    defaults = _python_defaults(table, columns)
    names = [*columns, *(name for name, _ in defaults)]
    convert = _Converter(table, names, dialect, copy=use_copy)
    quote = dialect.identifier_preparer
    target = f"{quote.format_table(table)} ({', '.join(quote.quote(name) for name in names)})"
    count = 0
    if use_copy:
        with connection.connection.driver_connection.cursor() as cursor, \
                cursor.copy(f"COPY {target} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(convert(_with_defaults(row, defaults)))
                count += 1
        return count
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    # Only the table's own (quoted) identifiers go into the text; the values are bound.
    sql = f"INSERT INTO {target} VALUES ({', '.join([marker] * len(names))})"  # noqa: S608  # nosec B608
    batch: list[tuple] = []
    for row in rows:
        batch.append(convert(_with_defaults(row, defaults)))
        if len(batch) >= 20_000:
            connection.exec_driver_sql(sql, batch)
            count, batch = count + len(batch), []
    if batch:
        connection.exec_driver_sql(sql, batch)
        count += len(batch)
    return count


def _in_scope(table: Table, columns: Sequence[str], rows: Iterable[Sequence]) -> Iterable[Sequence]:
    """``rows``, checked as the tenancy guard checks the session's INSERTs (COPY and the driver's executemany
    pass below it): all tenants write anything, an organization's scope only its own rows, no scope nothing.

    :raises TenantScopeError: a tenant's table written outside any scope, or another organization's row.
    """
    scope = current_scope()
    if scope is ALL_TENANTS or tenant_kind(table) is None:
        return rows
    if scope is None:
        raise TenantScopeError(f"{table.name} written without a tenant scope")
    if "organization_id" not in columns:
        raise TenantScopeError(f"rows of {table.name} without organization_id inside the scope of organization {scope}")
    position = list(columns).index("organization_id")

    def checked() -> Iterator[Sequence]:
        for row in rows:
            if row[position] != scope:
                raise TenantScopeError(
                    f"refusing to write into {table.name} a row of organization {row[position]} "
                    f"inside the scope of organization {scope}"
                )
            yield row

    return checked()


def _python_defaults(table: Table, columns: Sequence[str]) -> list[tuple[str, object]]:
    """(name, default) of the columns left out that have a Python-side scalar or callable default."""
    out = []
    for column in table.c:
        default = column.default
        if column.name in columns or default is None or not (default.is_scalar or default.is_callable):
            continue
        out.append((column.name, default))
    return out


def _with_defaults(row: Sequence, defaults: list[tuple[str, object]]) -> Sequence:
    if not defaults:
        return row
    # A callable default is wrapped by SQLAlchemy to take the execution context, which none of ours reads.
    return (*row, *(d.arg if d.is_scalar else d.arg(None) for _name, d in defaults))


class _Converter:
    """A row's Python values as the driver takes them: each column's bind processor, run once per distinct
    value. Columns without a processor (integers, booleans, text) pass as they are, untouched: a year of
    answers at scale is millions of rows, and a call per value cost more than the COPY itself (#17)."""

    def __init__(self, table: Table, names: Sequence[str], dialect, *, copy: bool = False):
        processors = [self._processor(table.c[name].type, dialect, copy) for name in names]
        self.processed = [(index, processor, {}) for index, processor in enumerate(processors)
                          if processor is not None]

    @staticmethod
    def _processor(type_, dialect, copy: bool):
        if copy and isinstance(type_, JSON):
            # COPY takes the JSON text: made once per distinct value here, where the driver's own JSON
            # wrapper would be written out again for every row.
            return getattr(dialect, "_json_serializer", None) or json.dumps
        return type_._cached_bind_processor(dialect)

    def __call__(self, row: Sequence) -> tuple:
        if not self.processed:
            return tuple(row)
        values = list(row)
        for index, processor, cache in self.processed:
            value = values[index]
            if value is None:
                continue
            key = (type(value), repr(value)) if isinstance(value, list | dict) else (type(value), value)
            found = cache.get(key)
            if found is None:
                found = processor(value)
                if len(cache) < CACHE_LIMIT:
                    cache[key] = found
            values[index] = found
        return tuple(values)


def copy_dicts(table: Table, rows: Iterable[dict], *, use_copy: bool | None = None) -> int:
    """:func:`copy_rows` for rows given as dicts, every one with the keys of the first; return how many.

    :raises KeyError: a row without one of the first row's keys.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    columns = list(first)
    values = itemgetter(*columns)  # one C call per row; a single column comes back bare, not as a tuple
    if len(columns) == 1:
        return copy_rows(table, columns, ((values(row),) for row in chain([first], rows)), use_copy=use_copy)
    return copy_rows(table, columns, map(values, chain([first], rows)), use_copy=use_copy)
