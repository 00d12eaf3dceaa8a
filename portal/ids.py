"""Integers from URLs, query strings and forms that reach the database: within its INTEGER, or not at all.

Every id column is a PostgreSQL ``integer`` (``Mapped[int]`` primary keys). A larger number in a URL made
SQLite raise OverflowError and PostgreSQL refuse the parameter: a 500 instead of "not found".
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2_147_483_647


def database_int(value: str) -> int:
    """``int(value)``, for ``request.args.get(name, type=database_int)``.

    :raises ValueError: not a number, or beyond the database's INTEGER (the argument then counts as missing).
    """
    number = int(value)
    if abs(number) > MAX_ID:
        raise ValueError(f"{value!r} is beyond the database's integer range")
    return number


def parse_id(text: str | None) -> int | None:
    """An id typed or sent as text: ASCII digits up to MAX_ID, else None.

    Not ``str.isdigit()``, which is true for "²" and "١٢" (``int("²")`` raises ValueError: a 500).
    """
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


class DatabaseIntConverter(IntegerConverter):
    """Werkzeug's ``int`` converter whose default maximum is the database's INTEGER: an id beyond it is
    404 (the portal's error page) on every route, before any view runs.

    The maximum is in the converter's regex too, so such a path matches no rule whatever the method:
    with only ``to_python`` refusing it, Werkzeug answered a POST to a path that also has a GET rule
    with 405 instead of 404.
    """

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
        if max is not None and not signed and not fixed_digits:
            self.regex = digits_at_most(max)


def digits_at_most(limit: int) -> str:
    """A regular expression for the decimal numbers from 0 to ``limit`` (leading zeros allowed)."""
    digits = str(limit)
    shorter = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    same_length = [
        digits[:i] + f"[0-{int(d) - 1}]" + (rf"\d{{{len(digits) - i - 1}}}" if i < len(digits) - 1 else "")
        for i, d in enumerate(digits)
        if d != "0"
    ]
    return "0*(?:" + "|".join([*shorter, *same_length, digits]) + ")"
