"""Answering an inspection on a phone: learners answer about themselves, managers for their teams."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("inspection_sheets", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.LEARNER, Role.MANAGER])

from portal.blueprints.inspections.sheets import routes  # noqa: E402,F401
