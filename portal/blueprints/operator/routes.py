import re
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import (
    contracts,
    cure_notices,
    deletion,
    inbox,
    invoicing,
    legal,
    mfa,
    notices,
    payments,
    seats,
    staff_alerts,
    staff_training,
    third_parties,
)
from portal import termination as termination_rules
from portal.accounts import find_user_by_email
from portal.accounts import signed_in_user as _me
from portal.audit_log import AuditFilterForm, TargetLabels, audit_page
from portal.blueprints.operator import bp, services
from portal.blueprints.operator.forms import (
    AdminForm,
    ApproveDeletionForm,
    CancelContractForm,
    ContractForm,
    CureNoticeForm,
    CureRecordForm,
    HandleItemForm,
    InboxFilterForm,
    MfaResetForm,
    OrganizationFilterForm,
    OrganizationForm,
    PurgeForm,
    RenewalForm,
    StatusForm,
    SubcontractorForm,
    ThirdPartyForm,
    UserLookupForm,
)
from portal.blueprints.org import services as org_services
from portal.blueprints.org.forms import HandoverForm
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.forms import AdminMfaPolicyForm, EmptyForm
from portal.models import (
    Contract,
    CureNotice,
    DeletionRecord,
    InboxItem,
    Invoice,
    Organization,
    Role,
    Subcontractor,
    ThirdParty,
    User,
)
from portal.organizations import change_status, get_profile, status_history
from portal.pagination import paginate_rows, requested_page
from portal.violations import form_status, rule_violations_shown, undone_on

MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def get_org_or_404(org_id: int) -> Organization:
    return db.get_or_404(Organization, org_id)


def get_contract(org: Organization) -> Contract | None:
    """The contract in force (the latest started), else the first to come."""
    return contracts.current_contract(org.id)


@bp.get("/")
def home():
    over_limit = db.session.execute(services.organizations_query(over_limit=True).limit(20)).all()
    overdue = db.session.scalars(invoicing.overdue_invoices_query().limit(20)).all()
    return render_template(
        "operator/home.html",
        open_incidents=notices.open_incidents(),
        dead_emails=services.dead_emails_since(utcnow() - timedelta(hours=24)),
        failed_staff_alerts=staff_alerts.failed_staff_alerts(utcnow() - timedelta(days=7)),
        staff_address_problems=staff_alerts.address_problems(current_app.config),
        staff_address_labels=staff_alerts.STAFF_ADDRESSES,
        pending_deletions=deletion.pending_requests(),
        inbox_counts=inbox.open_counts(),
        inbox_kinds=inbox.KINDS,
        expired_cure_notices=cure_notices.expired_notices(),
        counts=services.status_counts(),
        over_limit=over_limit,
        overdue=overdue,
        labels=services.STATUS_LABELS,
        today=today_in_tokyo(),
        action_form=EmptyForm(),
    )


# --- the inbox: what waits on staff (portal/inbox.py) --------------------------------------------


def get_inbox_item_or_404(item_id: int) -> InboxItem:
    return db.get_or_404(InboxItem, item_id)


@bp.get("/inbox")
def inbox_list():
    form = InboxFilterForm(request.args, meta={"csrf": False})
    if not form.validate():
        form.kind.data, form.state.data = "", "open"
    stmt = inbox.items_query(form.kind.data or "", form.state.data or "open").options(joinedload(InboxItem.handled_by))
    page = db.paginate(stmt, page=requested_page(), per_page=25, error_out=False)
    return render_template(
        "operator/inbox.html",
        form=form,
        page=page,
        counts=inbox.open_counts(),
        kinds=inbox.KINDS,
        link=inbox.subject_link,
    )


@bp.get("/inbox/<int:item_id>")
def inbox_item(item_id: int):
    return _inbox_item(get_inbox_item_or_404(item_id), HandleItemForm())


def _inbox_item(item: InboxItem, form: HandleItemForm, code: int = 200):
    page = render_template(
        "operator/inbox_item.html", item=item, form=form, kinds=inbox.KINDS, link=inbox.subject_link(item)
    )
    return page, code


@bp.post("/inbox/<int:item_id>/handle")
def inbox_handle(item_id: int):
    item = get_inbox_item_or_404(item_id)
    form = HandleItemForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            inbox.handle_item(item, _me(), form.note.data or "")
            flash(_("対応済みにしました。"), "success")
            return redirect(url_for("operator.inbox_list"), 303)
    return _inbox_item(item, form, form_status(form))


@bp.get("/audit")
def audit_log():
    form = AuditFilterForm(request.args, meta={"csrf": False}, with_organization=True)
    page = audit_page(form, requested_page())
    return render_template("operator/audit.html", form=form, page=page, targets=TargetLabels(page.items))


# --- organizations and contracts ------------------------------------------------------------


@bp.get("/organizations")
def organizations():
    form = OrganizationFilterForm(request.args, meta={"csrf": False})
    form.validate()
    stmt = services.organizations_query(
        q=form.q.data if not form.q.errors else "",
        status=form.status.data or "",
        over_limit=bool(form.over_limit.data),
    )
    page = paginate_rows(stmt, requested_page())
    return render_template("operator/organizations.html", form=form, page=page, labels=services.STATUS_LABELS)


@bp.route("/organizations/new", methods=["GET", "POST"])
def organization_new():
    form = OrganizationForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            org = services.create_organization(
                form.name.data,
                form.terms(),
                form.admin_name.data,
                form.admin_email.data,
                _me(),
                corporate_number=form.corporate_number.data,
            )
            flash(_("組織を登録し、管理者に招待メールを送信しました。"), "success")
            return redirect(url_for("operator.organization_detail", org_id=org.id), 303)
    return render_template("operator/organization_new.html", form=form), form_status(form)


@bp.get("/organizations/<int:org_id>")
def organization_detail(org_id: int):
    org = get_org_or_404(org_id)
    return _detail(org, StatusForm(status=org.status), AdminForm())


def _detail(
    org: Organization,
    status_form: StatusForm,
    admin_form: AdminForm,
    code: int = 200,
    cure_form: CureNoticeForm | None = None,
):
    contract = get_contract(org)
    invoices = db.session.scalars(
        select(Invoice).where(Invoice.organization_id == org.id).order_by(Invoice.period_start.desc())
    ).all()
    return (
        render_template(
            "operator/organization_detail.html",
            org=org,
            contract=contract,
            profile=get_profile(org),
            seat=seats.seat_check(org),
            peaks=seats.monthly_peaks(org.id),
            staff=services.org_staff(org),
            activity=services.recent_activity(org),
            status_history=status_history(org),
            invoices=invoices,
            contract_history=contracts.contract_history(org.id),
            not_started=contracts.not_started(org.id),
            fees=contracts.termination_fees(org.id),
            received_12_months=payments.received_last_12_months(org),
            status_form=status_form,
            admin_form=admin_form,
            action_form=EmptyForm(),
            cancel_form=CancelContractForm(),
            handover_form=HandoverForm(predecessor_after="manager"),
            pending_handover=org_services.pending_handover(org),
            third_party_form=ThirdPartyForm(),
            third_parties=third_parties.all_for(org),
            termination=termination_rules.get_termination(org),
            cure_notices=cure_notices.notices_for(org),
            cure_form=cure_form or CureNoticeForm(),
            cure_record_form=CureRecordForm(),
            labels=services.STATUS_LABELS,
            today=today_in_tokyo(),
            mfa_form=AdminMfaPolicyForm(required=org.admins_require_mfa),
        ),
        code,
    )


@bp.route("/organizations/<int:org_id>/contract", methods=["GET", "POST"])
def contract_edit(org_id: int):
    org = get_org_or_404(org_id)
    contract = get_contract(org)
    form = ContractForm(obj=contract)
    if form.validate_on_submit():
        with rule_violations_shown():
            services.save_contract(org, contract, form.terms(), _me())
            flash(_("契約内容を保存しました。"), "success")
            return redirect(url_for("operator.organization_detail", org_id=org.id), 303)
    return render_template("operator/contract_edit.html", form=form, org=org), form_status()


@bp.route("/organizations/<int:org_id>/contract/renew", methods=["GET", "POST"])
def contract_renew(org_id: int):
    """The next contract period, by default the latest period's terms for a year, and its invoice."""
    org = get_org_or_404(org_id)
    defaults = services.renewal_terms(org)
    if defaults is None:
        flash(_("更新する契約がありません。先に契約内容を登録してください。"), "error")
        return redirect(url_for("operator.organization_detail", org_id=org.id), 303)
    form = RenewalForm(obj=defaults, due_on=services.default_due_on())
    if form.validate_on_submit():
        with rule_violations_shown():
            _contract, invoice = services.renew_contract(org, form.terms(), form.due_on.data, _me())
            flash(_("契約を更新し、請求書 %(number)s を発行しました。", number=invoice.number), "success")
            return redirect(url_for("operator.organization_detail", org_id=org.id), 303)
    return render_template("operator/contract_renew.html", form=form, org=org), form_status()


@bp.post("/organizations/<int:org_id>/admins")
def admin_new(org_id: int):
    org = get_org_or_404(org_id)
    form = AdminForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.admin_email):
            services.issue_admin(org, form.admin_name.data, form.admin_email.data, _me())
            flash(_("管理者IDを発行し、招待メールを送信しました。"), "success")
            return redirect(url_for("operator.organization_detail", org_id=org.id), 303)
    return _detail(org, StatusForm(status=org.status), form, 422)


@bp.post("/organizations/<int:org_id>/admins/<int:user_id>/resend")
def admin_resend(org_id: int, user_id: int):
    org = get_org_or_404(org_id)
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
    return redirect(url_for("operator.organization_detail", org_id=org.id), 303)


@bp.post("/organizations/<int:org_id>/status")
def status_change(org_id: int):
    org = get_org_or_404(org_id)
    form = StatusForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.status):
            change_status(org, form.status.data, form.reason.data, _me())
            flash(_("組織の状態を「%(label)s」にしました。", label=services.STATUS_LABELS[org.status]), "success")
            return redirect(url_for("operator.organization_detail", org_id=org.id), 303)
    return _detail(org, form, AdminForm(), 422)


# --- seats ----------------------------------------------------------------------------------


@bp.get("/seats")
def seat_report():
    month = request.args.get("month", "")
    if not MONTH.fullmatch(month):
        month = seats.month_key(utcnow())
    return render_template("operator/seats.html", month=month, rows=seats.overage_report(month))


# --- termination and deletion (Art. 15, 16, 19) ----------------------------------------------


@bp.post("/organizations/<int:org_id>/termination/receive")
def termination_receive(org_id: int):
    org = get_org_or_404(org_id)
    termination = termination_rules.get_termination(org)
    if termination is None:
        abort(404)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            termination_rules.receive_termination(termination, _me())
            flash(_("利用終了の申し入れを受領しました。主管理者にメールで通知しました。"), "success")
            _final_invoice_flash(services.settle_termination_fees(org, _me()))
    return redirect(url_for("operator.organization_detail", org_id=org.id), 303)


@bp.post("/organizations/<int:org_id>/cancel")
def contract_cancel(org_id: int):
    org = get_org_or_404(org_id)
    form = CancelContractForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            termination_rules.cancel_contract(org, form.ground.data, form.note.data or "", _me())
            flash(_("契約を解除しました。"), "success")
            _final_invoice_flash(services.settle_termination_fees(org, _me()))
    else:
        flash(_("解除の理由を選んでください。"), "error")
    return redirect(url_for("operator.organization_detail", org_id=org.id), 303)


def _final_invoice_flash(invoice: Invoice | None) -> None:
    if invoice is not None:
        flash(_("契約期間満了までの利用料の請求書 %(number)s を発行しました(利用規約第16条第4項)。",
                number=invoice.number), "info")


# --- cure notices (催告, Art. 16-3) -------------------------------------------------------------


def get_cure_notice_or_404(notice_id: int) -> CureNotice:
    return db.get_or_404(CureNotice, notice_id)


@bp.post("/organizations/<int:org_id>/cure-notices")
def cure_notice_send(org_id: int):
    org = get_org_or_404(org_id)
    form = CureNoticeForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            notice = cure_notices.send_cure_notice(org, form.breach.data, _me())
            flash(
                _("催告を送りました。是正期限は %(day)s です。主管理者にメールで通知しました。",
                  day=notice.deadline_on.strftime("%Y/%m/%d")),
                "success",
            )
            return redirect(url_for("operator.organization_detail", org_id=org.id, _anchor="sec-cure"), 303)
    return _detail(org, StatusForm(status=org.status), AdminForm(), form_status(form), cure_form=form)


@bp.post("/cure-notices/<int:notice_id>/cured")
def cure_notice_cured(notice_id: int):
    notice = get_cure_notice_or_404(notice_id)
    form = CureRecordForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            cure_notices.record_cure(notice, form.note.data or "", _me())
            flash(_("是正を記録しました。"), "success")
    else:
        flash(_("是正の内容は500文字以内で入力してください。"), "error")
    return redirect(url_for("operator.organization_detail", org_id=notice.organization_id, _anchor="sec-cure"), 303)


def _purge_page(org: Organization, form: PurgeForm, approve_form: ApproveDeletionForm, code: int = 200,
                refusal: str | None = None):
    return render_template(
        "operator/purge.html",
        org=org,
        refusal=refusal,
        form=form,
        approve_form=approve_form,
        withdraw_form=EmptyForm(),
        pending=deletion.pending_request(org),
        deleted=deletion.data_deleted(org),
        grounds=deletion.grounds(),
        labels=services.STATUS_LABELS,
        me=_me(),
    ), code


def _refused(org: Organization, step: str, error: Exception) -> None:
    """The refused change is rolled back (undone_on); the refusal itself is kept on record."""
    deletion.audit_refusal(org, step, error, _me())


@bp.route("/organizations/<int:org_id>/purge", methods=["GET", "POST"])
def organization_purge(org_id: int):
    """Delete all data, step 1: an operator asks (Art. 16, 19); a different operator approves below."""
    org = get_org_or_404(org_id)
    form = PurgeForm()
    if form.validate_on_submit():
        with undone_on() as refusal:
            deletion.request_deletion(org, form.ground.data, form.note.data or "", form.confirm_name.data, _me())
        if refusal:
            _refused(org, "request", refusal.error)
            return _purge_page(org, form, ApproveDeletionForm(formdata=None), 422, refusal=str(refusal))
        flash(_("削除を依頼しました。別の運営スタッフが承認すると削除されます。まだ何も削除していません。"), "success")
        return redirect(url_for("operator.organization_purge", org_id=org.id), 303)
    return _purge_page(org, form, ApproveDeletionForm(formdata=None), 422 if request.method == "POST" else 200)


@bp.post("/organizations/<int:org_id>/purge/approve")
def organization_purge_approve(org_id: int):
    """Delete all data, step 2: a second operator approves; the customer's administrators are emailed."""
    org = get_org_or_404(org_id)
    pending = deletion.pending_request(org)
    if pending is None:
        abort(404)
    form = ApproveDeletionForm()
    if form.validate_on_submit():
        with undone_on() as refusal:
            approved = deletion.approve_deletion(pending, org, form.confirm_name.data, _me())
        if refusal:
            _refused(org, "approve", refusal.error)
            return _purge_page(org, PurgeForm(formdata=None), form, 422, refusal=str(refusal))
        flash(_("%(name)s のデータを削除しました(請求書と削除の記録は保存しています)。",
                name=approved.record.organization_name), "success")
        if approved.administrators_told:
            flash(_("組織の管理者 %(n)d 名にメールで通知しました。", n=approved.administrators_told), "info")
        else:
            flash(_("メールアドレスのある管理者がいないため、お客様にはメールで通知していません。"), "warning")
        return redirect(url_for("operator.deletions"), 303)
    return _purge_page(org, PurgeForm(formdata=None), form, 422)


@bp.post("/organizations/<int:org_id>/purge/withdraw")
def organization_purge_withdraw(org_id: int):
    org = get_org_or_404(org_id)
    pending = deletion.pending_request(org)
    if pending is None:
        abort(404)
    if EmptyForm().validate_on_submit():
        deletion.withdraw_deletion(pending, _me())
        flash(_("削除の依頼を取り下げました。何も削除していません。"), "success")
    return redirect(url_for("operator.organization_purge", org_id=org.id), 303)


@bp.get("/deletions")
def deletions():
    page = db.paginate(
        select(DeletionRecord).order_by(DeletionRecord.deleted_at.desc(), DeletionRecord.id.desc()),
        page=requested_page(),
        per_page=50,
        error_out=False,
    )
    return render_template(
        "operator/deletions.html",
        page=page,
        pending=deletion.pending_requests(),
        requests=deletion.requests_by_record([r.id for r in page.items]),
        grounds=deletion.grounds(),
    )


@bp.post("/organizations/<int:org_id>/handover")
def handover_start(org_id: int):
    """The operator names a successor to the primary administrator (Art. 12), e.g. when the primary left."""
    org = get_org_or_404(org_id)
    form = HandoverForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            org_services.start_handover(
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
    return redirect(url_for("operator.organization_detail", org_id=org.id), 303)


# --- subcontractors (再委託先, Art. 6) ----------------------------------------------------------


def get_subcontractor_or_404(subcontractor_id: int) -> Subcontractor:
    return db.get_or_404(Subcontractor, subcontractor_id)


@bp.route("/subcontractors", methods=["GET", "POST"])
def subcontractors():
    form = SubcontractorForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            legal.add_subcontractor(form.name.data, form.purpose.data, form.location.data, _me())
            flash(_("委託先を追加しました。公開ページに表示されます。"), "success")
            return redirect(url_for("operator.subcontractors"), 303)
    return (
        render_template(
            "operator/subcontractors.html", form=form, subcontractors=legal.subcontractors(), action_form=EmptyForm()
        ),
        form_status(form),
    )


@bp.route("/subcontractors/<int:subcontractor_id>/edit", methods=["GET", "POST"])
def subcontractor_edit(subcontractor_id: int):
    subcontractor = get_subcontractor_or_404(subcontractor_id)
    form = SubcontractorForm(obj=subcontractor)
    if form.validate_on_submit():
        with rule_violations_shown():
            legal.update_subcontractor(subcontractor, form.name.data, form.purpose.data, form.location.data, _me())
            flash(_("委託先を更新しました。"), "success")
            return redirect(url_for("operator.subcontractors"), 303)
    page = render_template("operator/subcontractor_edit.html", form=form, subcontractor=subcontractor)
    return page, form_status(form)


@bp.post("/subcontractors/<int:subcontractor_id>/delete")
def subcontractor_delete(subcontractor_id: int):
    subcontractor = get_subcontractor_or_404(subcontractor_id)
    if EmptyForm().validate_on_submit():
        legal.remove_subcontractor(subcontractor, _me())
        flash(_("委託先を一覧から削除しました。"), "success")
    return redirect(url_for("operator.subcontractors"), 303)


# --- the operator's staff take セキュトレ (Art. 4-2) ----------------------------------------------


@bp.get("/staff-training")
def staff_training_list():
    org = staff_training.staff_organization()
    courses = staff_training.current_editions()
    return render_template(
        "operator/staff_training.html",
        org=org,
        courses=courses,
        staff=staff_training.staff_completion(org, courses),
    )


# --- third parties (Art. 14) ------------------------------------------------------------------


@bp.post("/organizations/<int:org_id>/third-parties")
def third_party_approve(org_id: int):
    org = get_org_or_404(org_id)
    form = ThirdPartyForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            third_parties.approve(org, form.name.data, form.note.data or "", _me())
            flash(_("第三者の利用を承諾しました。"), "success")
    else:
        flash(_("第三者の名称を入力してください。"), "error")
    return redirect(url_for("operator.organization_detail", org_id=org.id), 303)


@bp.post("/third-parties/<int:party_id>/revoke")
def third_party_revoke(party_id: int):
    party = db.get_or_404(ThirdParty, party_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            unmarked = third_parties.revoke(party, _me())
            flash(_("承諾を取り消しました(所属を外した受講者: %(n)d名)。", n=unmarked), "success")
    return redirect(url_for("operator.organization_detail", org_id=party.organization_id), 303)


@bp.post("/organizations/<int:org_id>/two-factor-policy")
def organization_mfa_policy(org_id: int):
    """Whether the organization's administrators must use two-factor sign-in (#10)."""
    org = get_org_or_404(org_id)
    form = AdminMfaPolicyForm()
    if form.validate_on_submit():
        mfa.set_admin_mfa_policy(org, bool(form.required.data))
        flash(_("2段階認証の設定を保存しました。"), "success")
    return redirect(url_for("operator.organization_detail", org_id=org.id), 303)


# --- a lost second factor (#10) ----------------------------------------------------------------------


@bp.get("/users/two-factor")
def user_mfa_lookup():
    """Find a user by email address to reset their second factor."""
    form = UserLookupForm(request.args)
    not_found = False
    if form.validate() and form.email.data:
        user = find_user_by_email(form.email.data)
        if user is not None:
            return redirect(url_for("operator.user_mfa_reset", user_id=user.id), 303)
        not_found = True
    return render_template("operator/user_mfa_lookup.html", form=form, not_found=not_found)


@bp.route("/users/<int:user_id>/two-factor", methods=["GET", "POST"])
def user_mfa_reset(user_id: int):
    """Reset the second factor of a user who lost both their authenticator and their recovery codes."""
    user = db.get_or_404(User, user_id)
    form = MfaResetForm()
    status = 200
    if form.validate_on_submit():
        with rule_violations_shown(catch=mfa.MfaResetRefused):
            mfa.reset_mfa_by_staff(user, by=_me(), reason=form.reason.data)
            flash(
                _("2段階認証をリセットしました。本人にメールで知らせ、次のログインで設定し直すよう求めます。"),
                "success",
            )
            return redirect(url_for("operator.user_mfa_reset", user_id=user.id), 303)
        status = 409
    elif form.is_submitted():
        status = 422
    return render_template("operator/user_mfa_reset.html", user=user, form=form), status
