"""Thin views of the support desk: load or 404, validate the form, call a service, commit once."""

from __future__ import annotations

import os

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from portal import audit
from portal.blueprints.tickets import bp, files, services
from portal.blueprints.tickets.forms import (
    AssignForm,
    BreakForm,
    CannedReplyForm,
    IncidentLinkForm,
    MergeForm,
    QueueFilterForm,
    RatingForm,
    ReplyForm,
    ReportForm,
    SettingsForm,
    StaffReplyForm,
    StatusForm,
    TicketForm,
)
from portal.clock import today_in_tokyo, utcnow
from portal.customer_summary import customer_summary
from portal.extensions import db
from portal.forms import options
from portal.htmx import is_htmx
from portal.ids import database_int
from portal.models import CannedReply, DeskBreak, Organization, Role, Ticket, TicketAttachment, TicketCategory, User
from portal.models.tickets import CATEGORY_LABELS, STATUS_LABELS
from portal.pagination import requested_page
from portal.security import role_required
from portal.violations import rule_violations_shown

STAFF = (Role.SUPPORT, Role.OPERATOR)
CUSTOMERS = (Role.ORG_ADMIN, Role.MANAGER, Role.LEARNER)


def get_ticket_or_404(ticket_id: int, *, for_view: bool = False) -> Ticket:
    """The ticket if the signed-in user may see it: staff any, an organization its own (the tenant
    scope filters), a learner only the questions they sent. Otherwise 404, never revealing it exists."""
    if for_view:
        ticket = services.load_ticket_for_view(ticket_id, staff=current_user.is_staff)
    else:
        ticket = db.session.scalar(select(Ticket).where(Ticket.id == ticket_id))
    if ticket is None:
        abort(404)
    if current_user.role == Role.LEARNER and ticket.requester_id != current_user.id:
        abort(404)
    return ticket


# --- the customer's side ----------------------------------------------------------------------------


@bp.get("/")
def index():
    if current_user.is_staff:
        return redirect(url_for("tickets.desk"), 303)
    status = request.args.get("status", "")
    status = status if status in services.CUSTOMER_FILTERS else ""
    return render_template(
        "tickets/index.html",
        tickets=services.customer_tickets(current_user, status),
        may_open=services.may_open_tickets(current_user),
        status=status,
        status_labels=STATUS_LABELS,
    )


@bp.route("/new", methods=["GET", "POST"])
@role_required(*CUSTOMERS)
def new():
    if not services.may_open_tickets(current_user):
        abort(403)
    form = TicketForm(categories=services.categories_for(current_user))
    if form.validate_on_submit():
        with rule_violations_shown(catch=services.TicketRuleError):
            ticket = services.open_ticket(current_user, form.category.data, form.subject.data, form.body.data,
                                          form.checked)
            oncall = services.oncall_outcome(ticket)
            flash(_("お問い合わせを受け付けました。回答期限は画面に表示しています。"), "success")
            if oncall == "oncall_notified":
                flash(_("時間外の緊急のお問い合わせとして、当番の担当者にメールで連絡しました。"), "info")
            elif oncall == "oncall_not_notified":
                flash(_("時間外の緊急のお問い合わせですが、当番の担当者への連絡メールを送れませんでした。"
                        "翌営業日の対応開始時に確認します。お急ぎの場合はお電話でもご連絡ください。"), "warning")
            return redirect(url_for("tickets.show", ticket_id=ticket.id), 303)
        return render_template("tickets/new.html", form=form), services.TicketRuleError.status
    status = 422 if form.is_submitted() else 200
    return render_template("tickets/new.html", form=form), status


@bp.get("/<int:ticket_id>")
def show(ticket_id: int):
    ticket = get_ticket_or_404(ticket_id, for_view=True)
    return _render_ticket(ticket)


def _render_ticket(ticket: Ticket, status: int = 200, *, reply_form=None, staff_forms=None, rating_form=None):
    staff = current_user.is_staff
    messages = [m for m in ticket.messages if staff or not m.internal]
    context = {"ticket": ticket, "messages": messages, "staff": staff, "status_labels": STATUS_LABELS}
    if staff:
        canned = services.canned_replies()
        if reply_form is None:
            reply_form = StaffReplyForm()
            chosen = request.args.get("canned", type=database_int)
            picked = next((c for c in canned if c.id == chosen), None)
            if picked is not None:
                reply_form.body.data = picked.body
        forms = staff_forms or {}
        assign_form = forms.get("assign") or AssignForm(assignee_id=ticket.assignee_id or 0)
        assign_form.assignee_id.choices = options(
            [(0, _("(未割り当て)"))] + [(u.id, u.name or u.email) for u in services.staff_users()]
        )
        context.update(
            reply_form=reply_form,
            status_form=forms.get("status") or StatusForm(status=ticket.status),
            assign_form=assign_form,
            merge_form=forms.get("merge") or MergeForm(),
            incident_form=_incident_form(ticket, forms.get("incident")),
            canned=canned,
            events=ticket.events,
            # Staff only (support, operator): the requester's organization, read-only.
            customer=customer_summary(ticket.organization_id),
        )
    else:
        context.update(reply_form=reply_form or ReplyForm(), rating_form=rating_form or RatingForm())
    return render_template("tickets/show.html", **context), status


@bp.post("/<int:ticket_id>/reply")
def reply(ticket_id: int):
    ticket = get_ticket_or_404(ticket_id, for_view=True)
    staff = current_user.is_staff
    form = StaffReplyForm() if staff else ReplyForm()
    if not form.validate_on_submit():
        if form.attachments.data and any(getattr(f, "filename", None) for f in form.attachments.data):
            flash(_("添付ファイルはもう一度選んでください(本文は残っています)。"), "error")
        return _render_ticket(ticket, 422, reply_form=form)
    with rule_violations_shown(catch=services.TicketRuleError):
        if staff:
            services.staff_reply(ticket, current_user, form.body.data, form.checked, internal=form.internal.data,
                                 next_status=form.next_status.data)
        else:
            services.customer_reply(ticket, current_user, form.body.data, form.checked)
        if staff and form.internal.data:
            flash(_("社内メモを保存しました。"), "success")
        else:
            flash(_("返信を送信しました。"), "success")
        return redirect(url_for("tickets.show", ticket_id=ticket.id), 303)
    ticket = get_ticket_or_404(ticket_id, for_view=True)
    return _render_ticket(ticket, services.TicketRuleError.status, reply_form=form)


@bp.post("/<int:ticket_id>/close")
@role_required(*CUSTOMERS)
def close(ticket_id: int):
    ticket = get_ticket_or_404(ticket_id)
    if ticket.status == "closed":
        flash(_("このお問い合わせはすでに完了しています。"), "info")
        return redirect(url_for("tickets.show", ticket_id=ticket.id), 303)
    services.close_by_customer(ticket, current_user)
    flash(_("お問い合わせを完了にしました。よろしければ回答の評価をお願いします。"), "success")
    return redirect(url_for("tickets.show", ticket_id=ticket.id), 303)


@bp.post("/<int:ticket_id>/rate")
@role_required(*CUSTOMERS)
def rate(ticket_id: int):
    ticket = get_ticket_or_404(ticket_id, for_view=True)
    form = RatingForm()
    if not form.validate_on_submit():
        return _render_ticket(ticket, 422, rating_form=form)
    with rule_violations_shown(catch=services.TicketRuleError):
        services.rate(ticket, current_user, int(form.rating.data), form.comment.data or "")
        flash(_("評価をありがとうございました。"), "success")
        return redirect(url_for("tickets.show", ticket_id=ticket.id), 303)
    ticket = get_ticket_or_404(ticket_id, for_view=True)
    return _render_ticket(ticket, services.TicketRuleError.status, rating_form=form)


@bp.get("/<int:ticket_id>/files/<int:attachment_id>")
def attachment(ticket_id: int, attachment_id: int):
    ticket = get_ticket_or_404(ticket_id)
    item = db.session.scalar(
        select(TicketAttachment).where(TicketAttachment.id == attachment_id, TicketAttachment.ticket_id == ticket.id)
    )
    if item is None or (item.message.internal and not current_user.is_staff):
        abort(404)
    path = files.path_of(item.stored_name)
    if not os.path.exists(path):
        abort(404)
    response = send_file(path, mimetype=item.content_type, as_attachment=True, download_name=item.filename,
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/settings", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def settings():
    org = db.session.get(Organization, current_user.organization_id)
    form = SettingsForm(obj=org)
    if form.validate_on_submit():
        if org.learners_may_ask != form.learners_may_ask.data:
            org.learners_may_ask = form.learners_may_ask.data
            audit.record("tickets.settings_changed", target=org, learners_may_ask=org.learners_may_ask)
        flash(_("サポート窓口の設定を保存しました。"), "success")
        return redirect(url_for("tickets.settings"), 303)
    return render_template("tickets/settings.html", form=form), 422 if form.is_submitted() else 200


# --- the staff's side -------------------------------------------------------------------------------


def _staff_action(ticket_id: int, form, name: str, action):
    """Validate a staff form about one ticket and run ``action``; re-render on a refusal."""
    ticket = get_ticket_or_404(ticket_id, for_view=True)
    if not form.validate_on_submit():
        return _render_ticket(ticket, 422, staff_forms={name: form})
    with rule_violations_shown(catch=services.TicketRuleError):
        flash(action(ticket, form), "success")
        return redirect(url_for("tickets.show", ticket_id=ticket_id), 303)
    ticket = get_ticket_or_404(ticket_id, for_view=True)
    return _render_ticket(ticket, services.TicketRuleError.status, staff_forms={name: form})


@bp.post("/<int:ticket_id>/status")
@role_required(*STAFF)
def change_status(ticket_id: int):
    def act(ticket, form):
        services.change_status(ticket, form.status.data, current_user)
        return _("状態を変更しました。")

    return _staff_action(ticket_id, StatusForm(), "status", act)


@bp.post("/<int:ticket_id>/assign")
@role_required(*STAFF)
def assign(ticket_id: int):
    form = AssignForm()
    form.assignee_id.choices = options([(0, "")] + [(u.id, u.name) for u in services.staff_users()])

    def act(ticket, form):
        assignee = db.session.get(User, form.assignee_id.data) if form.assignee_id.data else None
        services.assign(ticket, assignee, current_user)
        return _("担当者を変更しました。")

    return _staff_action(ticket_id, form, "assign", act)


@bp.post("/<int:ticket_id>/merge")
@role_required(*STAFF)
def merge(ticket_id: int):
    def act(ticket, form):
        target = db.session.scalar(select(Ticket).where(Ticket.id == form.target_id.data))
        if target is None:
            raise services.TicketRuleError(_("統合先のお問い合わせが見つかりません。"))
        services.merge(ticket, target, current_user)
        return _("#%(source)d を #%(target)d に統合しました。", source=ticket.id, target=target.id)

    return _staff_action(ticket_id, MergeForm(), "merge", act)


def _incident_form(ticket: Ticket, form: IncidentLinkForm | None = None) -> IncidentLinkForm | None:
    if ticket.category != TicketCategory.INCIDENT:
        return None
    form = form or IncidentLinkForm(notice_id=ticket.incident_notice_id or 0)
    form.notice_id.choices = options([(n.id, n.title) for n in services.incident_notices_for(ticket)])
    return form


@bp.post("/<int:ticket_id>/incident")
@role_required(*STAFF)
def link_incident(ticket_id: int):
    """Link a 事故・障害報告 ticket to the operator's incident notice about it (Art. 11)."""

    def act(ticket, form):
        services.link_incident(ticket, form.notice_id.data, current_user)
        return _("障害のお知らせに紐づけました。お客様のお問い合わせ画面にも表示されます。")

    return _staff_action(ticket_id, IncidentLinkForm(), "incident", act)


def _queue_filters(form: QueueFilterForm) -> services.QueueFilters:
    queue = form.queue.data if form.queue.data in services.QUEUES else "active"
    category = form.category.data if form.category.data in {str(c) for c in TicketCategory} else None
    # ASCII digits within the database's integer only: "²".isdigit() is True, and int() refuses it.
    raw_org = form.organization_id.data or ""
    org_id = int(raw_org) if raw_org.isascii() and raw_org.isdigit() and len(raw_org) < 10 else None
    text = form.q.data.strip() if form.q.data and not form.q.errors else None
    return services.QueueFilters(queue=queue, category=category, organization_id=org_id, text=text,
                                 page=requested_page())


@bp.get("/desk")
@role_required(*STAFF)
def desk():
    form = QueueFilterForm(request.args)
    form.queue.choices = options(services.QUEUES.items())
    form.category.choices = options([("", _("すべて"))] + [(c, CATEGORY_LABELS[c]) for c in TicketCategory])
    form.organization_id.choices = options([("", _("すべて"))] + [(o.id, o.name) for o in services.organizations()])
    form.validate()
    filters = _queue_filters(form)
    now = utcnow()
    context = {
        "form": form,
        "filters": filters,
        "queues": services.QUEUES,
        "counts": services.queue_counts(filters, current_user, now),
        "page": services.queue_page(filters, current_user, now),
        "now": now,
        "category_labels": CATEGORY_LABELS,
    }
    if is_htmx():
        return render_block("tickets/desk.html", "queue", fragment=True, **context)
    return render_template("tickets/desk.html", **context)


@bp.route("/canned", methods=["GET", "POST"])
@role_required(*STAFF)
def canned():
    form = CannedReplyForm()
    if form.validate_on_submit():
        db.session.add(CannedReply(title=form.title.data.strip(), body=form.body.data.strip()))
        flash(_("定型文を追加しました。"), "success")
        return redirect(url_for("tickets.canned"), 303)
    return render_template("tickets/canned.html", form=form, items=services.canned_replies()), (
        422 if form.is_submitted() else 200
    )


@bp.post("/canned/<int:item_id>/delete")
@role_required(*STAFF)
def delete_canned(item_id: int):
    item = db.get_or_404(CannedReply, item_id)
    db.session.delete(item)
    flash(_("定型文を削除しました。"), "success")
    return redirect(url_for("tickets.canned"), 303)


@bp.route("/breaks", methods=["GET", "POST"])
@role_required(Role.OPERATOR)
def breaks():
    form = BreakForm()
    if form.validate_on_submit():
        services.add_break(form.name.data.strip(), form.first_day.data, form.last_day.data, current_user)
        flash(_("休業日を追加しました。対応中のお問い合わせの回答期限を再計算しました。"), "success")
        return redirect(url_for("tickets.breaks"), 303)
    items = db.session.scalars(select(DeskBreak).order_by(DeskBreak.first_day.desc())).all()
    return render_template("tickets/breaks.html", form=form, items=items), (
        422 if form.is_submitted() else 200
    )


@bp.post("/breaks/<int:item_id>/delete")
@role_required(Role.OPERATOR)
def delete_break(item_id: int):
    item = db.get_or_404(DeskBreak, item_id)
    services.remove_break(item, current_user)
    flash(_("休業日を削除しました。対応中のお問い合わせの回答期限を再計算しました。"), "success")
    return redirect(url_for("tickets.breaks"), 303)


@bp.get("/reports")
@role_required(*STAFF)
def reports():
    form = ReportForm(request.args)
    now = utcnow()
    today = today_in_tokyo(now)
    year, month = today.year, today.month
    error = None
    if form.month.data:
        try:
            y, m = (int(part) for part in form.month.data.split("-"))
            if not (2000 <= y <= 2100 and 1 <= m <= 12):
                raise ValueError
            year, month = y, m
        except ValueError:
            error = _("月は「2026-11」の形で指定してください。")
    report = services.month_report(year, month, now=now)
    return render_template("tickets/reports.html", form=form, report=report, error=error,
                           category_labels=CATEGORY_LABELS, month_value=f"{year:04d}-{month:02d}"), (
        400 if error else 200
    )
