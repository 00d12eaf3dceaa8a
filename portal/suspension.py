"""Suspended and terminated organizations (Art. 3-4, 15, 16): ONE check for every route.

A gate of the request pipeline (portal/gates.py), after the tenant scope is bound. A member of an
organization that is not active sees the suspension page, with the reason and whom to contact,
on every route except the allow-list below; staff are never affected. Resuming the organization
restores everything, since nothing else was changed.
"""

from __future__ import annotations

from flask import current_app, request

from portal import organizations
from portal.accounts import signed_in_user
from portal.htmx import page_or_flash
from portal.models import OrganizationStatus, Role

# Signing out, switching language and static files always work.
ALWAYS_ALLOWED = frozenset(
    {
        "static",
        "auth.logout",
        "auth.login",
        "main.set_language",
        "auth.change_password",
        # Account security (#10): a second factor and "my password may be known" always work.
        "auth.two_factor",
        "auth.mfa_setup",
        "auth.mfa_disable",
        "auth.mfa_recovery_codes",
        "auth.report_compromised",
        "status.page",
        # The terms stay readable, and acceptance reachable, or a suspended administrator who owes an
        # acceptance could not even reach the invoices.
        "legal.page",
        "legal.accept",
        "legal.subcontractors",
    }
)
# Administrators can still read their invoices and notices, and export their data until it is
# deleted (Art. 15). Add the ticket endpoints here when tickets land.
# A suspended organization's administrators still read notices and invoices, export their data and
# reach the support desk (to ask why, or to say the payment is on its way).
ADMIN_ALLOWED = frozenset(
    {
        "org_billing.invoices",
        "org_billing.invoice_detail",
        "org_notices.notices",
        "org_notices.notice_detail",
        "org_termination.termination",
        "org_termination.export",
        "tickets.index",
        "tickets.new",
        "tickets.show",
        "tickets.reply",
        "tickets.attachment",
        "tickets.close",
        "tickets.rate",
    }
)


def blocked_status(user) -> str | None:
    """The organization's status if ``user`` must see the suspension page, else None."""
    if not user.is_authenticated or user.is_staff:
        return None
    org = user.organization
    if org is None or org.status == OrganizationStatus.ACTIVE:
        return None
    if request.endpoint in ALWAYS_ALLOWED:
        return None
    if user.role == Role.ORG_ADMIN and request.endpoint in ADMIN_ALLOWED:
        return None
    return org.status


def check_suspension():
    user = signed_in_user()
    status = blocked_status(user)
    if status is None:
        return None
    change = organizations.latest_status_change(user.organization)
    context = {
        "status": status,
        "reason": change.reason if change else "",
        "contact": current_app.config["BILLING_CONTACT"],
        "is_admin": user.role == Role.ORG_ADMIN,
    }
    return page_or_flash("suspended.html", "_suspended_body.html", 403, **context)
