"""The page number of a paginated list, read once and clamped, so no query string can overflow OFFSET."""

from flask import request

MAX_PAGE = 100_000


def clamp_page(page: int | None) -> int:
    return min(max(page or 1, 1), MAX_PAGE)


def requested_page(name: str = "page") -> int:
    """``?page=`` from the request: 1 when missing or not a number, never below 1 or above MAX_PAGE."""
    return clamp_page(request.args.get(name, 1, type=int))
