"""htmx support: one place decides whether a request came from htmx, and how fragments are sent."""

from __future__ import annotations

from flask import render_template, request, session
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    """True for an htmx request (but not for htmx's history restore, which wants the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def render_page_or_block(template: str, block: str, **context) -> str:
    """The whole page, or for htmx only ``block`` plus any flash messages swapped out of band.

    One template serves both, so the fragment can never drift from the page.
    """
    if not is_htmx():
        return render_template(template, **context)
    fragment = render_block(template, block, **context)
    if session.get("_flashes"):
        fragment += render_template("_flash_oob.html")
    return fragment
