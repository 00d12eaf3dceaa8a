"""Deliveries (配信) and results: administrators deliver; managers see their departments' results."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("training", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.ORG_ADMIN, Role.MANAGER])

# dashboard: this area's panels of the administrator's and manager's start page (portal/dashboard.py).
from portal.blueprints.training.deliveries import dashboard, routes  # noqa: E402,F401
