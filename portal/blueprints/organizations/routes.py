import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import contracts, notices, organization_page, payments, seats
from portal.accounts import signed_in_user as _me
from portal.blueprints.organizations import operator_bp, org_bp, services
from portal.blueprints.organizations.forms import (
    AdminForm,
    HandoverForm,
    MemberForm,
    OrganizationFilterForm,
    OrganizationForm,
    ProfileForm,
    RenewalForm,
    StatusForm,
)
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.forms import ContractForm, EmptyForm
from portal.invoicing import default_due_on
from portal.models import Invoice, Organization, Role, User
from portal.organizations import (
    STATUS_LABELS,
    change_status,
    create_organization,
    get_or_404,
    get_profile,
    issue_admin,
    operator_messages,
    organizations_query,
    pending_handover,
    profile_of,
    status_history,
)
from portal.pagination import paginate_rows, requested_page
from portal.security import role_required
from portal.violations import form_status, rule_violations_shown

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")

# --- the operator's view ----------------------------------------------------------------------


@operator_bp.get("/organizations")
def organizations():
    form = OrganizationFilterForm(request.args, meta={"csrf": False})
    form.validate()
    stmt = organizations_query(
        q=form.q.data if not form.q.errors else "",
        status=form.status.data or "",
        over_limit=bool(form.over_limit.data),
    )
    page = paginate_rows(stmt, requested_page())
    return render_template("organizations/operator_organizations.html", form=form, page=page, labels=STATUS_LABELS)


@operator_bp.route("/organizations/new", methods=["GET", "POST"])
def organization_new():
    form = OrganizationForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            org = create_organization(
                form.name.data,
                form.terms(),
                form.admin_name.data,
                form.admin_email.data,
                _me(),
                corporate_number=form.corporate_number.data,
            )
            flash(_("組織を登録し、管理者に招待メールを送信しました。"), "success")
            return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    return render_template("organizations/operator_organization_new.html", form=form), form_status(form)


@operator_bp.get("/organizations/<int:org_id>")
def organization_detail(org_id: int):
    return organization_page.render(get_or_404(org_id))


@organization_page.section
def _organization_section(org: Organization) -> dict:
    """This subject's part of the page: the contract, profile, administrators, handover, status, seats,
    invoices and recent activity."""
    return {
        "contract": contracts.current_contract(org.id),
        "profile": get_profile(org),
        "seat": seats.seat_check(org),
        "peaks": seats.monthly_peaks(org.id),
        "staff": services.org_staff(org),
        "activity": services.recent_activity(org),
        "status_history": status_history(org),
        "invoices": db.session.scalars(
            select(Invoice).where(Invoice.organization_id == org.id).order_by(Invoice.period_start.desc())
        ).all(),
        "contract_history": contracts.contract_history(org.id),
        "not_started": contracts.not_started(org.id),
        "received_12_months": payments.received_last_12_months(org),
        "status_form": StatusForm(status=org.status),
        "admin_form": AdminForm(),
        "action_form": EmptyForm(),
        "handover_form": HandoverForm(predecessor_after="manager"),
        "pending_handover": pending_handover(org),
        "labels": STATUS_LABELS,
        "today": today_in_tokyo(),
    }


@operator_bp.route("/organizations/<int:org_id>/contract", methods=["GET", "POST"])
def contract_edit(org_id: int):
    org = get_or_404(org_id)
    contract = contracts.current_contract(org.id)
    form = ContractForm(obj=contract)
    if form.validate_on_submit():
        with rule_violations_shown():
            services.save_contract(org, contract, form.terms(), _me())
            flash(_("契約内容を保存しました。"), "success")
            return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    return render_template("organizations/operator_contract_edit.html", form=form, org=org), form_status()


@operator_bp.route("/organizations/<int:org_id>/contract/renew", methods=["GET", "POST"])
def contract_renew(org_id: int):
    """The next contract period, by default the latest period's terms for a year, and its invoice."""
    org = get_or_404(org_id)
    defaults = services.renewal_terms(org)
    if defaults is None:
        flash(_("更新する契約がありません。先に契約内容を登録してください。"), "error")
        return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    form = RenewalForm(obj=defaults, due_on=default_due_on())
    if form.validate_on_submit():
        with rule_violations_shown():
            _contract, invoice = services.renew_contract(org, form.terms(), form.due_on.data, _me())
            flash(_("契約を更新し、請求書 %(number)s を発行しました。", number=invoice.number), "success")
            return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    return render_template("organizations/operator_contract_renew.html", form=form, org=org), form_status()


@operator_bp.post("/organizations/<int:org_id>/admins")
def admin_new(org_id: int):
    org = get_or_404(org_id)
    form = AdminForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.admin_email):
            issue_admin(org, form.admin_name.data, form.admin_email.data, _me())
            flash(_("管理者IDを発行し、招待メールを送信しました。"), "success")
            return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    return organization_page.render(org, 422, admin_form=form)


@operator_bp.post("/organizations/<int:org_id>/admins/<int:user_id>/resend")
def admin_resend(org_id: int, user_id: int):
    org = get_or_404(org_id)
    user = db.session.scalar(
        select(User).where(User.id == user_id, User.organization_id == org.id, User.role == Role.ORG_ADMIN)
    )
    if user is None:
        abort(404)
    form = EmptyForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            services.resend_invitation(user, _me())
            flash(_("招待メールを再送しました。以前のリンクは使えなくなりました。"), "success")
    return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)


@operator_bp.post("/organizations/<int:org_id>/status")
def status_change(org_id: int):
    org = get_or_404(org_id)
    form = StatusForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.status):
            change_status(org, form.status.data, form.reason.data, _me())
            flash(_("組織の状態を「%(label)s」にしました。", label=STATUS_LABELS[org.status]), "success")
            return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    return organization_page.render(org, 422, status_form=form)


@operator_bp.post("/organizations/<int:org_id>/handover")
def handover_start(org_id: int):
    """The operator names a successor to the primary administrator (Art. 12), e.g. when the primary left."""
    org = get_or_404(org_id)
    form = HandoverForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            services.start_handover(
                org,
                form.successor_name.data,
                form.successor_email.data,
                form.notes.data or "",
                form.predecessor_after.data,
                _me(),
            )
            flash(_("後任者に引き継ぎの依頼を送りました。"), "success")
    else:
        flash(_("後任者の氏名とメールアドレスを正しく入力してください。"), "error")
    return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)


@operator_bp.get("/seats")
def seat_report():
    month = request.args.get("month", "")
    if not MONTH.fullmatch(month):
        month = seats.month_key(utcnow())
    return render_template("organizations/operator_seats.html", month=month, rows=seats.overage_report(month))


# --- the organization's view ------------------------------------------------------------------


@org_bp.route("/profile", methods=["GET", "POST"])
def profile():
    """Registration at first login (Art. 12-2) and later changes; managers may only read it."""
    org = current_user.organization
    admin = current_user._get_current_object()
    profile = profile_of(org)
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
            return redirect(url_for("org.home") if first else url_for("org_organizations.profile"), 303)
    return render_template(
        "organizations/org_profile.html", form=form, profile=profile, first=first, can_edit=can_edit
    ), form_status()


@org_bp.route("/members", methods=["GET", "POST"])
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
                return redirect(url_for("org_organizations.members"), 303)
    return render_template(
        "organizations/org_members.html",
        form=form,
        members=services.members(org),
        is_primary=is_primary,
        primary_id=profile_of(org).primary_admin_id if profile_of(org) else None,
    ), form_status()


@org_bp.route("/handover", methods=["GET", "POST"])
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
            return redirect(url_for("org_organizations.handover"), 303)
    return render_template(
        "organizations/org_handover.html",
        form=form,
        pending=pending_handover(org),
        is_primary=services.is_primary_admin(me),
    ), form_status()


@org_bp.route("/handover/accept", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN, Role.MANAGER)
def handover_accept():
    """The successor reads the notes and what the operator sent before, then accepts."""
    me = current_user._get_current_object()
    pending = pending_handover(me.organization)
    if pending is None or pending.successor_id != me.id:
        abort(404)
    form = EmptyForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            services.accept_handover(pending, me)
            flash(_("引き継ぎを受諾しました。あなたが主管理者になりました。"), "success")
            return redirect(url_for("org.home"), 303)
    return render_template(
        "organizations/org_handover_accept.html",
        handover=pending,
        form=form,
        messages=operator_messages(me.organization),
        notices=notices.board(me),
    )
