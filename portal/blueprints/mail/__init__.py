"""The delivery log: operators see every email and manage suppressions; org admins see their people's."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("mail", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.OPERATOR, Role.ORG_ADMIN])

from portal.blueprints.mail import routes  # noqa: E402,F401
