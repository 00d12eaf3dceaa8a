"""The request class: form fields and query parameters never carry NUL characters.

PostgreSQL refuses NUL in text (psycopg raises DataError: a 500), and no field has a use for it, so
it is removed where every view, form and filter reads its input.
"""

from __future__ import annotations

from flask import Request
from werkzeug.datastructures import ImmutableMultiDict, iter_multi_items


def _clean(value):
    return value.replace("\x00", "") if isinstance(value, str) else value


class NulFreeMultiDict(ImmutableMultiDict):
    def __init__(self, mapping=None):
        if mapping is not None:
            mapping = [(_clean(key), _clean(value)) for key, value in iter_multi_items(mapping)]
        super().__init__(mapping)


class PortalRequest(Request):
    parameter_storage_class = NulFreeMultiDict


def writes_on_get(view):
    """Mark a view that writes to the database on GET (say, "this notice was read").

    On SQLite, GET and HEAD requests start their transaction with a plain (deferred) BEGIN, so that pages
    are read while another worker writes (WAL); a transaction that read first cannot be sure to get the
    write lock later, so a view that writes on GET is marked with this and gets BEGIN IMMEDIATE like POSTs.
    ``tests/test_scale_sqlite.py`` fails for a GET view that commits without the mark.
    """
    view.writes_on_get = True
    return view
