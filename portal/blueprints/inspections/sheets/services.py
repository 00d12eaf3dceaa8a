"""Answering an inspection: the person's sheets, saving as they go, submitting, and the tallies.

Tally semantics: ``InspectionTally(round, department, item)`` counts the current answers of the **submitted**
sheets of that department (the department frozen on the sheet at launch). A sheet that is only saved counts
nowhere. The first submission adds each of its answers; once submitted, every saved change of an answer
(htmx per item, the form, a re-submission) subtracts the answer it replaces and adds the new one, in the same
transaction, with one ``UPDATE ... SET yes_count = yes_count + CASE item_id ... END`` so that two people
submitting at once never lose a count; the sheet row is locked while it is saved, so that two saves of one
sheet queue. After the due date, or once the round is closed, nothing changes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, case, func, or_, select, update
from sqlalchemy.orm import joinedload

from portal import audit, sending
from portal.blueprints.inspections.rounds.services import (
    NOT_IN_ROUND,
    RESPONSE_STATUS_LABELS,
    InspectionRuleError,
)
from portal.clock import utcnow
from portal.departments import DepartmentTree
from portal.extensions import db
from portal.home import HomeItem, history_rank, register_home_provider
from portal.i18n import translated
from portal.ids import parse_id
from portal.link_sessions import LinkProblem, revoked_problem
from portal.models import (
    SELF_SUBJECT,
    AnswerValue,
    InspectionAnswer,
    InspectionResponse,
    InspectionRound,
    InspectionTally,
    ManagerDepartment,
    ResponseStatus,
    RoundStatus,
    User,
)
from portal.rules import NotFound
from portal.unit_of_work import locks_rows

COMMENT_MAX = 1000


def response_for_link(raw: str) -> InspectionResponse | None:
    """The sheet a personal link points at (any organization: the caller is anonymous)."""
    if not raw or len(raw) > 100:
        return None
    return db.session.scalar(_response_by_link(), {"link_hash": sending.link_digest(raw)})


@cache
def _response_by_link() -> Select:
    """Built once: a link is the way in for most of a month's sheets (#17)."""
    return (select(InspectionResponse).where(InspectionResponse.link_hash == bindparam("link_hash"))
            .options(joinedload(InspectionResponse.respondent), joinedload(InspectionResponse.round)))


def link_problem(response: InspectionResponse | None, user) -> LinkProblem | None:
    """Why this personal link cannot be used by ``user`` now, or None (see
    :mod:`portal.link_sessions` for when a link stops working)."""
    if response is None or response.respondent is None or not response.respondent.is_active:
        return LinkProblem(_("このリンクは無効です。メールのリンクをもう一度ご確認ください。"))
    if response.round.status == RoundStatus.CLOSED:
        return LinkProblem(_("この点検は終了しました。管理者にお問い合わせください。"), 410)
    if user is not None and user.is_authenticated and user.id != response.respondent_id:
        return LinkProblem(_("このリンクは別の人のものです。ご自身に届いたメールのリンクを開いてください。"))
    return revoked_problem(response.respondent, response.round.launched_at)


def _own_or_looked_after():
    """Which sheets the person ``:person_id`` may open: their own, and a manager's team sheets only for the
    teams they still look after (one condition for the sheet's page, its saves and the lists)."""
    teams = select(ManagerDepartment.department_id).where(ManagerDepartment.user_id == bindparam("person_id"))
    return or_(InspectionResponse.subject == SELF_SUBJECT, InspectionResponse.department_id.in_(teams))


def get_response(response_id: int, user: User, *, for_update: bool = False) -> InspectionResponse:
    """``user``'s own sheet of a launched round; for a team sheet, only while ``user`` still looks after the
    team. ``for_update``: read with the row lock that :func:`save_answers` takes (PostgreSQL), so that a save
    reads the sheet once, not twice (#17). :raises NotFound: anyone else's sheet, another team's, another
    organization's."""
    response = db.session.scalar(_own_response(for_update and locks_rows()), {"id": response_id, "person_id": user.id})
    if response is None or response.round.status == RoundStatus.SCHEDULED:
        raise NotFound
    return response


# The statements of the learner's pages are built once, with bind parameters (``@cache``): building one cost
# 60-140 µs a request, as much as running it (#17). The tenant criteria are added to a copy at each run.


@cache
def _own_response(for_update: bool) -> Select:
    stmt = (select(InspectionResponse)
            .where(InspectionResponse.id == bindparam("id"), InspectionResponse.respondent_id == bindparam("person_id"),
                   _own_or_looked_after())
            .options(joinedload(InspectionResponse.round)))
    return stmt.with_for_update(of=InspectionResponse) if for_update else stmt


class MySheet(NamedTuple):
    """A sheet as the lists show it: the sheet's columns and its round's."""

    id: int
    round_id: int
    status: str
    subject: str
    department_id: int | None
    submitted_at: datetime | None
    title: str
    round_status: str
    due_at: datetime
    closed_at: datetime | None

    @property
    def editable(self) -> bool:
        return still_open(self.round_status, self.due_at)


@cache
def _my_sheets() -> Select:
    """The sheets of the person ``:person_id`` of launched rounds (:func:`_own_or_looked_after`) as
    :class:`MySheet`'s columns. Built once (#17)."""
    return (
        select(InspectionResponse.id, InspectionResponse.round_id, InspectionResponse.status,
               InspectionResponse.subject, InspectionResponse.department_id, InspectionResponse.submitted_at,
               InspectionRound.title, InspectionRound.status, InspectionRound.due_at, InspectionRound.closed_at)
        .join(InspectionRound, InspectionRound.id == InspectionResponse.round_id)
        .where(InspectionResponse.respondent_id == bindparam("person_id"),
               InspectionRound.status != RoundStatus.SCHEDULED, _own_or_looked_after())
    )


@cache
def _my_sheets_newest_first() -> Select:
    return _my_sheets().order_by(InspectionRound.month.desc(), InspectionRound.id.desc(), InspectionResponse.subject)


@cache
def _home_sheets() -> Select:
    """:func:`_my_sheets` as the home reads them: of closed rounds only the newest ``:history`` (a closed round's
    date is the sheet's submission, or the round's closing)."""
    closed = InspectionRound.status == RoundStatus.CLOSED
    finished = case((InspectionResponse.status == ResponseStatus.SUBMITTED, InspectionResponse.submitted_at),
                    else_=InspectionRound.closed_at)
    ranked = _my_sheets().add_columns(history_rank(closed, finished)).subquery()
    return select(*ranked.c[:-1]).where(ranked.c.history_rank <= bindparam("history"))


def my_responses(user: User) -> list[MySheet]:
    """``user``'s sheets (:func:`_my_sheets`), newest month first (one query, columns only: a year of monthly
    sheets as ORM objects was most of the home's and the list's cost, #17)."""
    return [MySheet(*row) for row in db.session.execute(_my_sheets_newest_first(), {"person_id": user.id})]


def still_open(round_status: str, due_at: datetime, now: datetime | None = None) -> bool:
    """Whether a sheet of a round in ``round_status``, due at ``due_at``, may still change."""
    return round_status == RoundStatus.OPEN and (now or utcnow()) < due_at


def is_editable(response: InspectionResponse, now: datetime | None = None) -> bool:
    return still_open(response.round.status, response.round.due_at, now)


def answers_of(response: InspectionResponse, item_ids: list[int] | None = None) -> dict[int, InspectionAnswer]:
    """The sheet's answers by item (only those of ``item_ids`` when given)."""
    if item_ids is None:
        rows = db.session.scalars(_answers_of(False), {"response_id": response.id})
    else:
        rows = db.session.scalars(_answers_of(True), {"response_id": response.id, "item_ids": list(item_ids)})
    return {a.item_id: a for a in rows}


@cache
def _answers_of(of_items: bool) -> Select:
    stmt = select(InspectionAnswer).where(InspectionAnswer.response_id == bindparam("response_id"))
    return stmt.where(InspectionAnswer.item_id.in_(bindparam("item_ids", expanding=True))) if of_items else stmt


class SavedAnswer(NamedTuple):
    value: str
    comment: str


def saved_answers(response: InspectionResponse) -> dict[int, SavedAnswer]:
    """The sheet's answers by item as its page shows them (columns: the page changes none of them, #17)."""
    return {item_id: SavedAnswer(value, comment)
            for item_id, value, comment in db.session.execute(_saved_answers(), {"response_id": response.id})}


@cache
def _saved_answers() -> Select:
    return (select(InspectionAnswer.item_id, InspectionAnswer.value, InspectionAnswer.comment)
            .where(InspectionAnswer.response_id == bindparam("response_id")))


def answered_count(response: InspectionResponse) -> int:
    """How many of the sheet's items have an answer (counted by the database: no answer is loaded)."""
    return db.session.scalar(_answered_count(), {"response_id": response.id})


@cache
def _answered_count() -> Select:
    return (select(func.count()).select_from(InspectionAnswer)
            .where(InspectionAnswer.response_id == bindparam("response_id")))


@dataclass
class AnswerInput:
    value: str
    comment: str = ""


def parse_answers(form, allowed_item_ids: list[int]) -> tuple[dict[int, AnswerInput], dict[int, str]]:
    """The answers in a posted form (``value_<item id>``, ``comment_<item id>``) and the errors by item id
    (0: about the form as a whole). Nothing is written."""
    answers: dict[int, AnswerInput] = {}
    errors: dict[int, str] = {}
    allowed = set(allowed_item_ids)
    for key in form:
        if not key.startswith(("value_", "comment_")):
            continue
        raw_id = key.split("_", 1)[1]
        item_id = parse_id(raw_id) or -1
        if item_id not in allowed:
            errors[0] = str(NOT_IN_ROUND)
            continue
        if key.startswith("value_"):
            value = form.get(key, "")
            comment = (form.get(f"comment_{item_id}") or "").replace("\x00", "").strip()
            answers[item_id] = AnswerInput(value, comment)
    for item_id, answer in answers.items():
        message = answer_problem(answer)
        if message:
            errors[item_id] = message
    return answers, errors


def answer_problem(answer: AnswerInput) -> str | None:
    if answer.value not in {v.value for v in AnswerValue}:
        return _("「はい」「いいえ」「該当なし」から選んでください。")
    if answer.value == AnswerValue.NO and not answer.comment:
        return _("「いいえ」の場合は、理由や状況をコメントに入力してください。")
    if len(answer.comment) > COMMENT_MAX:
        return _("コメントは1000文字以内にしてください。")
    return None


def _lock(response: InspectionResponse) -> InspectionResponse:
    """Re-read the sheet with a row lock (PostgreSQL), so that two saves of one sheet queue one after
    the other and the second sees the first's answers. Its round comes in the same statement (the lock is
    the sheet's row only): re-reading the sheet alone left the round to a lazy load of its own (#17).
    SQLite's write transaction already runs one at a time, and the sheet was read inside it: no re-read."""
    if not locks_rows():
        return response
    return db.session.scalar(_locked_response(), {"id": response.id})


@cache
def _locked_response() -> Select:
    return (select(InspectionResponse).where(InspectionResponse.id == bindparam("id"))
            .options(joinedload(InspectionResponse.round))
            .with_for_update(of=InspectionResponse).execution_options(populate_existing=True))


def save_answers(response: InspectionResponse, answers: dict[int, AnswerInput], *, submit: bool = False,
                 now: datetime | None = None, locked: bool = False) -> InspectionResponse:
    """Save the given answers and, with ``submit``, submit the sheet. A submitted sheet stays submitted and
    every change counts at once. All or nothing. ``locked``: ``response`` was read by
    ``get_response(..., for_update=True)`` in this transaction, and is not read again.

    :raises InspectionRuleError: past the due date or closed, an item not in the round, a bad value, a
        いいえ without a comment, a submission with unanswered items.
    """
    now = now or utcnow()
    if not locked:
        response = _lock(response)
    if not is_editable(response, now):
        if response.round.status == RoundStatus.CLOSED and now < response.round.due_at:
            raise InspectionRuleError(_("この点検は締め切られたため、回答は変更できません。"))
        raise InspectionRuleError(_("期限を過ぎたため、この点検の回答は変更できません。"))
    allowed = set(response.round.item_ids or [])
    for item_id, answer in answers.items():
        if item_id not in allowed:
            raise InspectionRuleError(str(NOT_IN_ROUND))
        problem = answer_problem(answer)
        if problem:
            raise InspectionRuleError(problem, str(item_id))
    was_submitted = response.status == ResponseStatus.SUBMITTED
    # The answers given so far: all of them for a submission (what is missing, what is counted), else only
    # those of the items being saved (one, for a tap on a phone).
    existing = answers_of(response, None if submit or was_submitted else list(answers))
    if submit or was_submitted:
        missing = allowed - set(existing) - set(answers)
        if missing:
            raise InspectionRuleError(_("未回答の項目が%(n)d件あります。すべての項目に回答してから提出してください。",
                                        n=len(missing)))
    delta: dict[int, Counter] = {}
    for item_id, answer in answers.items():
        current = existing.get(item_id)
        if current is None:
            db.session.add(InspectionAnswer(organization_id=response.organization_id, response_id=response.id,
                                            round_id=response.round_id, item_id=item_id, value=answer.value,
                                            comment=answer.comment, answered_at=now))
        elif current.value != answer.value or current.comment != answer.comment:
            if was_submitted and current.value != answer.value:
                delta.setdefault(item_id, Counter())[current.value] -= 1
                delta.setdefault(item_id, Counter())[answer.value] += 1
            current.value, current.comment, current.answered_at = answer.value, answer.comment, now
    if submit and not was_submitted:
        final = {**{i: a.value for i, a in existing.items()}, **{i: a.value for i, a in answers.items()}}
        for item_id, value in final.items():
            if item_id in allowed:
                delta.setdefault(item_id, Counter())[value] += 1
        response.status = ResponseStatus.SUBMITTED
        response.submitted_at = now
    elif submit:
        response.submitted_at = now
    elif response.status == ResponseStatus.NOT_STARTED and answers:
        response.status = ResponseStatus.IN_PROGRESS
    response.updated_at = now
    db.session.flush()
    _apply_delta(response, delta)
    if submit:
        audit.record("inspection.submitted", target=response, round=response.round_id, again=was_submitted)
    return response


def _apply_delta(response: InspectionResponse, delta: dict[int, Counter]) -> None:
    """One UPDATE of the response's department's tally rows: ``count = count + CASE item ... END``."""
    delta = {i: c for i, c in delta.items() if any(c.values())}
    if not delta:
        return

    def column_delta(column, value):
        changes = {i: c[value] for i, c in delta.items() if c[value]}
        if not changes:
            return column
        return column + case(changes, value=InspectionTally.item_id, else_=0)

    department = (InspectionTally.department_id.is_(None) if response.department_id is None
                  else InspectionTally.department_id == response.department_id)
    target = (select(func.min(InspectionTally.id))
              .where(InspectionTally.round_id == response.round_id, department,
                     InspectionTally.item_id.in_(list(delta)))
              .group_by(InspectionTally.item_id))
    result = db.session.execute(
        update(InspectionTally)
        .where(InspectionTally.id.in_(target))
        .values(yes_count=column_delta(InspectionTally.yes_count, AnswerValue.YES),
                no_count=column_delta(InspectionTally.no_count, AnswerValue.NO),
                na_count=column_delta(InspectionTally.na_count, AnswerValue.NOT_APPLICABLE))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(delta):
        # No row for this department and item (launch writes them all; this only guards against a lost row):
        # write it with the change as its counts.
        have = set(db.session.scalars(select(InspectionTally.item_id).where(
            InspectionTally.round_id == response.round_id, department, InspectionTally.item_id.in_(list(delta)))))
        for item_id in set(delta) - have:
            counts = delta[item_id]
            db.session.add(InspectionTally(organization_id=response.organization_id, round_id=response.round_id,
                                           department_id=response.department_id, item_id=item_id,
                                           yes_count=counts[AnswerValue.YES], no_count=counts[AnswerValue.NO],
                                           na_count=counts[AnswerValue.NOT_APPLICABLE]))
        db.session.flush()


def sheet_title(response: InspectionResponse, tree: DepartmentTree | None = None) -> str:
    if response.subject == SELF_SUBJECT:
        return response.round.title
    name = (tree or DepartmentTree.load()).path(response.department_id) or _("（部署なし）")
    return _("%(title)s — %(team)s", title=response.round.title, team=name)


def team_names(responses: list[MySheet]) -> dict[int, str]:
    """Department paths of team sheets (one query when there are any)."""
    if not any(r.subject != SELF_SUBJECT for r in responses):
        return {}
    tree = DepartmentTree.load()
    return {r.id: tree.path(r.department_id) for r in responses if r.subject != SELF_SUBJECT}



@register_home_provider
def inspection_home_items(learner: User, history: int) -> list[HomeItem]:
    """Open sheets under 取り組むもの, submitted ones of open rounds under 完了, closed rounds under 履歴 (of
    which the newest ``history``: a closed round's date is the sheet's submission, or its closing)."""
    from flask import url_for

    sheets = [MySheet(*row) for row in db.session.execute(_home_sheets(), {"person_id": learner.id,
                                                                           "history": history})]
    labels = translated(RESPONSE_STATUS_LABELS)
    items = []
    for sheet in sheets:
        status, submitted_at, title = sheet.status, sheet.submitted_at, sheet.title
        round_status, due_at, closed_at = sheet.round_status, sheet.due_at, sheet.closed_at
        url = url_for("inspection_sheets.sheet", response_id=sheet.id)
        label = labels[status]
        if round_status == RoundStatus.CLOSED and status == ResponseStatus.SUBMITTED:
            items.append(HomeItem("history", "inspection", title, url, finished_at=submitted_at, status=label))
        elif round_status == RoundStatus.CLOSED:
            # Closed before it was submitted: the history shows the due date that went by, not a 完了.
            items.append(HomeItem("history", "inspection", title, url, due_at=due_at, finished_at=closed_at,
                                  status=label))
        elif status == ResponseStatus.SUBMITTED:
            # The round is still open: the sheet may change until its due date, which is what is shown.
            items.append(HomeItem("done", "inspection", title, url, due_at=due_at, finished_at=submitted_at,
                                  status=label))
        else:
            items.append(HomeItem("assigned", "inspection", title, url, due_at=due_at, status=label))
    return items
