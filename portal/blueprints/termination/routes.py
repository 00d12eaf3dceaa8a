from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import audit, contracts, cure_notices, data_export, deletion, organization_page
from portal import termination as termination_rules
from portal.accounts import signed_in_user as _me
from portal.blueprints.termination import operator_bp, org_bp, services
from portal.blueprints.termination.forms import (
    ApproveDeletionForm,
    CancelContractForm,
    CureNoticeForm,
    CureRecordForm,
    PurgeForm,
    TerminationRequestForm,
)
from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import CureNotice, DeletionRecord, Invoice, Organization, Role
from portal.organizations import STATUS_LABELS, get_or_404
from portal.pagination import requested_page
from portal.requests import writes_on_get
from portal.security import role_required
from portal.violations import form_status, rule_violations_shown, undone_on

# --- the operator's view ----------------------------------------------------------------------


@organization_page.section
def _termination_section(org: Organization) -> dict:
    """This subject's part of the page of one organization: its termination, the fees owed until the end of
    the term, its cure notices, and the forms to cancel and to send or record a cure notice."""
    return {
        "termination": termination_rules.get_termination(org),
        "fees": contracts.termination_fees(org.id),
        "cancel_form": CancelContractForm(),
        "cure_notices": cure_notices.notices_for(org),
        "cure_form": CureNoticeForm(),
        "cure_record_form": CureRecordForm(),
    }


# --- termination and deletion (Art. 15, 16, 19) ----------------------------------------------


@operator_bp.post("/organizations/<int:org_id>/termination/receive")
def termination_receive(org_id: int):
    org = get_or_404(org_id)
    termination = termination_rules.get_termination(org)
    if termination is None:
        abort(404)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown():
            termination_rules.receive_termination(termination, _me())
            flash(_("利用終了の申し入れを受領しました。主管理者にメールで通知しました。"), "success")
            _final_invoice_flash(services.settle_termination_fees(org, _me()))
    return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)


@operator_bp.post("/organizations/<int:org_id>/cancel")
def contract_cancel(org_id: int):
    org = get_or_404(org_id)
    form = CancelContractForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            termination_rules.cancel_contract(org, form.ground.data, form.note.data or "", _me())
            flash(_("契約を解除しました。"), "success")
            _final_invoice_flash(services.settle_termination_fees(org, _me()))
    else:
        flash(_("解除の理由を選んでください。"), "error")
    return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)


def _final_invoice_flash(invoice: Invoice | None) -> None:
    if invoice is not None:
        flash(_("契約期間満了までの利用料の請求書 %(number)s を発行しました(利用規約第16条第4項)。",
                number=invoice.number), "info")


# --- cure notices (催告, Art. 16-3) -------------------------------------------------------------


def get_cure_notice_or_404(notice_id: int) -> CureNotice:
    return db.get_or_404(CureNotice, notice_id)


@operator_bp.post("/organizations/<int:org_id>/cure-notices")
def cure_notice_send(org_id: int):
    org = get_or_404(org_id)
    form = CureNoticeForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            notice = cure_notices.send_cure_notice(org, form.breach.data, _me())
            flash(
                _("催告を送りました。是正期限は %(day)s です。主管理者にメールで通知しました。",
                  day=notice.deadline_on.strftime("%Y/%m/%d")),
                "success",
            )
            return redirect(
                url_for("operator_organizations.organization_detail", org_id=org.id, _anchor="sec-cure"), 303
            )
    return organization_page.render(org, form_status(form), cure_form=form)


@operator_bp.post("/cure-notices/<int:notice_id>/cured")
def cure_notice_cured(notice_id: int):
    notice = get_cure_notice_or_404(notice_id)
    form = CureRecordForm()
    if form.validate_on_submit():
        with rule_violations_shown():
            cure_notices.record_cure(notice, form.note.data or "", _me())
            flash(_("是正を記録しました。"), "success")
    else:
        flash(_("是正の内容は500文字以内で入力してください。"), "error")
    return redirect(
        url_for("operator_organizations.organization_detail", org_id=notice.organization_id, _anchor="sec-cure"), 303
    )


def _purge_page(org: Organization, form: PurgeForm, approve_form: ApproveDeletionForm, code: int = 200,
                refusal: str | None = None):
    return render_template(
        "termination/operator_purge.html",
        org=org,
        refusal=refusal,
        form=form,
        approve_form=approve_form,
        withdraw_form=EmptyForm(),
        pending=deletion.pending_request(org),
        deleted=deletion.data_deleted(org),
        grounds=deletion.grounds(),
        labels=STATUS_LABELS,
        me=_me(),
    ), code


def _refused(org: Organization, step: str, error: Exception) -> None:
    """The refused change is rolled back (undone_on); the refusal itself is kept on record."""
    deletion.audit_refusal(org, step, error, _me())


@operator_bp.route("/organizations/<int:org_id>/purge", methods=["GET", "POST"])
def organization_purge(org_id: int):
    """Delete all data, step 1: an operator asks (Art. 16, 19); a different operator approves below."""
    org = get_or_404(org_id)
    form = PurgeForm()
    if form.validate_on_submit():
        with undone_on() as refusal:
            deletion.request_deletion(org, form.ground.data, form.note.data or "", form.confirm_name.data, _me())
        if refusal:
            _refused(org, "request", refusal.error)
            return _purge_page(org, form, ApproveDeletionForm(formdata=None), 422, refusal=str(refusal))
        flash(_("削除を依頼しました。別の運営スタッフが承認すると削除されます。まだ何も削除していません。"), "success")
        return redirect(url_for("operator_termination.organization_purge", org_id=org.id), 303)
    return _purge_page(org, form, ApproveDeletionForm(formdata=None), 422 if request.method == "POST" else 200)


@operator_bp.post("/organizations/<int:org_id>/purge/approve")
def organization_purge_approve(org_id: int):
    """Delete all data, step 2: a second operator approves; the customer's administrators are emailed."""
    org = get_or_404(org_id)
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
        return redirect(url_for("operator_termination.deletions"), 303)
    return _purge_page(org, PurgeForm(formdata=None), form, 422)


@operator_bp.post("/organizations/<int:org_id>/purge/withdraw")
def organization_purge_withdraw(org_id: int):
    org = get_or_404(org_id)
    pending = deletion.pending_request(org)
    if pending is None:
        abort(404)
    if EmptyForm().validate_on_submit():
        deletion.withdraw_deletion(pending, _me())
        flash(_("削除の依頼を取り下げました。何も削除していません。"), "success")
    return redirect(url_for("operator_termination.organization_purge", org_id=org.id), 303)


@operator_bp.get("/deletions")
def deletions():
    page = db.paginate(
        select(DeletionRecord).order_by(DeletionRecord.deleted_at.desc(), DeletionRecord.id.desc()),
        page=requested_page(),
        per_page=50,
        error_out=False,
    )
    return render_template(
        "termination/operator_deletions.html",
        page=page,
        pending=deletion.pending_requests(),
        requests=deletion.requests_by_record([r.id for r in page.items]),
        grounds=deletion.grounds(),
    )


# --- the organization's view ------------------------------------------------------------------


@org_bp.route("/termination", methods=["GET", "POST"])
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
            return redirect(url_for("org_termination.termination"), 303)
    return render_template(
        "termination/org_termination.html",
        form=form,
        current=current,
        retention_ends_on=termination_rules.retention_ends_on(current) if current else None,
    ), form_status()


@org_bp.get("/export")
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
