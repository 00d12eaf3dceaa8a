"""The customer organization's own back office: org admins and managers."""

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

from portal.models import Role
from portal.security import restrict_blueprint

bp = Blueprint("org", __name__, template_folder="templates")
restrict_blueprint(bp, [Role.ORG_ADMIN, Role.MANAGER])


@bp.before_request
def _require_registration():
    """Until an administrator registers the organization (Art. 12-2), the org screens show only that form."""
    from portal.blueprints.org.services import registration_due

    if request.endpoint != "org.profile" and registration_due(current_user.organization):
        return redirect(url_for("org.profile"))
    return None


# dashboard: this area's panels of the administrator's and manager's start page (portal/dashboard.py).
from portal.blueprints.org import dashboard, routes  # noqa: E402,F401
