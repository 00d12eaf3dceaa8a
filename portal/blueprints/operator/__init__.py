"""The operator's back office (guarded by portal.areas)."""

from flask import Blueprint

from portal.areas import operator_area

bp = operator_area(Blueprint("operator", __name__, template_folder="templates"))

from portal.blueprints.operator import routes  # noqa: E402,F401
