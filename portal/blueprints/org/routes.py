from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import dashboard, weekly_summary
from portal import notices as notice_rules
from portal.audit_log import AuditFilterForm, TargetLabels, audit_page
from portal.blueprints.auth import services as auth_services
from portal.blueprints.auth.forms import AdminMfaPolicyForm
from portal.blueprints.org import bp
from portal.blueprints.org.forms import (
    WeeklySummaryForm,
)
from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import CreditNote, Invoice, Role
from portal.organizations import operator_messages, pending_handover
from portal.pagination import requested_page
from portal.requests import writes_on_get
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


@bp.get("/invoices")
@role_required(Role.ORG_ADMIN)
def invoices():
    rows = db.session.scalars(select(Invoice).order_by(Invoice.issued_on.desc(), Invoice.id.desc())).all()
    return render_template("org/invoices.html", invoices=rows, today=today_in_tokyo())


@bp.get("/invoices/<int:invoice_id>")
@role_required(Role.ORG_ADMIN)
def invoice_detail(invoice_id: int):
    # Another organization's invoice is outside the tenant scope: 404.
    invoice = db.get_or_404(Invoice, invoice_id)
    notes = db.session.scalars(
        select(CreditNote).where(CreditNote.invoice_id == invoice.id).order_by(CreditNote.id)
    ).all()
    return render_template("org/invoice_detail.html", invoice=invoice, notes=notes)


@bp.get("/credit-notes/<int:note_id>")
@role_required(Role.ORG_ADMIN)
def credit_note_detail(note_id: int):
    # Another organization's credit note is outside the tenant scope: 404.
    note = db.get_or_404(CreditNote, note_id)
    return render_template("org/credit_note_detail.html", note=note)


# --- notices from the operator (Art. 9-2) -----------------------------------------------------


@bp.get("/notices")
def notices():
    me = current_user._get_current_object()
    return render_template("org/notices.html", rows=notice_rules.board(me), unread=notice_rules.unread_count(me))


@bp.get("/notices/<int:notice_id>")
@writes_on_get
def notice_detail(notice_id: int):
    """Reading a notice records that this user has read it (the operator sees who has)."""
    me = current_user._get_current_object()
    notice = notice_rules.get_visible_notice_or_none(notice_id, me.organization_id)
    if notice is None:
        abort(404)
    notice_rules.mark_read(notice, me)
    return render_template("org/notice_detail.html", notice=notice)


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
        auth_services.set_admin_mfa_policy(current_user.organization, bool(form.required.data))
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
