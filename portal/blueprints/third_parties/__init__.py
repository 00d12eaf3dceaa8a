"""Third parties: the operator's subcontractors (再委託先, Art. 6) and its consent to an organization's third
parties (Art. 14), and the organization's own (which learners belong to an approved third party). Guarded
by portal.areas."""

from flask import Blueprint

from portal.areas import operator_area, org_area

operator_bp = operator_area(Blueprint("operator_third_parties", __name__, template_folder="templates"))
org_bp = org_area(Blueprint("org_third_parties", __name__, template_folder="templates"))

from portal.blueprints.third_parties import routes  # noqa: E402,F401
