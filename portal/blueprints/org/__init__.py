"""The customer organization's own back office: org admins and managers."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("org", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.ORG_ADMIN, Role.MANAGER])

from portal.blueprints.org import routes  # noqa: E402,F401
