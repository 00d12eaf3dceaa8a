"""The one place that decides whether a request came from htmx."""

from flask import request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"
