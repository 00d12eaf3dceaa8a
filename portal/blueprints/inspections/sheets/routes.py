"""The answer sheets of the signed-in person. Phone first; every page works without JavaScript.

With htmx each item is saved when chosen (``answer``); without it the form saves every item at once
(``save``), and the same form submits.
"""

from __future__ import annotations

from typing import NamedTuple

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.accounts import signed_in_user as _me
from portal.blueprints.inspections.rounds.services import (
    ANSWER_LABELS,
    NOT_IN_ROUND,
    RESPONSE_STATUS_LABELS,
    InspectionRuleError,
    RoundItem,
    round_items,
)
from portal.blueprints.inspections.sheets import bp, services
from portal.blueprints.inspections.sheets.services import AnswerInput
from portal.forms import EmptyForm
from portal.htmx import is_htmx
from portal.i18n import translated
from portal.models import InspectionResponse, ResponseStatus
from portal.violations import undone_on


@bp.get("/")
def index():
    responses = services.my_responses(_me())
    return render_template("inspection_sheets/index.html", responses=responses,
                           teams=services.team_names(responses), labels=translated(RESPONSE_STATUS_LABELS))


@bp.get("/rounds/<int:round_id>")
def round_sheets(round_id: int):
    """Where a personal link lands: the sheet itself, or a manager's list of the round's team sheets."""
    mine = [r for r in services.my_responses(_me()) if r.round_id == round_id]
    if not mine:
        abort(404)
    if len(mine) == 1:
        return redirect(url_for("inspection_sheets.sheet", response_id=mine[0].id), 303)
    return render_template("inspection_sheets/index.html", responses=mine, teams=services.team_names(mine),
                           labels=translated(RESPONSE_STATUS_LABELS))


class _Row(NamedTuple):
    """An item of the sheet as the page shows it: what was saved or just typed, and its error."""

    item: RoundItem
    value: str | None
    comment: str
    error: str | None


def _sheet_page(response: InspectionResponse, *, status: int = 200, posted=None, errors=None, message=None):
    items = round_items(response.round)
    saved = services.saved_answers(response)
    shown = {**saved, **(posted or {})}  # what was typed wins over what was saved
    errors = errors or {}
    # Each item's value, comment and error looked up here, not by calls in the template (#17: a call from a
    # template costs several times a lookup here).
    rows = [_Row(item, answer.value, answer.comment, errors.get(item.id)) if (answer := shown.get(item.id))
            else _Row(item, None, "", errors.get(item.id)) for item in items]
    return render_template(
        "inspection_sheets/sheet.html", response=response, round=response.round, items=items, rows=rows,
        message=message, editable=services.is_editable(response),
        title=services.sheet_title(response) if response.subject != "self" else response.round.title,
        answered=sum(1 for i in items if i.id in saved),
        labels=translated(ANSWER_LABELS),  # once, not three times per item
        status_labels=RESPONSE_STATUS_LABELS, form=EmptyForm(),
    ), status


@bp.get("/<int:response_id>")
def sheet(response_id: int):
    return _sheet_page(services.get_response(response_id, _me()))


@bp.post("/<int:response_id>")
def save(response_id: int):
    """Save every answered item of the form; with ``action=submit`` also submit. All or nothing."""
    response = services.get_response(response_id, _me(), for_update=True)
    submit = request.form.get("action") == "submit"
    answers, errors = services.parse_answers(request.form, list(response.round.item_ids or []))
    if not EmptyForm().validate_on_submit():
        return _sheet_page(response, status=422, posted=answers,
                           message=_("画面の有効期限が切れました。もう一度ボタンを押してください。"))
    if errors:
        return _sheet_page(response, status=422, posted=answers, errors=errors,
                           message=errors.get(0) or _("入力内容に誤りがあります。赤字のメッセージをご確認ください。"))
    with undone_on(InspectionRuleError) as refusal:
        services.save_answers(response, answers, submit=submit, locked=True)
    if refusal:
        field = refusal.error.field
        field_errors = {int(field): str(refusal)} if field and field.isdigit() else {}
        return _sheet_page(services.get_response(response_id, _me()), status=422, posted=answers,
                           errors=field_errors, message=str(refusal))
    if submit:
        flash(_("点検を提出しました。期限までは回答を変更できます。"), "success")
    else:
        flash(_("回答を保存しました。すべて回答したら「提出する」を押してください。") if response.status !=
              ResponseStatus.SUBMITTED else _("変更を保存しました（提出済みの回答に反映しました）。"), "success")
    return redirect(url_for("inspection_sheets.sheet", response_id=response.id), 303)


@bp.post("/<int:response_id>/items/<int:item_id>")
def answer(response_id: int, item_id: int):
    """Save one item (htmx). The answer comes back as the item's status line; without htmx, the sheet."""
    response = services.get_response(response_id, _me(), for_update=True)
    answer = AnswerInput(request.form.get(f"value_{item_id}", ""),
                         (request.form.get(f"comment_{item_id}") or "").replace("\x00", "").strip())
    error = None
    if not EmptyForm().validate_on_submit():
        error = _("画面の有効期限が切れました。読み込み直してください。")
    elif item_id not in (response.round.item_ids or []):
        error = str(NOT_IN_ROUND)
    else:
        with undone_on(InspectionRuleError) as refusal:
            services.save_answers(response, {item_id: answer}, locked=True)
        error = str(refusal) if refusal else None
    if not is_htmx():
        if error:
            return _sheet_page(services.get_response(response_id, _me()), status=422,
                               posted={item_id: answer} if item_id in (response.round.item_ids or []) else {},
                               errors={item_id: error}, message=error)
        return redirect(url_for("inspection_sheets.sheet", response_id=response.id, _anchor=f"item-{item_id}"), 303)
    if error:  # a refused save was undone: read the sheet again (a saved one is the locked, fresh row already)
        response = services.get_response(response_id, _me())
    return render_template("inspection_sheets/_item_status.html", item_id=item_id, error=error, saved=error is None,
                           response=response, answered=services.answered_count(response),
                           total=len(response.round.item_ids or []),
                           status_labels=RESPONSE_STATUS_LABELS, oob=True), 422 if error else 200
