"""Pagination: the page number of a list, read once and clamped, so no query string can overflow OFFSET;
and :func:`paginate_rows`, a page of rows for selects of several columns (``db.paginate`` takes one entity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import request
from sqlalchemy import Select, func, select

from portal.extensions import db

MAX_PAGE = 100_000


def clamp_page(page: int | None) -> int:
    return min(max(page or 1, 1), MAX_PAGE)


def requested_page(name: str = "page") -> int:
    """``?page=`` from the request: 1 when missing or not a number, never below 1 or above MAX_PAGE."""
    return clamp_page(request.args.get(name, 1, type=int))


@dataclass
class Page:
    """What the ``pager`` macro needs, for a select of several columns."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def paginate_rows(stmt: Select, page: int, per_page: int = 25) -> Page:
    """Page ``page`` (clamped by :func:`clamp_page`) of ``stmt``'s rows, with the total count."""
    page = clamp_page(page)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=list(rows), page=page, per_page=per_page, total=total)
