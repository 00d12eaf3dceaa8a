from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import dashboard, mfa, weekly_summary
from portal.audit_log import AuditFilterForm, TargetLabels, audit_page
from portal.blueprints.org import bp
from portal.blueprints.org.forms import (
    WeeklySummaryForm,
)
from portal.forms import AdminMfaPolicyForm
from portal.models import Role
from portal.organizations import operator_messages, pending_handover
from portal.pagination import requested_page
from portal.security import role_required


@bp.get("/")
def home():
    """The dashboard: each area's panel (``portal.dashboard``), a manager's over their departments only."""
    me = current_user._get_current_object()
    pending = pending_handover(me.organization)
    return render_template(
        "org/home.html",
        panels=dashboard.panels(dashboard.viewer_of(me)),
        handover_to_accept=pending if pending and pending.successor_id == me.id else None,
        mfa_form=AdminMfaPolicyForm(required=me.organization.admins_require_mfa) if me.role == Role.ORG_ADMIN else None,
        summary_form=WeeklySummaryForm(wanted=me.wants_weekly_summary) if me.role == Role.ORG_ADMIN else None,
    )


@bp.get("/audit")
@role_required(Role.ORG_ADMIN)
def audit_log():
    # The tenant scope limits the rows to this organization; no filter is needed here.
    form = AuditFilterForm(request.args, meta={"csrf": False}, with_organization=False)
    page = audit_page(form, requested_page())
    return render_template("org/audit.html", form=form, page=page, targets=TargetLabels(page.items))




@bp.get("/messages")
@role_required(Role.ORG_ADMIN)
def messages():
    """Every email the operator sent the organization (Art. 12: nothing is lost at a handover)."""
    return render_template("org/messages.html", messages=operator_messages(current_user.organization))


@bp.post("/two-factor-policy")
@role_required(Role.ORG_ADMIN)
def mfa_policy():
    """Whether this organization's administrators must use two-factor sign-in (#10)."""
    form = AdminMfaPolicyForm()
    if form.validate_on_submit():
        mfa.set_admin_mfa_policy(current_user.organization, bool(form.required.data))
        flash(_("2段階認証の設定を保存しました。"), "success")
    return redirect(url_for("org.home"), 303)


@bp.post("/weekly-summary")
@role_required(Role.ORG_ADMIN)
def weekly_summary_preference():
    """The administrator's own choice of the weekly summary email."""
    form = WeeklySummaryForm()
    if form.validate_on_submit():
        weekly_summary.set_preference(current_user._get_current_object(), bool(form.wanted.data))
        flash(_("週次サマリーを受け取ります。") if form.wanted.data else _("週次サマリーを止めました。"), "success")
    return redirect(url_for("org.home", _anchor="mail-settings"), 303)
