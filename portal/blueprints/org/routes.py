from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from portal import audit, dashboard, data_export, mfa, third_parties, weekly_summary
from portal import notices as notice_rules
from portal import termination as termination_rules
from portal.audit_log import AuditFilterForm, TargetLabels, audit_page
from portal.blueprints.org import bp, services
from portal.blueprints.org.forms import (
    HandoverForm,
    MemberForm,
    ProfileForm,
    TerminationRequestForm,
    ThirdPartyMemberForm,
    WeeklySummaryForm,
)
from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.forms import AdminMfaPolicyForm, EmptyForm
from portal.models import Role, User
from portal.pagination import requested_page
from portal.requests import writes_on_get
from portal.security import role_required
from portal.violations import form_status, rule_violations_shown


@bp.get("/")
def home():
    """The dashboard: each area's panel (``portal.dashboard``), a manager's over their departments only."""
    me = current_user._get_current_object()
    pending = services.pending_handover(me.organization)
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


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    """Registration at first login (Art. 12-2) and later changes; managers may only read it."""
    org = current_user.organization
    admin = current_user._get_current_object()
    profile = services.profile_of(org)
    first = profile is None or profile.registered_at is None
    can_edit = admin.role == Role.ORG_ADMIN
    if request.method == "POST" and not can_edit:
        abort(403)
    form = ProfileForm()
    if request.method == "GET":
        form.organization_name.data = org.name
        form.admin_name.data = admin.name
        if profile is not None:
            form.postal_code.data = profile.postal_code
            form.prefecture.data = profile.prefecture
            form.address_line1.data = profile.address_line1
            form.address_line2.data = profile.address_line2
            form.phone.data = profile.phone
    if can_edit and form.validate_on_submit():
        with rule_violations_shown(form.organization_name):
            services.save_profile(org, admin, form.data_for_service())
            message = _("登録が完了しました。ご利用を開始できます。") if first else _("登録情報を保存しました。")
            flash(message, "success")
            return redirect(url_for("org.home") if first else url_for("org.profile"), 303)
    return render_template(
        "org/profile.html", form=form, profile=profile, first=first, can_edit=can_edit
    ), form_status()


@bp.route("/members", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def members():
    org = current_user.organization
    me = current_user._get_current_object()
    is_primary = services.is_primary_admin(me)
    form = MemberForm()
    if request.method == "POST":
        if not is_primary:
            abort(403)
        if form.validate_on_submit():
            with rule_violations_shown(form.email):
                services.invite_member(org, form.name.data, form.email.data, form.role.data, me)
                flash(_("招待メールを送信しました。"), "success")
                return redirect(url_for("org.members"), 303)
    return render_template(
        "org/members.html",
        form=form,
        members=services.members(org),
        is_primary=is_primary,
        primary_id=services.profile_of(org).primary_admin_id if services.profile_of(org) else None,
    ), form_status()


# --- termination and export (Art. 15) ---------------------------------------------------------


@bp.route("/termination", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def termination():
    org = current_user.organization
    current = termination_rules.get_termination(org)
    form = TerminationRequestForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            termination_rules.request_termination(
                org, form.end_on.data, form.reason.data or "", current_user._get_current_object()
            )
            flash(_("利用終了の申し入れを送信しました。運営事務局が受領すると確定します。"), "success")
            return redirect(url_for("org.termination"), 303)
    return render_template(
        "org/termination.html",
        form=form,
        current=current,
        retention_ends_on=termination_rules.retention_ends_on(current) if current else None,
    ), form_status()


@bp.get("/export")
@writes_on_get
@role_required(Role.ORG_ADMIN)
def export():
    """All of the organization's data as a zip of CSV files; the download is audited."""
    org = current_user.organization
    body = data_export.export_zip(org)
    audit.record("org.data_exported", target=org, organization_id=org.id, size=len(body))
    response = make_response(body)
    response.headers["Content-Type"] = "application/zip"
    response.headers["Content-Disposition"] = f"attachment; filename=export-{org.code}-{today_in_tokyo():%Y%m%d}.zip"
    return response


# --- handover of the primary administrator (Art. 12) ------------------------------------------


@bp.route("/handover", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def handover():
    org = current_user.organization
    me = current_user._get_current_object()
    form = HandoverForm()
    if request.method == "POST" and not services.is_primary_admin(me):
        abort(403)
    if form.validate_on_submit():
        with rule_violations_shown():
            services.start_handover(
                org,
                form.successor_name.data,
                form.successor_email.data,
                form.notes.data or "",
                form.predecessor_after.data,
                me,
            )
            flash(_("後任者に引き継ぎの依頼を送りました。受諾されると主管理者が交代します。"), "success")
            return redirect(url_for("org.handover"), 303)
    return render_template(
        "org/handover.html",
        form=form,
        pending=services.pending_handover(org),
        is_primary=services.is_primary_admin(me),
    ), form_status()


@bp.route("/handover/accept", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN, Role.MANAGER)
def handover_accept():
    """The successor reads the notes and what the operator sent before, then accepts."""
    me = current_user._get_current_object()
    pending = services.pending_handover(me.organization)
    if pending is None or pending.successor_id != me.id:
        abort(404)
    form = EmptyForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            services.accept_handover(pending, me)
            flash(_("引き継ぎを受諾しました。あなたが主管理者になりました。"), "success")
            return redirect(url_for("org.home"), 303)
    return render_template(
        "org/handover_accept.html",
        handover=pending,
        form=form,
        messages=services.operator_messages(me.organization),
        notices=notice_rules.board(me),
    )


@bp.get("/messages")
@role_required(Role.ORG_ADMIN)
def messages():
    """Every email the operator sent the organization (Art. 12: nothing is lost at a handover)."""
    return render_template("org/messages.html", messages=services.operator_messages(current_user.organization))


# --- third parties (Art. 14) ------------------------------------------------------------------


@bp.route("/third-parties", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def third_party_members():
    org = current_user.organization
    approved = third_parties.approved(org)
    form = ThirdPartyMemberForm()
    learners = db.session.scalars(
        select(User).where(User.role == Role.LEARNER, User.is_active_flag.is_(True)).order_by(User.name)
    ).all()
    form.learner.choices = [SelectChoice(u.id, f"{u.name} ({u.login_id or u.email or ''})") for u in learners]
    form.third_party.choices = [SelectChoice(0, _("所属なし"))] + [SelectChoice(p.id, p.name) for p in approved]
    if request.method == "POST":
        # An id outside the list (an unapproved or revoked third party) reaches the service, which refuses it.
        form.third_party.validate_choice = False
    if form.validate_on_submit():
        learner = db.session.get(User, form.learner.data)
        if learner is None:
            abort(404)
        with rule_violations_shown():
            third_parties.mark_learner(learner, form.third_party.data or None, current_user._get_current_object())
            flash(_("受講者の所属を保存しました。"), "success")
            return redirect(url_for("org.third_party_members"), 303)
    return render_template(
        "org/third_parties.html", form=form, approved=approved, members=third_parties.members(org)
    ), form_status()


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
