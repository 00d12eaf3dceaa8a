"""Learners and departments, managed by the organization's administrators and managers."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("learners", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.ORG_ADMIN, Role.MANAGER])

from portal.blueprints.learners import routes  # noqa: E402,F401
