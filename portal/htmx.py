"""htmx support: one place decides whether a request came from htmx, and how fragments are sent."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, make_response, redirect, render_template, request, session
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


def into_flash(response):
    """Have htmx show ``response`` in the page's flash area (``#flash``) instead of the element that asked.

    For a refusal or an error page that has no place in the fragment the request expected.
    """
    response.headers["HX-Retarget"] = "#flash"
    response.headers["HX-Reswap"] = "innerHTML"
    # The whole fragment, whatever part of its answers the element selects (hx-select="#main" of the quiz's
    # buttons, "#results" of a filtered list): it has none of those, and nothing would be shown.
    response.headers["HX-Reselect"] = "unset"
    return response


def page_or_flash(page: str, fragment: str, status: int, /, **context):
    """A page that stands instead of the one asked for (a refusal, an error, a closed service): the whole
    ``page``, or for htmx its ``fragment`` in the flash area (:func:`into_flash`); both with ``status``."""
    if is_htmx():
        return into_flash(make_response(render_template(fragment, **context), status))
    return make_response(render_template(page, **context), status)


def redirect_page(target: str):
    """Send the browser to ``target`` as a whole page: for htmx a 204 with ``HX-Redirect`` (a swap of the
    sign-in page into a fragment would be wrong), otherwise 303 after a form and 302 for a GET."""
    if request.headers.get("HX-Request") == "true":
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303 if request.method != "GET" else 302)


def page_at(target: str, render: Callable[[], str]):
    """After a form, the page at ``target``: a plain form is redirected there (303); htmx gets that page in this
    same response with its address pushed (``HX-Push-Url``), one request instead of a redirect and a second one
    (#17). ``render`` is called for htmx only."""
    if not is_htmx():
        return redirect(target, 303)
    response = make_response(render())
    response.headers["HX-Push-Url"] = target
    return response
