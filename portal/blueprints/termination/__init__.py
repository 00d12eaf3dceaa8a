"""Termination and deletion (Art. 15, 16, 19): the operator's (receiving a request, cancelling, cure notices,
deleting all data with two operators, the record of deletions) and the organization's own (asking to end,
the data export). Guarded by portal.areas."""

from flask import Blueprint

from portal.areas import operator_area, org_area

operator_bp = operator_area(Blueprint("operator_termination", __name__, template_folder="templates"))
org_bp = org_area(Blueprint("org_termination", __name__, template_folder="templates"))

from portal.blueprints.termination import routes  # noqa: E402,F401
