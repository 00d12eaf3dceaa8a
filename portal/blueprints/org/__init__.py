"""The customer organization's own back office: org admins and managers (guarded by portal.areas)."""

from flask import Blueprint

from portal.areas import org_area

bp = org_area(Blueprint("org", __name__, template_folder="templates"))

# dashboard: this area's panels of the administrator's and manager's start page (portal/dashboard.py).
from portal.blueprints.org import dashboard, routes  # noqa: E402,F401
