"""Rounds for the organization's administrator (managers read them). Thin views: rules are in ``services``."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from portal import learner_picker
from portal.accounts import signed_in_user as _me
from portal.blueprints.inspections.items.services import edition_name, get_edition, visible_editions
from portal.blueprints.inspections.rounds import bp, services
from portal.blueprints.inspections.rounds.forms import RoundForm
from portal.blueprints.inspections.rounds.services import InspectionRuleError, RoundInput
from portal.clock import TOKYO, tokyo_to_utc, utcnow
from portal.departments import DepartmentTree, managed_department_ids
from portal.forms import EmptyForm, options
from portal.htmx import render_page_or_block
from portal.models import Role, RoundStatus
from portal.outbox import external_url
from portal.security import role_required
from portal.violations import rule_violations_shown


def _departments(tree: DepartmentTree | None = None) -> set[int] | None:
    """None for the administrator (everything); for a manager, the departments they look after."""
    me = _me()
    return None if me.role == Role.ORG_ADMIN else managed_department_ids(me, tree)


@bp.get("/")
def index():
    rounds = services.round_list()
    organization = _me().organization
    return render_template(
        "inspections/index.html", rounds=rounds, counts=services.status_counts([r.id for r in rounds], _departments()),
        labels=services.ROUND_STATUS_LABELS, is_admin=_me().role == Role.ORG_ADMIN,
        org_url=external_url("auth.org_login", code=organization.code) if organization else "",
        sheets_url=external_url("inspection_sheets.index"),
    )


def _round_form(**kwargs) -> RoundForm:
    form = RoundForm(**kwargs)
    form.edition_id.choices = options([(e.id, edition_name(e)) for e in visible_editions(_me())])
    tree = DepartmentTree.load()
    form.department_ids.choices = options([(d.id, tree.path(d.id)) for d in tree.ordered()])
    if not form.is_submitted():
        now = utcnow().astimezone(TOKYO).replace(second=0, microsecond=0, tzinfo=None)
        form.month.data = now.date().replace(day=1)
        form.starts_at.data = now
        form.due_at.data = (now + timedelta(days=10)).replace(hour=18, minute=0)
        form.reminder_days.data = [-3, -1]
    return form


# A round is for learners, and for managers (the manager edition's sheets).
PICKABLE = (Role.LEARNER, Role.MANAGER)


def _render_new(form: RoundForm, status: int = 200, block: str | None = None):
    picker = learner_picker.search(_me(), form.learner_q.data, form.learner_ids.data or [], roles=PICKABLE)
    if block:
        return render_page_or_block("inspections/new.html", block, form=form, picker=picker), status
    return render_template("inspections/new.html", form=form, picker=picker), status


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def new():
    form = _round_form()
    if learner_picker.searching():
        return _render_new(form)
    if form.validate_on_submit():
        data = RoundInput(
            edition=get_edition(form.edition_id.data), month=form.month.data, title=form.title.data or "",
            target_kind=form.target_kind.data, department_ids=form.department_ids.data or [],
            person_ids=form.learner_ids.data or [], starts_at=tokyo_to_utc(form.starts_at.data),
            due_at=tokyo_to_utc(form.due_at.data), reminder_days=form.reminder_days.data or [],
            window_start_hour=form.window_start_hour.data, window_end_hour=form.window_end_hour.data,
            business_days_only=form.business_days_only.data, recurrence=form.recurrence.data,
        )
        with rule_violations_shown(form, field="edition_id", catch=InspectionRuleError):
            inspection_round = services.create_round(data, by=_me())
            flash(_("点検を登録しました。") if inspection_round.status == RoundStatus.SCHEDULED else
                  _("点検を開始しました。対象の人にメールを送ります。"), "success")
            return redirect(url_for("inspections.show", round_id=inspection_round.id), 303)
    return _render_new(form, 422 if form.errors else 200)


@bp.get("/new/people")
@role_required(Role.ORG_ADMIN)
def people_search():
    """The round form's picker search: its results for htmx; otherwise the form, showing them."""
    form = _round_form(formdata=None)
    learner_picker.search_from_query(form)
    return _render_new(form, block="learner_results")


@bp.get("/<int:round_id>")
def show(round_id: int):
    inspection_round = services.get_round(round_id)
    tree = DepartmentTree.load()
    rows, total = services.department_counts(inspection_round, tree, _departments(tree))
    return render_template(
        "inspections/show.html", round=inspection_round, rows=rows, total=total, action_form=EmptyForm(),
        labels=services.ROUND_STATUS_LABELS, is_admin=_me().role == Role.ORG_ADMIN,
        items=services.round_items(inspection_round), edition_name=edition_name(inspection_round.edition),
    )


@bp.post("/<int:round_id>/remind")
@role_required(Role.ORG_ADMIN)
def remind(round_id: int):
    inspection_round = services.get_round(round_id)
    if EmptyForm().validate_on_submit():
        with rule_violations_shown(catch=InspectionRuleError):
            sent = services.remind_now(inspection_round)
            flash(_("%(n)d人にリマインドを送ります（同じ人には1日1回まで）。", n=sent), "success")
    return redirect(url_for("inspections.show", round_id=inspection_round.id), 303)


@bp.post("/<int:round_id>/close")
@role_required(Role.ORG_ADMIN)
def close(round_id: int):
    inspection_round = services.get_round(round_id)
    if EmptyForm().validate_on_submit():
        services.close_round(inspection_round)
        flash(_("点検を締め切りました。回答はこれ以上変更できません。"), "success")
    return redirect(url_for("inspections.show", round_id=inspection_round.id), 303)
