"""Accepting an invitation: a user created without a password sets one through a single-use link."""

from flask import Blueprint

bp = Blueprint("invitations", __name__, template_folder="templates")

from portal.blueprints.invitations import routes  # noqa: E402,F401
