"""The customer organization's own back office: org admins and managers."""

from flask import Blueprint, redirect, request, session, url_for
from flask_login import current_user

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("org", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.ORG_ADMIN, Role.MANAGER])


REGISTERED_KEY = "org_registered"


@bp.before_request
def _require_registration():
    """Until an administrator registers the organization (Art. 12-2), the org screens show only that form."""
    from portal.blueprints.org.services import registration_due

    # Registration happens once: after that this session need not ask again (a query per request saved).
    if request.endpoint == "org.profile" or session.get(REGISTERED_KEY) == current_user.organization_id:
        return None
    if registration_due(current_user.organization):
        return redirect(url_for("org.profile"))
    session[REGISTERED_KEY] = current_user.organization_id
    return None


# dashboard: this area's panels of the administrator's and manager's start page (portal/dashboard.py).
from portal.blueprints.org import dashboard, routes  # noqa: E402,F401
