"""The public status page: current incidents and maintenance (Art. 11, 20-2). No sign-in needed."""

from flask import Blueprint

bp = Blueprint("status", __name__, template_folder="templates")

from portal.blueprints.status import routes  # noqa: E402,F401
