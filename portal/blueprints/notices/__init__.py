"""Notices (Art. 9, 11, 20, 21): the operator's notices (/operator, blueprint operator_notices) and the
organization's notice board (/org, blueprint org_notices), guarded by portal.areas."""

from flask import Blueprint

from portal.areas import operator_area, org_area

operator_bp = operator_area(Blueprint("operator_notices", __name__, template_folder="templates"))
org_bp = org_area(Blueprint("org_notices", __name__, template_folder="templates"))

# dashboard: the notices panel of the administrator's and manager's start page (portal/dashboard.py).
from portal.blueprints.notices import dashboard, routes  # noqa: E402,F401
