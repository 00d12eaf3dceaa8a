"""Deliveries and results for the organization's administrator. Thin views: rules are in ``services``."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from portal import certificates, learner_picker
from portal.accounts import signed_in_user as _me
from portal.blueprints.training.courses.services import course_name, get_course, visible_courses
from portal.blueprints.training.deliveries import bp, services
from portal.blueprints.training.deliveries.forms import DeliveryForm
from portal.blueprints.training.deliveries.services import DeliveryInput, DeliveryRuleError
from portal.blueprints.training.quizzes.services import STATUS_LABELS
from portal.clock import TOKYO, today_in_tokyo, tokyo_to_utc, utcnow
from portal.departments import DepartmentTree, scope_learners
from portal.exports import csv_response, rows_from_database
from portal.extensions import db
from portal.forms import EmptyForm, options
from portal.htmx import render_page_or_block
from portal.i18n import local_datetime, translated
from portal.models import Assignment, Delivery, Role, User
from portal.outbox import topic_counts
from portal.pagination import requested_page
from portal.requests import writes_on_get
from portal.security import role_required
from portal.violations import rule_violations_shown


def _learners():
    """None for the administrator (everyone); for a manager, the ids of the learners they look after."""
    me = _me()
    return None if me.role == Role.ORG_ADMIN else scope_learners(select(User.id), me)


def get_delivery_or_404(delivery_id: int) -> Delivery:
    """The delivery with its course (its pages name the course: loaded here, not by their templates)."""
    delivery = db.session.scalar(_delivery_with_course(), {"id": delivery_id})
    if delivery is None:
        abort(404)
    return delivery


@cache
def _delivery_with_course() -> Select:
    """Built once (#17): every page of a delivery reads it first."""
    return select(Delivery).where(Delivery.id == bindparam("id")).options(joinedload(Delivery.course))


def get_assignment(delivery: Delivery, learner_id: int) -> Assignment:
    """The learner's assignment in ``delivery``; 404 for anyone the delivery is not for."""
    assignment = db.session.scalar(
        select(Assignment).where(Assignment.delivery_id == delivery.id, Assignment.learner_id == learner_id)
    )
    if assignment is None:
        abort(404)
    return assignment


@bp.get("/")
def index():
    deliveries = services.delivery_list()
    return render_template("training/index.html", deliveries=deliveries,
                           counts=services.status_counts((d.id for d in deliveries), _learners()),
                           courses=visible_courses())


def _delivery_form(**kwargs) -> DeliveryForm:
    form = DeliveryForm(**kwargs)
    form.course_id.choices = options([(c.id, course_name(c)) for c in visible_courses()])
    tree = DepartmentTree.load()
    form.department_ids.choices = options([(d.id, tree.path(d.id)) for d in tree.ordered()])
    if not form.is_submitted():
        now = utcnow().astimezone(TOKYO).replace(second=0, microsecond=0, tzinfo=None)
        form.starts_at.data = now
        form.due_at.data = (now + timedelta(days=14)).replace(hour=18, minute=0)
        form.reminder_days.data = [-3, 1]
    return form


def _render_new(form: DeliveryForm, status: int = 200, block: str | None = None):
    picker = learner_picker.search(_me(), form.learner_q.data, form.learner_ids.data or [])
    if block:
        return render_page_or_block("training/new.html", block, form=form, picker=picker), status
    return render_template("training/new.html", form=form, picker=picker), status


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def new():
    form = _delivery_form()
    if learner_picker.searching():
        return _render_new(form)
    if form.validate_on_submit():
        course = get_course(form.course_id.data)
        data = DeliveryInput(
            course=course, title=form.title.data or "", target_kind=form.target_kind.data,
            department_ids=form.department_ids.data or [], learner_ids=form.learner_ids.data or [],
            starts_at=tokyo_to_utc(form.starts_at.data), due_at=tokyo_to_utc(form.due_at.data),
            reminder_days=form.reminder_days.data or [], window_start_hour=form.window_start_hour.data,
            window_end_hour=form.window_end_hour.data, business_days_only=form.business_days_only.data,
            recurrence=form.recurrence.data, escalate_after_days=form.escalate_after_days.data,
        )
        with rule_violations_shown(form, field="course_id", catch=DeliveryRuleError):
            delivery = services.create_delivery(data, by=_me())
            flash(_("配信を登録しました。") if delivery.status == "scheduled" else
                  _("配信を開始しました。受講者にメールを送ります。"), "success")
            return redirect(url_for("training.show", delivery_id=delivery.id), 303)
    return _render_new(form, 422 if form.errors else 200)


@bp.get("/new/learners")
@role_required(Role.ORG_ADMIN)
def learner_search():
    """The learner picker's search: its results for htmx; otherwise the form, showing them."""
    form = _delivery_form(formdata=None)
    learner_picker.search_from_query(form)
    return _render_new(form, block="learner_results")


def _show_page(delivery: Delivery, status: int = 200):
    """The delivery's results; ``?overdue=1`` lists only the learners past the due date who have not passed
    (the start page's 期限切れ figure links here)."""
    tree = DepartmentTree.load()
    learners = _learners()
    rows, total = services.delivery_summary(delivery, tree, learners)
    overdue_only = request.args.get("overdue") == "1"
    # The due date is the delivery's: once it has gone, everyone not passed is overdue; before it, no one.
    past_due = delivery.due_at <= utcnow()
    unfinished = services.unfinished_learners(delivery, learners=learners) if past_due or not overdue_only else []
    return render_template(
        "training/show.html", delivery=delivery, rows=rows, total=total, tree=tree,
        zip_parts=certificates.zip_parts(total.passed),
        unfinished=unfinished, labels=translated(STATUS_LABELS), overdue_only=overdue_only,
        past_due=past_due,
        action_form=EmptyForm(), is_admin=_me().role == Role.ORG_ADMIN,
        today=today_in_tokyo(), emails=topic_counts(delivery.outbox_topic, utcnow()),
        escalations=services.escalations_sent(delivery),
    ), status


@bp.get("/<int:delivery_id>")
def show(delivery_id: int):
    return _show_page(get_delivery_or_404(delivery_id))


@bp.get("/<int:delivery_id>/items")
def items(delivery_id: int):
    delivery = get_delivery_or_404(delivery_id)
    return render_template("training/items.html", title=delivery.title, delivery=delivery,
                           items=services.item_analysis(select(Delivery.id).where(Delivery.id == delivery.id),
                                                        _learners()))


@bp.post("/<int:delivery_id>/remind")
@role_required(Role.ORG_ADMIN)
def remind(delivery_id: int):
    delivery = get_delivery_or_404(delivery_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown(catch=DeliveryRuleError):
            reminded = services.remind_now(delivery)
            flash(_("%(n)d人にリマインドを送ります（同じ人には1日1回まで）。", n=reminded.queued), "success")
            if reminded.without_email:
                flash(_("メールアドレスのない%(n)d人には送れません。ログインするとホームに研修が表示されます。",
                        n=reminded.without_email), "warning")
    return redirect(url_for("training.show", delivery_id=delivery.id), 303)


@bp.post("/<int:delivery_id>/remind/<int:learner_id>")
@role_required(Role.ORG_ADMIN)
def remind_one(delivery_id: int, learner_id: int):
    delivery = get_delivery_or_404(delivery_id)
    assignment = get_assignment(delivery, learner_id)
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("training.show", delivery_id=delivery.id), 303)
    with rule_violations_shown():
        send_at = services.remind_one(assignment)
        name = assignment.learner.name
        if send_at > utcnow():
            flash(_("%(name)sさんへのリマインドは、送信時間帯の始まる %(at)s に送ります。", name=name,
                    at=local_datetime(send_at)), "success")
        else:
            flash(_("%(name)sさんにリマインドを送ります。", name=name), "success")
        return redirect(url_for("training.show", delivery_id=delivery.id), 303)
    return _show_page(get_delivery_or_404(delivery_id), 422)


@bp.post("/<int:delivery_id>/close")
@role_required(Role.ORG_ADMIN)
def close(delivery_id: int):
    delivery = get_delivery_or_404(delivery_id)
    if EmptyForm().validate_on_submit():
        services.close_delivery(delivery)
        flash(_("配信を終了しました。"), "success")
    return redirect(url_for("training.show", delivery_id=delivery.id), 303)


@bp.get("/<int:delivery_id>/export.<fmt>")
@writes_on_get
def export(delivery_id: int, fmt: str):
    """Each learner's results as a file; audited (``training.results_exported``)."""
    delivery = get_delivery_or_404(delivery_id)
    if fmt not in ("csv", "tsv"):
        abort(404)
    ids, learners = [delivery.id], _learners()
    services.results_exported(delivery, fmt)
    stamp = utcnow().astimezone(TOKYO).strftime("%Y%m%d")
    return csv_response(f"受講記録_{delivery.title}_{stamp}.{fmt}", services.EXPORT_HEADER,
                        rows_from_database(lambda: services.export_rows(ids, learners)), dialect=fmt)


@bp.get("/<int:delivery_id>/certificates")
def certificates_list(delivery_id: int):
    """The learners who passed, each with their certificate; a manager sees their departments' only."""
    delivery = get_delivery_or_404(delivery_id)
    page = services.passed_learners(delivery, requested_page(), _learners())
    return render_template("training/certificates.html", delivery=delivery, tree=DepartmentTree.load(), page=page,
                           is_admin=_me().role == Role.ORG_ADMIN, zip_parts=certificates.zip_parts(page.total),
                           zip_size=certificates.ZIP_PART_SIZE)


@bp.get("/assignments/<int:assignment_id>/certificate.pdf")
def certificate_pdf(assignment_id: int):
    """One learner's certificate (a manager's learners only); none for a learner who has not passed."""
    return certificates.pdf_response(certificates.get_certificate_or_404(assignment_id, learners=_learners()))


@bp.get("/<int:delivery_id>/certificates.zip")
@writes_on_get
@role_required(Role.ORG_ADMIN)
def certificates_zip(delivery_id: int):
    """The delivery's certificates in one zip (``?part=`` of a larger delivery), drawn while it downloads;
    the download is audited."""
    delivery = get_delivery_or_404(delivery_id)
    part = requested_page("part")
    with rule_violations_shown():
        filename = services.export_certificates(delivery, part, by=_me())
        return certificates.zip_response(filename, delivery.id, part)
    return redirect(url_for("training.show", delivery_id=delivery.id), 303)


@bp.get("/courses/<int:course_id>")
def course_results(course_id: int):
    course = get_course(course_id)
    tree = DepartmentTree.load()
    learners = _learners()
    rows, total = services.department_summary(services.deliveries_of_course(course.id), tree, learners)
    # Across every round the answers run into the hundreds of thousands: analysed only on request.
    analysis = request.args.get("analysis") == "1"
    items = services.item_analysis(services.deliveries_of_course(course.id), learners) if analysis else None
    return render_template("training/course.html", course=course, rows=rows, total=total, items=items)
