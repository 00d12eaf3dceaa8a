"""Notices' two views: the operator publishes, updates, corrects and withdraws notices (/operator, Art. 9, 11,
20, 21); the organization's administrators and managers read them (/org, Art. 9-2). The rules are the core's
``portal/notices.py``, which the layout's banner, the maintenance gate and the status page use too."""

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import audit
from portal import notices as notice_rules
from portal.accounts import signed_in_user as _me
from portal.blueprints.notices import operator_bp, org_bp, services
from portal.blueprints.notices.forms import (
    AddressExportForm,
    IncidentUpdateForm,
    NoticeCorrectionForm,
    NoticeForm,
    NoticeWithdrawForm,
)
from portal.clock import TOKYO, today_in_tokyo, tokyo_to_utc
from portal.extensions import db
from portal.models import Notice
from portal.pagination import requested_page
from portal.requests import writes_on_get
from portal.violations import form_status, rule_violations_shown

# --- the operator's view: publish, follow up, correct, withdraw -------------------------------------------


def get_notice_or_404(notice_id: int) -> Notice:
    return db.get_or_404(Notice, notice_id)


@operator_bp.get("/notices")
def notices_list():
    page = db.paginate(
        select(Notice).order_by(Notice.published_at.desc(), Notice.id.desc()),
        page=requested_page(),
        per_page=50,
        error_out=False,
    )
    return render_template("notices/operator_notices.html", page=page)


@operator_bp.route("/notices/new", methods=["GET", "POST"])
def notice_new():
    form = NoticeForm()
    form.organizations.choices = services.organization_choices()
    if form.validate_on_submit():
        draft = notice_rules.NoticeDraft(
            kind=form.kind.data,
            title=form.title.data,
            body=form.body.data,
            organization_ids=list(form.organizations.data) if form.audience.data == "chosen" else None,
            starts_at=tokyo_to_utc(form.starts_at.data),
            ends_at=tokyo_to_utc(form.ends_at.data),
            service_ends_on=form.service_ends_on.data,
        )
        with rule_violations_shown(form.kind):
            notice = notice_rules.publish_notice(draft, _me())
            flash(_("お知らせを公開し、主管理者にメールで通知しました。"), "success")
            return redirect(url_for("operator_notices.notice_detail", notice_id=notice.id), 303)
    return render_template("notices/operator_notice_new.html", form=form), form_status()


@operator_bp.get("/notices/<int:notice_id>")
def notice_detail(notice_id: int):
    notice = get_notice_or_404(notice_id)
    return _notice_page(notice, IncidentUpdateForm())


def _notice_page(notice: Notice, form: IncidentUpdateForm, code: int = 200, withdraw_form=None):
    reads = notice_rules.readers(notice)
    return (
        render_template(
            "notices/operator_notice_detail.html",
            notice=notice,
            form=form,
            withdraw_form=withdraw_form or NoticeWithdrawForm(),
            readers=reads,
            organizations=notice_rules.target_organizations(notice),
            read_org_ids={r.organization_id for r in reads},
        ),
        code,
    )


@operator_bp.post("/notices/<int:notice_id>/updates")
def notice_update(notice_id: int):
    notice = get_notice_or_404(notice_id)
    form = IncidentUpdateForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.status):
            notice_rules.add_incident_update(notice, form.status.data, form.body.data, _me())
            flash(_("経過報告を追加し、主管理者にメールで通知しました。"), "success")
            return redirect(url_for("operator_notices.notice_detail", notice_id=notice.id), 303)
    return _notice_page(notice, form, 422)


def _local(moment):
    return moment.astimezone(TOKYO).replace(tzinfo=None) if moment else None


@operator_bp.route("/notices/<int:notice_id>/edit", methods=["GET", "POST"])
def notice_edit(notice_id: int):
    """Correct a notice; its page keeps what it said before."""
    notice = get_notice_or_404(notice_id)
    form = NoticeCorrectionForm(
        data=None if request.method == "POST" else {
            "title": notice.title, "body": notice.body, "starts_at": _local(notice.starts_at),
            "ends_at": _local(notice.ends_at), "service_ends_on": notice.service_ends_on,
        }
    )
    if form.validate_on_submit():
        correction = notice_rules.NoticeCorrection(
            title=form.title.data,
            body=form.body.data,
            starts_at=tokyo_to_utc(form.starts_at.data),
            ends_at=tokyo_to_utc(form.ends_at.data),
            service_ends_on=form.service_ends_on.data,
        )
        with rule_violations_shown(form.title):
            notice_rules.correct_notice(notice, correction, _me(), renotify=form.renotify.data, reason=form.reason.data)
            flash(_("お知らせを訂正し、主管理者にメールで再通知しました。") if form.renotify.data
                  else _("お知らせを訂正しました(メールは送っていません)。"), "success")
            return redirect(url_for("operator_notices.notice_detail", notice_id=notice.id), 303)
    return render_template("notices/operator_notice_edit.html", notice=notice, form=form), form_status()


@operator_bp.post("/notices/<int:notice_id>/withdraw")
def notice_withdraw(notice_id: int):
    notice = get_notice_or_404(notice_id)
    form = NoticeWithdrawForm()
    if form.validate_on_submit():
        with rule_violations_shown(form.reason):
            notice_rules.withdraw_notice(notice, _me(), reason=form.reason.data, renotify=form.renotify.data)
            flash(_("お知らせを取り下げました。お客様の画面には表示されません。"), "success")
            return redirect(url_for("operator_notices.notice_detail", notice_id=notice.id), 303)
    return _notice_page(notice, IncidentUpdateForm(), 422, withdraw_form=form)


@operator_bp.route("/notices/addresses", methods=["GET", "POST"])
def notice_addresses():
    """The chosen organizations' registered postal addresses as CSV, for notices by post (Art. 9-3)."""
    form = AddressExportForm()
    form.organizations.choices = services.organization_choices()
    if form.validate_on_submit():
        body = notice_rules.address_csv(list(form.organizations.data))
        audit.record("notice.addresses_exported", organizations=sorted(form.organizations.data))
        response = make_response(body)
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        filename = f"addresses-{today_in_tokyo():%Y%m%d}.csv"
        response.headers["Content-Disposition"] = f"attachment; filename={filename}"
        return response
    return render_template("notices/operator_notice_addresses.html", form=form), form_status()


# --- the organization's view: its notice board -------------------------------------------------------------
# Each endpoint is named as before (org_notices.notice_detail), the function org_...


@org_bp.get("/notices", endpoint="notices")
def org_notices():
    me = current_user._get_current_object()
    return render_template(
        "notices/org_notices.html", rows=notice_rules.board(me), unread=notice_rules.unread_count(me)
    )


@org_bp.get("/notices/<int:notice_id>", endpoint="notice_detail")
@writes_on_get
def org_notice_detail(notice_id: int):
    """Reading a notice records that this user has read it (the operator sees who has)."""
    me = current_user._get_current_object()
    notice = notice_rules.get_visible_notice_or_none(notice_id, me.organization_id)
    if notice is None:
        abort(404)
    notice_rules.mark_read(notice, me)
    return render_template("notices/org_notice_detail.html", notice=notice)
