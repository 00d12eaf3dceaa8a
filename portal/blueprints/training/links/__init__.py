"""Public training pages: the landing page of a personal link and certificate verification.

No role guard: these pages are for people who are not signed in. A GET never records anything
(mail scanners open links); only the POST from the landing page signs the learner in.
"""

from flask import Blueprint

bp = Blueprint("training_links", __name__, template_folder="templates")

from portal.blueprints.training.links import routes  # noqa: E402,F401
