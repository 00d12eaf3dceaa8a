"""The support desk: customers' tickets and the staff's queues (terms Art. 10 and 11)."""

from flask import Blueprint

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("tickets", __name__, template_folder="templates")
# Every role has a use for the desk; each view narrows it further.
restrict_blueprint(bp, list(Role))
# The public contact form (Art. 10-2): for anyone, signed in or not, so it carries no role guard.
contact_bp = Blueprint("contact", __name__, template_folder="templates")

# dashboard: this area's panels of the administrator's and manager's start page (portal/dashboard.py).
from portal.blueprints.tickets import contact, dashboard, routes  # noqa: E402,F401
