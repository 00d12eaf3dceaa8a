"""CSV and TSV downloads that Excel opens correctly, streamed row by row.

Excel needs a BOM to read UTF-8 and CRLF line ends. Excel turns ``00123`` into the number 123 even
when the cell is quoted, so a caller marks ID cells with :class:`TextCell`; an all-digit ID is then
written as ``="00123"``, which Excel shows as the text 00123 (our CSV import reads it back as 00123).
A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be run as a
formula (CSV injection), so it gets a leading apostrophe.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from urllib.parse import quote

from flask import Response, current_app

from portal.tenancy import current_scope, reset_scope, set_scope

BOM = "\ufeff"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_DIALECTS = {
    "csv": {"delimiter": ",", "mimetype": "text/csv", "extension": "csv"},
    "tsv": {"delimiter": "\t", "mimetype": "text/tab-separated-values", "extension": "tsv"},
}


class TextCell(str):
    """A cell Excel must keep as text (IDs with leading zeros, long numbers)."""


_DIGITS = re.compile(r"[0-9]+")


def neutralise(value) -> str:
    """The cell as text, with an apostrophe in front when a spreadsheet would run it as a formula.

    Every CSV and TSV the portal writes goes through here (downloads, the data export zip, address lists).
    Any text starting with one of :data:`FORMULA_PREFIXES` is neutralised, whatever follows (``=1+HYPERLINK``,
    ``-2+3``); only a number that is a number in Python (``int``, ``float``, ``Decimal``) stays as it is.
    """
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if isinstance(value, TextCell) and _DIGITS.fullmatch(text):
        return f'="{text}"'
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the real (Japanese) name per RFC 5987/6266."""
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        stem, extension = filename, ""
    ascii_stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "download"
    fallback = f"{ascii_stem}.{extension}" if extension.isascii() and extension.isalnum() else ascii_stem
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def iter_lines(header: Sequence, rows: Iterable[Sequence], dialect: str = "csv") -> Iterator[str]:
    """The file as text chunks: BOM, header, then one line per row (CRLF, every cell quoted)."""
    options = _DIALECTS[dialect]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=options["delimiter"], quoting=csv.QUOTE_ALL, lineterminator="\r\n")

    def line(cells: Sequence) -> str:
        writer.writerow([neutralise(c) for c in cells])
        out = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return out

    yield BOM + line(header)
    for row in rows:
        yield line(row)


def rows_from_database(produce: Callable[[], Iterable[Sequence]]) -> Iterator[Sequence]:
    """Rows that ``produce()`` reads from the database while the response streams.

    The request (and its database session) has ended by then, so ``produce`` runs in an app context
    of its own, in the tenant scope of the request that started the download.
    """
    app = current_app._get_current_object()
    scope = current_scope()

    def generate():
        with app.app_context():
            token = set_scope(scope)
            try:
                yield from produce()
            finally:
                # Closed from another context (garbage collection): there is nothing to restore.
                with contextlib.suppress(ValueError):
                    reset_scope(token)

    return generate()


def csv_response(filename: str, header: Sequence, rows: Iterable[Sequence], dialect: str = "csv") -> Response:
    """A streamed download of ``rows`` as CSV (``dialect="csv"``) or TSV (``"tsv"``), UTF-8 with BOM.

    ``rows`` may read the database lazily: build it with :func:`rows_from_database`.
    :raises KeyError: for a dialect other than csv or tsv.
    """
    options = _DIALECTS[dialect]
    body = (chunk.encode("utf-8") for chunk in iter_lines(header, rows, dialect))
    response = Response(body, mimetype=options["mimetype"])
    response.headers["Content-Type"] = f"{options['mimetype']}; charset=utf-8"
    response.headers["Content-Disposition"] = content_disposition(filename)
    return response
