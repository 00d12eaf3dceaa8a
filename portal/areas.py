"""The two back-office areas, whose guards every back-office subject's blueprints share.

- ``/operator``: the operator's staff (Role.OPERATOR).
- ``/org``: an organization's administrators and managers. Until an administrator registers the
  organization (Art. 12-2), every screen of the area but the registration form redirects to that form.

A subject (billing, notices, ...) has one blueprint per area it serves, named ``<area>_<subject>`` and
registered with the area's URL prefix; ``operator_area(bp)`` or ``org_area(bp)`` guards all its views at
once, so that a new view cannot forget its area's rules.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, session, url_for
from flask_login import current_user

from portal.models import Role
from portal.organizations import registration_due
from portal.security import restrict_blueprint

OPERATOR_PREFIX = "/operator"
ORG_PREFIX = "/org"
ORG_ROLES = (Role.ORG_ADMIN, Role.MANAGER)

# The organization's registration form, the one org screen open before registration.
REGISTRATION_ENDPOINT = "org_organizations.profile"
# The session remembers a registered organization: the question is asked once per session, not per request.
REGISTERED_KEY = "org_registered"


def operator_area(bp: Blueprint) -> Blueprint:
    """Guard every view of ``bp`` as the operator's area."""
    restrict_blueprint(bp, [Role.OPERATOR])
    return bp


def org_area(bp: Blueprint) -> Blueprint:
    """Guard every view of ``bp`` as an organization's area: role first, then the registration gate."""
    restrict_blueprint(bp, ORG_ROLES)
    bp.before_request(_require_registration)
    return bp


def _require_registration():
    if request.endpoint == REGISTRATION_ENDPOINT or session.get(REGISTERED_KEY) == current_user.organization_id:
        return None
    if registration_due(current_user.organization):
        return redirect(url_for(REGISTRATION_ENDPOINT))
    session[REGISTERED_KEY] = current_user.organization_id
    return None
