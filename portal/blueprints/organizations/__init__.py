"""Organizations: the operator's (list, creation, contract, administrators, status, seats, the page of one
organization) and the organization's own (registration, members, handover). Guarded by portal.areas."""

from flask import Blueprint

from portal.areas import operator_area, org_area

operator_bp = operator_area(Blueprint("operator_organizations", __name__, template_folder="templates"))
org_bp = org_area(Blueprint("org_organizations", __name__, template_folder="templates"))

from portal.blueprints.organizations import routes  # noqa: E402,F401
