"""The terms and public texts: the public pages (terms, privacy policy, security white paper, subcontractors)
and the terms acceptance page (/legal, blueprint legal), and the operator's versions of them (/operator,
blueprint operator_legal, guarded by portal.areas). The rules are the core's ``portal/legal.py``."""

from flask import Blueprint

from portal.areas import operator_area

bp = Blueprint("legal", __name__, template_folder="templates")
operator_bp = operator_area(Blueprint("operator_legal", __name__, template_folder="templates"))

from portal.blueprints.legal import routes  # noqa: E402,F401
