"""The layout's fixed parts, rendered once per process and language (#17).

``base.html``'s stylesheets and scripts and the footer's links are the same on every page in a language,
yet rendering them (eleven ``url_for`` and eight translations) took about a tenth of a small page's CPU.
``layout_part(name)`` renders ``templates/layout/<name>.html`` once per name, language and script root,
and returns the stored markup after that. Such a part reads nothing of the request but the language:
what varies per request or per user (the CSRF token, the navigation, the language switch's ``next``)
stays in ``base.html``. With templates reloaded (debug), every call renders again.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from markupsafe import Markup

from portal.i18n import current_translations


def layout_part(name: str) -> Markup:
    """The part ``name`` in the request's language (its catalog is the key), rendered on first need."""
    parts = current_app.extensions["layout_parts"]
    key = (name, current_translations(), request.script_root)
    part = parts.get(key)
    if part is None or current_app.jinja_env.auto_reload:
        # The output of an autoescaping template of ours: its values are escaped already.
        html = current_app.jinja_env.get_template(f"layout/{name}.html").render()
        part = parts[key] = Markup(html)  # noqa: S704  # nosec B704
    return part


def init_app(app: Flask) -> None:
    app.extensions["layout_parts"] = {}
    app.jinja_env.globals["layout_part"] = layout_part
