from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("operator", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.OPERATOR])

from portal.blueprints.operator import routes  # noqa: E402,F401
