"""セキュレジ item library: the operator's global items and an organization's own items."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("inspection_items", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.OPERATOR, Role.ORG_ADMIN])

from portal.blueprints.inspections.items import routes  # noqa: E402,F401
