"""Public legal pages (terms, privacy policy, security white paper) and the terms acceptance page."""

from flask import Blueprint

bp = Blueprint("legal", __name__, template_folder="templates")

from portal.blueprints.legal import routes  # noqa: E402,F401
