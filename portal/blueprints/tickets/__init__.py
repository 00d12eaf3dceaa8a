"""The support desk. Staff work the queue; customers' tickets come with the support-desk issue."""

from flask import Blueprint

bp = Blueprint("tickets", __name__, template_folder="templates")

from portal.blueprints.tickets import routes  # noqa: E402,F401
