"""The learner's side of training: lessons, taking a test on a phone, results and certificates."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("quizzes", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.LEARNER])

from portal.blueprints.training.quizzes import routes  # noqa: E402,F401
