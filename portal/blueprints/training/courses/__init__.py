"""Course authoring: the operator's global courses and an organization's own courses."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("courses", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.OPERATOR, Role.ORG_ADMIN])

from portal.blueprints.training.courses import routes  # noqa: E402,F401
