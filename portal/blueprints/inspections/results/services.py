"""Results of the inspection rounds, and the corrective actions (是正処置) opened from いいえ answers.

Figures come from :class:`~portal.models.InspectionTally` (counts of the submitted answers by round,
department and item, kept in step at each submission), never from a scan of the answers: twelve months of
a 10,000-person organization are a few thousand tally rows. Lists of people and of answers are paginated.

Compliance rate (遵守率) = はい / (はい + いいえ); 該当なし is left out, and the rate is undefined (shown
as —) when nobody answered はい or いいえ.

An item **fails month after month** (要注意) when its compliance rate was below :data:`FAILING_RATE` in
each of the last :data:`FAILING_MONTHS` consecutive 点検月 up to the month shown (each of those months
must have asked the item; a month without the item, or without answers, breaks the run).

A manager's figures, lists and exports cover the departments they look after and their sub-departments
(``InspectionResponse.department_id`` / ``InspectionTally.department_id``: the department the answers
count for); an administrator's cover everyone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, false, func, or_, select

from portal import audit
from portal.blueprints.inspections.items.services import category_rank
from portal.blueprints.inspections.rounds.services import get_round  # noqa: F401 (the views load rounds here)
from portal.clock import TOKYO, shift_month, this_month, today_in_tokyo, utcnow
from portal.departments import DepartmentTree, managed_department_ids
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import (
    ActionStatus,
    AnswerValue,
    CorrectiveAction,
    Course,
    InspectionAnswer,
    InspectionEdition,
    InspectionItem,
    InspectionResponse,
    InspectionRound,
    InspectionTally,
    ResponseStatus,
    Role,
    User,
)
from portal.pagination import Page, paginate_rows
from portal.rules import NotFound

WINDOW_MONTHS = 12
FAILING_RATE = 0.8
FAILING_MONTHS = 3
PER_PAGE = 50

ANSWER_LABELS = {AnswerValue.YES: _l("はい"), AnswerValue.NO: _l("いいえ"), AnswerValue.NOT_APPLICABLE: _l("該当なし")}
RESPONSE_LABELS = {ResponseStatus.NOT_STARTED: _l("未回答"), ResponseStatus.IN_PROGRESS: _l("回答中"),
                   ResponseStatus.SUBMITTED: _l("提出済")}
ACTION_LABELS = {ActionStatus.OPEN: _l("未着手"), ActionStatus.IN_PROGRESS: _l("対応中"), ActionStatus.DONE: _l("完了")}
# The list's status filter: "unfinished" (未着手 and 対応中) is the default view.
UNFINISHED = "unfinished"


# --- months --------------------------------------------------------------------------------------------


def month_window(end: date, months: int = WINDOW_MONTHS) -> list[date]:
    """The ``months`` months ending with ``end``, oldest first."""
    return [shift_month(end, k) for k in range(-months + 1, 1)]


def parse_month(value: str | None) -> date | None:
    """``2026-04`` as the first of that month; None for anything else (never an error)."""
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        if 2000 <= year <= 2999 and 1 <= month <= 12 and len(value) == 7:
            return date(year, month, 1)
    except ValueError:
        pass
    return None


# --- who sees what -------------------------------------------------------------------------------------


def visible_departments(user: User, tree: DepartmentTree) -> set[int] | None:
    """None for an administrator (everything, the answers of people without a department included);
    for a manager, the departments they look after with their sub-departments."""
    if user.role == Role.ORG_ADMIN:
        return None
    if user.role == Role.MANAGER:
        return managed_department_ids(user, tree)
    return set()


def _within(column, departments: set[int] | None) -> list:
    if departments is None:
        return []
    return [column.in_(sorted(departments))] if departments else [false()]


# --- figures -------------------------------------------------------------------------------------------


@dataclass
class Figures:
    yes: int = 0
    no: int = 0
    na: int = 0

    def add(self, yes: int, no: int, na: int) -> Figures:
        self.yes += yes or 0
        self.no += no or 0
        self.na += na or 0
        return self

    @property
    def answered(self) -> int:
        return self.yes + self.no + self.na

    @property
    def rate(self) -> float | None:
        """はい / (はい + いいえ); None when both are 0."""
        counted = self.yes + self.no
        return self.yes / counted if counted else None

    @property
    def percent(self) -> str:
        rate = self.rate
        return "—" if rate is None else f"{rate * 100:.0f}%"


@dataclass
class ItemRow:
    item: InspectionItem
    figures: Figures
    streak: int = 0  # consecutive months below FAILING_RATE, ending with the month shown

    @property
    def failing(self) -> bool:
        return self.streak >= FAILING_MONTHS


@dataclass
class DepartmentRow:
    department_id: int | None
    name: str
    depth: int
    figures: Figures


@dataclass
class MonthPoint:
    month: date
    figures: Figures
    asked: bool  # a round of the edition in this month


@dataclass
class Results:
    edition: InspectionEdition | None
    month: date | None
    trend: list[MonthPoint] = field(default_factory=list)
    items: list[ItemRow] = field(default_factory=list)
    categories: list[tuple[str, Figures]] = field(default_factory=list)
    departments: list[DepartmentRow] = field(default_factory=list)
    total: Figures = field(default_factory=Figures)
    rounds: list[tuple[InspectionRound, dict[str, int]]] = field(default_factory=list)

    @property
    def failing(self) -> list[ItemRow]:
        return [row for row in self.items if row.failing]


def editions_with_rounds() -> list[InspectionEdition]:
    """The editions this organization has held rounds of, most recently used first."""
    latest = (
        select(InspectionRound.edition_id, func.max(InspectionRound.month).label("latest"))
        .group_by(InspectionRound.edition_id)
        .subquery()
    )
    return list(
        db.session.scalars(
            select(InspectionEdition)
            .join(latest, latest.c.edition_id == InspectionEdition.id)
            .order_by(latest.c.latest.desc(), InspectionEdition.id)
        )
    )


def latest_month(edition_id: int, now: datetime | None = None) -> date | None:
    """The last 点検月 of the edition that is not in the future."""
    return db.session.scalar(
        select(func.max(InspectionRound.month)).where(
            InspectionRound.edition_id == edition_id, InspectionRound.month <= this_month(now)
        )
    )


def _tally_sums():
    return (func.sum(InspectionTally.yes_count), func.sum(InspectionTally.no_count),
            func.sum(InspectionTally.na_count))


def results(edition: InspectionEdition, month: date, departments: set[int] | None, tree: DepartmentTree) -> Results:
    """Every figure of the results page for ``edition`` and ``month``, in a fixed number of queries."""
    window = month_window(month)
    out = Results(edition=edition, month=month)
    by_month_item: dict[tuple[date, int], Figures] = {}
    asked_months: set[date] = set()
    for round_month, item_id, yes, no, na in db.session.execute(
        select(InspectionRound.month, InspectionTally.item_id, *_tally_sums())
        .join(InspectionRound, InspectionRound.id == InspectionTally.round_id)
        .where(InspectionRound.edition_id == edition.id, InspectionRound.month.between(window[0], window[-1]),
               *_within(InspectionTally.department_id, departments))
        .group_by(InspectionRound.month, InspectionTally.item_id)
    ):
        by_month_item[(round_month, item_id)] = Figures().add(yes, no, na)
        asked_months.add(round_month)
    asked_months.update(db.session.scalars(
        select(InspectionRound.month).where(InspectionRound.edition_id == edition.id,
                                            InspectionRound.month.between(window[0], window[-1])).distinct()
    ))
    month_totals: dict[date, Figures] = defaultdict(Figures)
    for (round_month, _item), figures in by_month_item.items():
        month_totals[round_month].add(figures.yes, figures.no, figures.na)
    out.trend = [MonthPoint(m, month_totals.get(m, Figures()), m in asked_months) for m in window]

    # The chosen month by department and item: departments, items and categories come from these rows.
    cells = db.session.execute(
        select(InspectionTally.department_id, InspectionTally.item_id, *_tally_sums())
        .join(InspectionRound, InspectionRound.id == InspectionTally.round_id)
        .where(InspectionRound.edition_id == edition.id, InspectionRound.month == month,
               *_within(InspectionTally.department_id, departments))
        .group_by(InspectionTally.department_id, InspectionTally.item_id)
    ).all()
    item_ids = sorted({item_id for _dep, item_id, *_counts in cells})
    items = {i.id: i for i in db.session.scalars(select(InspectionItem).where(InspectionItem.id.in_(item_ids)))} \
        if item_ids else {}
    by_item: dict[int, Figures] = defaultdict(Figures)
    by_department: dict[int | None, Figures] = defaultdict(Figures)
    for department_id, item_id, yes, no, na in cells:
        by_item[item_id].add(yes, no, na)
        by_department[department_id].add(yes, no, na)
        out.total.add(yes, no, na)
    rows = [ItemRow(items[i], by_item[i], _streak(by_month_item, i, month)) for i in item_ids if i in items]
    rows.sort(key=lambda r: (category_rank(r.item.category), r.item.category, r.item.position, r.item.id))
    out.items = rows
    categories: dict[str, Figures] = {}
    for row in rows:
        categories.setdefault(row.item.category, Figures()).add(row.figures.yes, row.figures.no, row.figures.na)
    out.categories = list(categories.items())
    out.departments = department_rows(by_department, tree, departments)
    out.rounds = rounds_of_month(edition.id, month, departments)
    return out


def _streak(by_month_item: dict[tuple[date, int], Figures], item_id: int, month: date) -> int:
    streak, current = 0, month
    while True:
        figures = by_month_item.get((current, item_id))
        rate = figures.rate if figures else None
        if rate is None or rate >= FAILING_RATE:
            return streak
        streak += 1
        current = shift_month(current, -1)


def department_rows(direct: dict[int | None, Figures], tree: DepartmentTree,
                    departments: set[int] | None) -> list[DepartmentRow]:
    """Each visible department with the figures of itself and every department below it (3 levels), in
    tree order; answers without a department last, for the administrator."""
    rolled: dict[int, Figures] = defaultdict(Figures)
    for department_id, figures in direct.items():
        current = tree.by_id.get(department_id) if department_id else None
        seen: set[int] = set()
        while current is not None and current.id not in seen:
            seen.add(current.id)
            rolled[current.id].add(figures.yes, figures.no, figures.na)
            current = tree.by_id.get(current.parent_id) if current.parent_id else None
    rows = []
    for department in tree.ordered():
        if departments is not None and department.id not in departments:
            continue
        rows.append(DepartmentRow(department.id, department.name, min(department.depth or 1, 3),
                                  rolled.get(department.id, Figures())))
    if departments is None and None in direct:
        rows.append(DepartmentRow(None, _("（部署なし）"), 1, direct[None]))
    return rows


def response_counts(round_ids: Iterable[int], departments: set[int] | None) -> dict[int, dict[str, int]]:
    """Per round, responses by status (and ``total``), in one query."""
    ids = list(round_ids)
    counts: dict[int, dict[str, int]] = {i: {"total": 0} for i in ids}
    if not ids:
        return counts
    statement = _counts_of_all() if departments is None else _counts(departments)
    for round_id, status, n in db.session.execute(statement, {"round_ids": ids}):
        counts[round_id][status] = n
        counts[round_id]["total"] += n
    return counts


def _counts(departments: set[int] | None) -> Select:
    return (select(InspectionResponse.round_id, InspectionResponse.status, func.count())
            .where(InspectionResponse.round_id.in_(bindparam("round_ids", expanding=True)),
                   *_within(InspectionResponse.department_id, departments))
            .group_by(InspectionResponse.round_id, InspectionResponse.status))


@cache
def _counts_of_all() -> Select:
    """Built once (#17): an administrator's (every department)."""
    return _counts(None)


def rounds_of_month(edition_id: int, month: date, departments: set[int] | None):
    rounds = list(db.session.scalars(
        select(InspectionRound).where(InspectionRound.edition_id == edition_id, InspectionRound.month == month)
        .order_by(InspectionRound.id)
    ))
    counts = response_counts((r.id for r in rounds), departments)
    return [(r, counts[r.id]) for r in rounds]


# --- one round -----------------------------------------------------------------------------------------


def round_items(inspection_round: InspectionRound, departments: set[int] | None) -> list[ItemRow]:
    """The round's items in their frozen order, with their figures."""
    statement = _item_sums_of_all() if departments is None else _item_sums(departments)
    sums = {item_id: Figures().add(yes, no, na)
            for item_id, yes, no, na in db.session.execute(statement, {"round_id": inspection_round.id})}
    ids = [int(i) for i in inspection_round.item_ids or []]
    items = {i.id: i for i in db.session.scalars(_items_by_id(), {"ids": ids})} if ids else {}
    return [ItemRow(items[i], sums.get(i, Figures())) for i in ids if i in items]


def _item_sums(departments: set[int] | None) -> Select:
    return (select(InspectionTally.item_id, *_tally_sums())
            .where(InspectionTally.round_id == bindparam("round_id"),
                   *_within(InspectionTally.department_id, departments))
            .group_by(InspectionTally.item_id))


@cache
def _item_sums_of_all() -> Select:
    """Built once (#17): an administrator's (every department)."""
    return _item_sums(None)


@cache
def _items_by_id() -> Select:
    return select(InspectionItem).where(InspectionItem.id.in_(bindparam("ids", expanding=True)))


def pending_responses(inspection_round: InspectionRound, departments: set[int] | None, page: int) -> Page:
    """Who has not submitted (未回答 first, then 回答中), a page at a time."""
    stmt = (
        select(InspectionResponse.id, InspectionResponse.status, InspectionResponse.department_id,
               InspectionResponse.subject, InspectionResponse.updated_at, User.login_id, User.name, User.email,
               User.id.label("respondent_id"), User.role.label("respondent_role"),
               User.department_id.label("respondent_department_id"))
        .join(User, User.id == InspectionResponse.respondent_id)
        .where(InspectionResponse.round_id == inspection_round.id,
               InspectionResponse.status != ResponseStatus.SUBMITTED,
               *_within(InspectionResponse.department_id, departments))
        .order_by(InspectionResponse.status.desc(), User.name, InspectionResponse.id)
    )
    return paginate_rows(stmt, page, PER_PAGE)


def _no_answers_stmt(round_ids, departments: set[int] | None, values=(AnswerValue.NO,)) -> Select:
    return (
        select(InspectionAnswer.id, InspectionAnswer.value, InspectionAnswer.comment, InspectionAnswer.answered_at,
               InspectionItem.category, InspectionItem.text, InspectionResponse.department_id,
               InspectionResponse.submitted_at, User.id.label("respondent_id"), User.login_id, User.name,
               User.role.label("respondent_role"), User.department_id.label("respondent_department_id"),
               CorrectiveAction.id.label("action_id"), CorrectiveAction.status.label("action_status"))
        .join(InspectionResponse, InspectionResponse.id == InspectionAnswer.response_id)
        .join(User, User.id == InspectionResponse.respondent_id)
        .join(InspectionItem, InspectionItem.id == InspectionAnswer.item_id)
        .outerjoin(CorrectiveAction, CorrectiveAction.answer_id == InspectionAnswer.id)
        .where(InspectionAnswer.round_id.in_(round_ids), InspectionAnswer.value.in_([str(v) for v in values]),
               InspectionResponse.status == ResponseStatus.SUBMITTED,
               *_within(InspectionResponse.department_id, departments))
    )


def no_answers(inspection_round: InspectionRound, departments: set[int] | None, page: int) -> Page:
    """The いいえ answers of submitted responses with their comments, a page at a time."""
    stmt = _no_answers_stmt([inspection_round.id], departments).order_by(
        InspectionItem.category, InspectionAnswer.item_id, User.name, InspectionAnswer.id
    )
    return paginate_rows(stmt, page, PER_PAGE)


# --- exports -------------------------------------------------------------------------------------------

FIGURES_HEADER = ["点検月", "版", "部署", "分類", "点検項目", "はい", "いいえ", "該当なし", "遵守率(%)"]
ANSWERS_HEADER = ["点検回", "点検月", "受講者ID", "氏名", "部署", "分類", "点検項目", "回答", "コメント", "提出日時"]
WHOLE = "（全体）"


def _rate_cell(figures: Figures) -> str:
    rate = figures.rate
    return "" if rate is None else f"{rate * 100:.1f}"


def figures_rows(edition_id: int, month: date, departments: set[int] | None) -> Iterator[list]:
    """集計: per 点検月 (the twelve months ending with ``month``), item and department, with a （全体） row
    per item first."""
    window = month_window(month)
    tree = DepartmentTree.load()
    edition = db.session.get(InspectionEdition, edition_id)
    cells = db.session.execute(
        select(InspectionRound.month, InspectionTally.item_id, InspectionTally.department_id, *_tally_sums())
        .join(InspectionRound, InspectionRound.id == InspectionTally.round_id)
        .where(InspectionRound.edition_id == edition_id, InspectionRound.month.between(window[0], window[-1]),
               *_within(InspectionTally.department_id, departments))
        .group_by(InspectionRound.month, InspectionTally.item_id, InspectionTally.department_id)
    ).all()
    items = {i.id: i for i in db.session.scalars(
        select(InspectionItem).where(InspectionItem.id.in_({c[1] for c in cells} or {0}))
    )}
    grouped: dict[tuple[date, int], list[tuple[str, Figures]]] = defaultdict(list)
    for round_month, item_id, department_id, yes, no, na in cells:
        name = tree.path(department_id) if department_id else "（部署なし）"
        grouped[(round_month, item_id)].append((name, Figures().add(yes, no, na)))

    def order(key):
        item = items.get(key[1])
        return (key[0], category_rank(item.category) if item else 99, item.position if item else 0, key[1])

    for key in sorted(grouped, key=order):
        round_month, item_id = key
        item = items.get(item_id)
        category, text = (item.category, item.text) if item else ("", "")
        whole = Figures()
        for _name, figures in grouped[key]:
            whole.add(figures.yes, figures.no, figures.na)
        label = edition.title if edition else ""
        for name, figures in [(WHOLE, whole), *sorted(grouped[key], key=lambda pair: pair[0])]:
            yield [round_month.strftime("%Y-%m"), label, name, category, text, figures.yes, figures.no, figures.na,
                   _rate_cell(figures)]


def answers_exported(inspection_round: InspectionRound, fmt: str) -> None:
    """Write down that a round's per-person answers (personal data) left the portal as a file."""
    audit.record("inspection.answers_exported", target=inspection_round, format=fmt)


def answers_rows(round_id: int, departments: set[int] | None) -> Iterator[list]:
    """回答: every answer of the round's submitted responses, read in pages while the download streams."""
    from portal.exports import TextCell

    tree = DepartmentTree.load()
    inspection_round = db.session.get(InspectionRound, round_id)
    stmt = _no_answers_stmt([round_id], departments, values=tuple(AnswerValue)).order_by(
        User.name, User.id, InspectionAnswer.item_id
    ).execution_options(yield_per=1000)
    labels = {str(k): str(v) for k, v in ANSWER_LABELS.items()}
    for row in db.session.execute(stmt):
        yield [inspection_round.title, inspection_round.month.strftime("%Y-%m"), TextCell(row.login_id or ""),
               row.name, tree.path(row.department_id) if row.department_id else "", row.category, row.text,
               labels.get(row.value, row.value), row.comment,
               row.submitted_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if row.submitted_at else ""]


# --- corrective actions (是正処置) ------------------------------------------------------------------------


class ActionRuleError(ValueError):
    """A change the follow-up rules refuse; ``field`` names the form field the message belongs to."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.field = field


@dataclass
class ActionInput:
    owner_id: int | None
    due_on: date | None
    status: str = ActionStatus.OPEN
    notes: str = ""
    title: str = ""
    course_id: int | None = None


def get_answer(answer_id: int) -> InspectionAnswer:
    """An answer of this organization. :raises NotFound: unknown, or another organization's."""
    answer = db.session.scalar(select(InspectionAnswer).where(InspectionAnswer.id == answer_id))
    if answer is None:
        raise NotFound
    return answer


def action_of_answer(answer_id: int) -> CorrectiveAction | None:
    return db.session.scalar(select(CorrectiveAction).where(CorrectiveAction.answer_id == answer_id))


def assignable_owners() -> list[User]:
    """The organization's active administrators and managers: who may own an action."""
    return list(db.session.scalars(
        select(User).where(User.role.in_([Role.ORG_ADMIN, Role.MANAGER]), User.is_active_flag.is_(True))
        .order_by(User.role.desc(), User.name, User.id)
    ))


def _check_owner(owner_id: int | None) -> User:
    owner = db.session.scalar(
        select(User).where(User.id == owner_id, User.role.in_([Role.ORG_ADMIN, Role.MANAGER]),
                           User.is_active_flag.is_(True))
    ) if owner_id else None
    if owner is None:
        raise ActionRuleError(_("担当者は、この組織の管理者またはマネージャーから選んでください。"), "owner_id")
    return owner


def _check_due(due_on: date | None, today: date) -> None:
    if due_on is None:
        raise ActionRuleError(_("期限を入力してください。"), "due_on")
    if due_on < today:
        raise ActionRuleError(_("期限には今日（%(today)s）以降の日付を入力してください。", today=today.isoformat()),
                              "due_on")


def _check_status(status: str) -> None:
    if status not in {s.value for s in ActionStatus}:
        raise ActionRuleError(_("状況は 未着手・対応中・完了 から選んでください。"), "status")


def open_action(answer: InspectionAnswer, data: ActionInput, *, by: User,
                now: datetime | None = None) -> CorrectiveAction:
    """A corrective action for a いいえ answer of a submitted response, optionally with a training
    delivery of ``data.course_id`` to the person who answered.

    :raises ActionRuleError: not a いいえ answer, not submitted yet, an action exists already, an owner
        who is not an administrator or manager of the organization, a due date before today, a course
        that cannot be delivered to that person.
    """
    now = now or utcnow()
    if answer.value != AnswerValue.NO:
        raise ActionRuleError(_("是正処置は「いいえ」の回答にだけ登録できます。"))
    response = answer.response
    if response.status != ResponseStatus.SUBMITTED:
        raise ActionRuleError(_("提出前の回答には是正処置を登録できません。提出されてから登録してください。"))
    if action_of_answer(answer.id) is not None:
        raise ActionRuleError(_("この回答には是正処置が登録済みです。"))
    owner = _check_owner(data.owner_id)
    _check_due(data.due_on, today_in_tokyo(now))
    _check_status(data.status)
    item = answer.item
    action = CorrectiveAction(
        organization_id=answer.organization_id, answer_id=answer.id, round_id=answer.round_id, item_id=answer.item_id,
        department_id=response.department_id, title=(data.title.strip() or item.text)[:200], owner_id=owner.id,
        due_on=data.due_on, status=data.status, notes=data.notes.strip(), created_by_id=by.id, created_at=now,
        updated_at=now, closed_at=now if data.status == ActionStatus.DONE else None,
    )
    db.session.add(action)
    db.session.flush()
    audit.record("inspection_action.created", target=action, answer=answer.id, owner=owner.id,
                 due_on=data.due_on.isoformat(), status=data.status)
    if data.course_id:
        assign_training(action, data.course_id, by=by, now=now)
    return action


def assign_training(action: CorrectiveAction, course_id: int, *, by: User, now: datetime | None = None) -> None:
    """Deliver the course to the person who answered いいえ (a training delivery to that learner alone).

    :raises ActionRuleError: a delivery exists already, the course is unknown, the person is not an
        active learner, or the course cannot be delivered (no questions).
    """
    from portal.blueprints.training.deliveries.services import DeliveryInput, DeliveryRuleError, create_delivery

    now = now or utcnow()
    if action.delivery_id:
        raise ActionRuleError(_("この是正処置では研修を割り当て済みです。"), "course_id")
    answer = db.session.get(InspectionAnswer, action.answer_id) if action.answer_id else None
    respondent = answer.response.respondent if answer else None
    if respondent is None or respondent.role != Role.LEARNER or not respondent.is_active_flag:
        raise ActionRuleError(_("「いいえ」と回答した人が有効な受講者ではないため、研修を割り当てられません。"),
                              "course_id")
    course = db.session.scalar(select(Course).where(Course.id == course_id))
    if course is None:
        raise ActionRuleError(_("講座を選び直してください。"), "course_id")
    due_at = datetime.combine(action.due_on, time(23, 59), tzinfo=TOKYO).astimezone(UTC) if action.due_on else None
    if due_at is None or due_at <= now + timedelta(hours=1):
        due_at = now + timedelta(days=14)
    data = DeliveryInput(course=course, title=f"是正: {action.title}"[:200], target_kind="learners",
                         department_ids=[], learner_ids=[respondent.id], starts_at=now, due_at=due_at,
                         reminder_days=[], window_start_hour=0, window_end_hour=24, business_days_only=False)
    try:
        delivery = create_delivery(data, by=by, now=now)
    except DeliveryRuleError as err:
        raise ActionRuleError(str(err), "course_id") from err
    action.delivery_id = delivery.id
    db.session.flush()
    audit.record("inspection_action.training_assigned", target=action, delivery=delivery.id, course=course.id,
                 learner=respondent.id)


def update_action(action: CorrectiveAction, data: ActionInput, *, by: User, now: datetime | None = None) -> None:
    """Change owner, due date, status, notes and title (an administrator).

    :raises ActionRuleError: an owner outside the organization's administrators and managers, a due date
        changed to a day before today, an unknown status.
    """
    now = now or utcnow()
    owner = _check_owner(data.owner_id)
    if data.due_on != action.due_on:
        _check_due(data.due_on, today_in_tokyo(now))
    _check_status(data.status)
    changes = {}
    title = (data.title.strip() or action.title)[:200]
    for name, value in (("owner_id", owner.id), ("due_on", data.due_on), ("status", data.status),
                        ("notes", data.notes.strip()), ("title", title)):
        if getattr(action, name) != value:
            changes[name] = value.isoformat() if isinstance(value, date) else value
            setattr(action, name, value)
    _finish(action, changes, now)
    if data.course_id:
        assign_training(action, data.course_id, by=by, now=now)


def update_progress(action: CorrectiveAction, *, status: str, notes: str, by: User,
                    now: datetime | None = None) -> None:
    """A manager's update: status and notes only."""
    now = now or utcnow()
    _check_status(status)
    changes = {}
    for name, value in (("status", status), ("notes", notes.strip())):
        if getattr(action, name) != value:
            changes[name] = value
            setattr(action, name, value)
    _finish(action, changes, now)


def _finish(action: CorrectiveAction, changes: dict, now: datetime) -> None:
    if not changes:
        return
    action.updated_at = now
    if "status" in changes:
        action.closed_at = now if action.status == ActionStatus.DONE else None
    db.session.flush()
    audit.record("inspection_action.updated", target=action,
                 **{k: (v if k != "notes" else len(v)) for k, v in changes.items()})


def actions_visible_to(user: User, departments: set[int] | None = None) -> list:
    """Criteria for the actions ``user`` may see: an administrator every one; a manager their own and their
    departments' (``departments``: the manager's departments when the caller has them already)."""
    if user.role == Role.ORG_ADMIN:
        return []
    if departments is None:
        departments = managed_department_ids(user)
    mine = CorrectiveAction.owner_id == user.id
    return [or_(mine, CorrectiveAction.department_id.in_(sorted(departments)))] if departments else [mine]


def get_action(action_id: int, user: User) -> CorrectiveAction:
    """The action if ``user`` may see it (a manager: their departments' and their own).
    :raises NotFound: otherwise."""
    action = db.session.scalar(
        select(CorrectiveAction).where(CorrectiveAction.id == action_id, *actions_visible_to(user))
    )
    if action is None:
        raise NotFound
    return action


def may_edit_everything(user: User) -> bool:
    return user.role == Role.ORG_ADMIN


def action_list(user: User, *, status: str = UNFINISHED, owner_id: int | None = None, overdue: bool = False,
                page: int = 1, now: datetime | None = None) -> Page:
    """The actions ``user`` may see, earliest due first, filtered by status and owner."""
    today = today_in_tokyo(now)
    stmt = (
        select(CorrectiveAction.id, CorrectiveAction.title, CorrectiveAction.status, CorrectiveAction.due_on,
               CorrectiveAction.department_id, CorrectiveAction.delivery_id, CorrectiveAction.created_at,
               InspectionItem.category, InspectionRound.month, User.name.label("owner_name"))
        .join(InspectionItem, InspectionItem.id == CorrectiveAction.item_id)
        .join(InspectionRound, InspectionRound.id == CorrectiveAction.round_id)
        .outerjoin(User, User.id == CorrectiveAction.owner_id)
        .where(*actions_visible_to(user))
        .order_by(CorrectiveAction.due_on.is_(None), CorrectiveAction.due_on, CorrectiveAction.id)
    )
    if status == UNFINISHED:
        stmt = stmt.where(CorrectiveAction.status != ActionStatus.DONE)
    elif status in {s.value for s in ActionStatus}:
        stmt = stmt.where(CorrectiveAction.status == status)
    if owner_id:
        stmt = stmt.where(CorrectiveAction.owner_id == owner_id)
    if overdue:
        stmt = stmt.where(CorrectiveAction.status != ActionStatus.DONE, CorrectiveAction.due_on < today)
    return paginate_rows(stmt, page, PER_PAGE)


def is_overdue(status: str, due_on: date | None, today: date) -> bool:
    return status != ActionStatus.DONE and due_on is not None and due_on < today
