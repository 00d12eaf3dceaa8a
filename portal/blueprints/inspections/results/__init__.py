"""セキュレジ results (compliance by month, category, item and department) and follow-up (是正処置).

Administrators see the whole organization; a manager sees the departments they look after (and the
sub-departments below them) only.
"""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("inspection_results", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.ORG_ADMIN, Role.MANAGER])

# dashboard: this area's panels of the administrator's and manager's start page (portal/dashboard.py).
from portal.blueprints.inspections.results import dashboard, routes  # noqa: E402,F401
