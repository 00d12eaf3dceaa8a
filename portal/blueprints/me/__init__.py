"""The learner's own pages, mobile first."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("me", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.LEARNER])

from portal.blueprints.me import routes  # noqa: E402,F401
