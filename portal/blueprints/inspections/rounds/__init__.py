"""セキュレジ rounds (点検回) for the organization: administrators schedule them; managers read them."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("inspections", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.ORG_ADMIN, Role.MANAGER])

from portal.blueprints.inspections.rounds import routes  # noqa: E402,F401
