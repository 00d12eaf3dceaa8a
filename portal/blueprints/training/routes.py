"""Deliveries and results for the organization's administrator. Thin views: rules are in ``services``."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal import learner_picker
from portal.accounts import signed_in_user as _me
from portal.blueprints.courses.services import course_name, get_course_or_404, visible_courses
from portal.blueprints.quizzes.services import STATUS_LABELS
from portal.blueprints.training import bp, services
from portal.blueprints.training.forms import DeliveryForm
from portal.blueprints.training.services import DeliveryInput, DeliveryRuleError
from portal.clock import TOKYO, today_in_tokyo, tokyo_to_utc, utcnow
from portal.departments import DepartmentTree, scope_learners
from portal.exports import csv_response, rows_from_database
from portal.extensions import db
from portal.forms import EmptyForm, options
from portal.htmx import render_page_or_block
from portal.models import Delivery, Role, TargetKind, User
from portal.security import role_required
from portal.violations import rule_violations_shown


def _learners():
    """None for the administrator (everyone); for a manager, the ids of the learners they look after."""
    me = _me()
    return None if me.role == Role.ORG_ADMIN else scope_learners(select(User.id), me)


def get_delivery_or_404(delivery_id: int) -> Delivery:
    delivery = db.session.scalar(select(Delivery).where(Delivery.id == delivery_id))
    if delivery is None:
        abort(404)
    return delivery


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
        course = get_course_or_404(form.course_id.data)
        data = DeliveryInput(
            course=course, title=form.title.data or "", target_kind=form.target_kind.data,
            department_ids=form.department_ids.data or [], learner_ids=form.learner_ids.data or [],
            starts_at=tokyo_to_utc(form.starts_at.data), due_at=tokyo_to_utc(form.due_at.data),
            reminder_days=form.reminder_days.data or [], window_start_hour=form.window_start_hour.data,
            window_end_hour=form.window_end_hour.data, business_days_only=form.business_days_only.data,
            recurrence=form.recurrence.data,
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
    form.learner_q.data = request.args.get("learner_q", "")
    form.learner_ids.data = learner_picker.chosen_ids(request.args.getlist("learner_ids"))
    if form.learner_ids.data:
        form.target_kind.data = TargetKind.LEARNERS
    return _render_new(form, block="learner_results")


@bp.get("/<int:delivery_id>")
def show(delivery_id: int):
    delivery = get_delivery_or_404(delivery_id)
    tree = DepartmentTree.load()
    learners = _learners()
    rows, total = services.department_summary(select(Delivery.id).where(Delivery.id == delivery.id), tree, learners)
    return render_template(
        "training/show.html", delivery=delivery, rows=rows, total=total, tree=tree,
        unfinished=services.unfinished_learners(delivery, learners=learners), labels=STATUS_LABELS,
        action_form=EmptyForm(), is_admin=_me().role == Role.ORG_ADMIN,
        today=today_in_tokyo(),
    )


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
            sent = services.remind_now(delivery)
            flash(_("%(n)d人にリマインドを送ります（同じ人には1日1回まで）。", n=sent), "success")
    return redirect(url_for("training.show", delivery_id=delivery.id), 303)


@bp.post("/<int:delivery_id>/close")
@role_required(Role.ORG_ADMIN)
def close(delivery_id: int):
    delivery = get_delivery_or_404(delivery_id)
    if EmptyForm().validate_on_submit():
        services.close_delivery(delivery)
        flash(_("配信を終了しました。"), "success")
    return redirect(url_for("training.show", delivery_id=delivery.id), 303)


@bp.get("/<int:delivery_id>/export.<fmt>")
def export(delivery_id: int, fmt: str):
    delivery = get_delivery_or_404(delivery_id)
    if fmt not in ("csv", "tsv"):
        abort(404)
    ids, learners = [delivery.id], _learners()
    stamp = utcnow().astimezone(TOKYO).strftime("%Y%m%d")
    return csv_response(f"受講記録_{delivery.title}_{stamp}.{fmt}", services.EXPORT_HEADER,
                        rows_from_database(lambda: services.export_rows(ids, learners)), dialect=fmt)


@bp.get("/courses/<int:course_id>")
def course_results(course_id: int):
    course = get_course_or_404(course_id)
    tree = DepartmentTree.load()
    learners = _learners()
    rows, total = services.department_summary(services.deliveries_of_course(course.id), tree, learners)
    # Across every round the answers run into the hundreds of thousands: analysed only on request.
    analysis = request.args.get("analysis") == "1"
    items = services.item_analysis(services.deliveries_of_course(course.id), learners) if analysis else None
    return render_template("training/course.html", course=course, rows=rows, total=total, items=items)
