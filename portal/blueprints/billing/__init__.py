"""Billing (Art. 3): the operator's invoices, payments and credit notes (/operator, blueprint operator_billing)
and the organization's invoices and credit notes (/org, blueprint org_billing), guarded by portal.areas."""

from flask import Blueprint

from portal.areas import operator_area, org_area

operator_bp = operator_area(Blueprint("operator_billing", __name__, template_folder="templates"))
org_bp = org_area(Blueprint("org_billing", __name__, template_folder="templates"))

from portal.blueprints.billing import routes  # noqa: E402,F401
