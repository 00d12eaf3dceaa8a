"""Results and follow-up views. Thin: the figures and the rules are in ``services``."""

from __future__ import annotations

from functools import partial

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal.accounts import signed_in_user as _me
from portal.blueprints.inspections.results import bp, charts, services
from portal.blueprints.inspections.results.forms import ActionForm, ActionProgressForm, int_or_none
from portal.blueprints.inspections.results.services import ActionInput, ActionRuleError
from portal.blueprints.training.courses.services import course_name, visible_courses
from portal.clock import TOKYO, this_month, today_in_tokyo, utcnow
from portal.departments import DepartmentTree, may_open_record
from portal.exports import csv_response, rows_from_database
from portal.extensions import db
from portal.forms import options
from portal.models import ActionStatus, InspectionAnswer, InspectionRound, Role
from portal.pagination import requested_page
from portal.requests import writes_on_get
from portal.security import role_required
from portal.violations import rule_violations_shown, undone_on


def _scope() -> tuple[DepartmentTree, set[int] | None]:
    tree = DepartmentTree.load()
    return tree, services.visible_departments(_me(), tree)


def _edition_and_month(editions):
    wanted = int_or_none(request.args.get("edition"))
    edition = next((e for e in editions if e.id == wanted), editions[0] if editions else None)
    month = services.parse_month(request.args.get("month"))
    if edition is not None and month is None:
        month = services.latest_month(edition.id)
    return edition, month or this_month()


# --- results -------------------------------------------------------------------------------------------


@bp.get("/results/")
def index():
    tree, departments = _scope()
    editions = services.editions_with_rounds()
    edition, month = _edition_and_month(editions)
    data = services.results(edition, month, departments, tree) if edition else None
    months = services.month_window(max(month, this_month()), 24)[::-1]
    return render_template(
        "inspection_results/index.html", editions=editions, edition=edition, month=month, months=months, data=data,
        chart=charts.trend_chart(data.trend) if data else None, failing_rate=services.FAILING_RATE,
        failing_months=services.FAILING_MONTHS, labels=services.RESPONSE_LABELS,
    )


@bp.get("/results/figures.<fmt>")
def export_figures(fmt: str):
    if fmt not in ("csv", "tsv"):
        abort(404)
    _tree, departments = _scope()
    edition, month = _edition_and_month(services.editions_with_rounds())
    if edition is None:
        abort(404)
    edition_id = edition.id
    stamp = utcnow().astimezone(TOKYO).strftime("%Y%m%d")
    return csv_response(
        f"点検集計_{edition.title}_{month:%Y%m}_{stamp}.{fmt}", services.FIGURES_HEADER,
        rows_from_database(lambda: services.figures_rows(edition_id, month, departments)), dialect=fmt,
    )


@bp.get("/results/rounds/<int:round_id>")
def round_view(round_id: int):
    inspection_round = services.get_round(round_id)
    tree, departments = _scope()
    return render_template(
        "inspection_results/round.html", round=inspection_round, tree=tree,
        counts=services.response_counts([inspection_round.id], departments)[inspection_round.id],
        items=services.round_items(inspection_round, departments),
        page=services.pending_responses(inspection_round, departments, requested_page()),
        labels=services.RESPONSE_LABELS, failing_rate=services.FAILING_RATE,
        may_open_record=partial(may_open_record, departments),
    )


@bp.get("/results/rounds/<int:round_id>/no")
def no_answers(round_id: int):
    inspection_round = services.get_round(round_id)
    tree, departments = _scope()
    return render_template(
        "inspection_results/no_answers.html", round=inspection_round, tree=tree,
        page=services.no_answers(inspection_round, departments, requested_page()),
        action_labels=services.ACTION_LABELS, is_admin=_me().role == Role.ORG_ADMIN,
        may_open_record=partial(may_open_record, departments),
    )


@bp.get("/results/rounds/<int:round_id>/answers.<fmt>")
@writes_on_get
def export_answers(round_id: int, fmt: str):
    """Each person's answers as a file; audited (``inspection.answers_exported``)."""
    inspection_round = services.get_round(round_id)
    if fmt not in ("csv", "tsv"):
        abort(404)
    services.answers_exported(inspection_round, fmt)
    _tree, departments = _scope()
    rid = inspection_round.id
    stamp = utcnow().astimezone(TOKYO).strftime("%Y%m%d")
    return csv_response(f"点検回答_{inspection_round.title}_{stamp}.{fmt}", services.ANSWERS_HEADER,
                        rows_from_database(lambda: services.answers_rows(rid, departments)), dialect=fmt)


# --- follow-up (是正処置) ----------------------------------------------------------------------------------


@bp.get("/actions/")
def actions():
    status = request.args.get("status", services.UNFINISHED)
    if status not in {services.UNFINISHED, "all", *(s.value for s in ActionStatus)}:
        status = services.UNFINISHED
    owner = request.args.get("owner", "")
    owner_id = _me().id if owner == "me" else int_or_none(owner)
    overdue = request.args.get("overdue") == "1"
    return render_template(
        "inspection_results/actions.html", status=status, owner=owner, overdue=overdue,
        page=services.action_list(_me(), status=status, owner_id=owner_id, overdue=overdue, page=requested_page()),
        owners=services.assignable_owners(), tree=DepartmentTree.load(), labels=services.ACTION_LABELS,
        today=today_in_tokyo(), is_overdue=services.is_overdue,
    )


def _answer_context(answer: InspectionAnswer | None):
    if answer is None:
        return None
    return {"answer": answer, "respondent": answer.response.respondent, "item": answer.item,
            "round": db.session.get(InspectionRound, answer.round_id)}


def _action_form(obj=None) -> ActionForm:
    form = ActionForm(obj=obj)
    roles = {Role.ORG_ADMIN: _("管理者"), Role.MANAGER: _("マネージャー")}
    form.owner_id.choices = options((u.id, f"{u.name}（{roles.get(u.role, '')}）")
                                    for u in services.assignable_owners())
    form.course_id.choices = options([("", _("割り当てない"))] +
                                     [(c.id, course_name(c)) for c in visible_courses()])
    return form


def _input(form: ActionForm) -> ActionInput:
    return ActionInput(owner_id=form.owner_id.data, due_on=form.due_on.data, status=form.status.data or "",
                       notes=form.notes.data or "", title=form.title.data or "", course_id=form.course_id.data)


@bp.route("/actions/new/<int:answer_id>", methods=["GET", "POST"])
@role_required(Role.ORG_ADMIN)
def new_action(answer_id: int):
    answer = services.get_answer(answer_id)
    existing = services.action_of_answer(answer.id)
    if existing is not None:
        flash(_("この回答には是正処置が登録済みです。"), "info")
        return redirect(url_for("inspection_results.edit_action", action_id=existing.id), 303)
    form = _action_form()
    if not form.is_submitted():
        form.owner_id.data = _me().id
        form.status.data = ActionStatus.OPEN
    refused = None
    if form.validate_on_submit():
        with undone_on(ActionRuleError) as refusal:
            action = services.open_action(answer, _input(form), by=_me())
            flash(_("是正処置を登録しました。"), "success")
            return redirect(url_for("inspection_results.edit_action", action_id=action.id), 303)
        if refusal.error.field:
            getattr(form, refusal.error.field).errors.append(str(refusal))
        else:
            refused = str(refusal)
    status = 422 if form.errors or refused else 200
    return render_template("inspection_results/action_form.html", form=form, action=None, refused=refused,
                           context=_answer_context(answer), is_admin=True), status


@bp.route("/actions/<int:action_id>", methods=["GET", "POST"])
def edit_action(action_id: int):
    me = _me()
    action = services.get_action(action_id, me)
    is_admin = services.may_edit_everything(me)
    form = _action_form(obj=action) if is_admin else ActionProgressForm(obj=action)
    if is_admin and not form.is_submitted():
        form.course_id.data = None
    if form.validate_on_submit():
        with rule_violations_shown(form, field="status", catch=ActionRuleError):
            if is_admin:
                services.update_action(action, _input(form), by=me)
            else:
                services.update_progress(action, status=form.status.data or "", notes=form.notes.data or "", by=me)
            flash(_("是正処置を更新しました。"), "success")
            return redirect(url_for("inspection_results.edit_action", action_id=action.id), 303)
    answer = db.session.scalar(select(InspectionAnswer).where(InspectionAnswer.id == action.answer_id)) \
        if action.answer_id else None
    return render_template(
        "inspection_results/action_form.html", form=form, action=action, refused=None, is_admin=is_admin,
        context=_answer_context(answer), labels=services.ACTION_LABELS, tree=DepartmentTree.load(),
        overdue=services.is_overdue(action.status, action.due_on, today_in_tokyo()),
    ), 422 if form.errors else 200
