"""Applications for the service: the public form (``registration``) and the operator's review (``applications``)."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("registration", __name__, template_folder="templates")
review_bp = Blueprint("applications", __name__, template_folder="templates")
restrict_blueprint(review_bp, [Role.OPERATOR])

from portal.blueprints.registration import review, routes  # noqa: E402,F401
