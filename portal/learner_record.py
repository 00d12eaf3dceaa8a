"""A learner's record (研修・点検の記録): every training delivery, every inspection month, every corrective action.

The learners area shows it and exports it; training and inspections own the rows. The record is read here,
in the core, with model-level queries rather than through functions of those areas, because a blueprint may
not import another (``.importlinter``) and the record only reads columns those areas already keep up to date
(``Assignment.status``, ``attempts_count``, ``best_score``, ``passed_at``; the submitted いいえ answers; the
actions). A provider registry like :mod:`portal.home`'s would have had each area hand over rows of one
generic shape; the three sections have different columns and the inspections nest answers under months, so
the read model is plain and kept in one place instead.

Reading a record costs the same few statements whatever the length of the history: one per section, each
a join over the rows of that learner (``tests/test_query_counts.py``). Who may read it is the caller's
business: the learners area loads the learner with ``get_learner`` (tenant and manager scope) first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import (
    ActionStatus,
    AnswerValue,
    Assignment,
    AssignmentStatus,
    CorrectiveAction,
    Course,
    Delivery,
    InspectionAnswer,
    InspectionItem,
    InspectionResponse,
    InspectionRound,
    ResponseStatus,
    User,
)

# The same words as the training, inspection and follow-up screens (the same msgids, so one translation).
TRAINING_LABELS = {
    AssignmentStatus.NOT_STARTED: _l("未受講"),
    AssignmentStatus.IN_PROGRESS: _l("中断"),
    AssignmentStatus.FAILED: _l("不合格"),
    AssignmentStatus.PASSED: _l("合格"),
}
RESPONSE_LABELS = {
    ResponseStatus.NOT_STARTED: _l("未回答"),
    ResponseStatus.IN_PROGRESS: _l("回答中"),
    ResponseStatus.SUBMITTED: _l("提出済"),
}
ACTION_LABELS = {ActionStatus.OPEN: _l("未着手"), ActionStatus.IN_PROGRESS: _l("対応中"), ActionStatus.DONE: _l("完了")}


@dataclass(frozen=True)
class TrainingEntry:
    """One delivery sent to the learner, with the figures its results page counts."""

    assignment_id: int
    delivery_id: int
    delivery_title: str
    round_no: int
    course_title: str
    fiscal_year: int
    starts_at: datetime
    due_at: datetime
    status: str  # an AssignmentStatus
    attempts: int  # finished tests
    best_score: int | None
    passed_at: datetime | None
    late: bool
    certificate_code: str | None

    @property
    def status_label(self) -> str:
        return str(TRAINING_LABELS.get(self.status, self.status))


@dataclass(frozen=True)
class NoAnswer:
    """A いいえ of a submitted sheet, with its comment and the corrective action opened for it, if any."""

    answer_id: int
    category: str
    item_text: str
    comment: str
    action_id: int | None
    action_status: str | None

    @property
    def action_label(self) -> str:
        return str(ACTION_LABELS.get(self.action_status, "")) if self.action_status else ""


@dataclass
class InspectionMonth:
    """The learner's sheet of one round (点検回) of one 点検月; ``no_answers`` only once it is submitted."""

    response_id: int
    round_id: int
    month: date
    round_title: str
    status: str  # a ResponseStatus
    submitted_at: datetime | None
    due_at: datetime
    no_answers: list[NoAnswer] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return str(RESPONSE_LABELS.get(self.status, self.status))


@dataclass(frozen=True)
class ActionEntry:
    """A corrective action owned by the learner or opened for one of their いいえ answers."""

    id: int
    title: str
    status: str  # an ActionStatus
    due_on: date | None
    closed_at: datetime | None
    month: date
    round_title: str
    category: str
    item_text: str
    owner_id: int | None
    owner_name: str | None
    department_id: int | None
    assigned_to_learner: bool
    about_learners_answer: bool

    @property
    def status_label(self) -> str:
        return str(ACTION_LABELS.get(self.status, self.status))


@dataclass(frozen=True)
class LearnerRecord:
    learner: User
    training: list[TrainingEntry]
    inspections: list[InspectionMonth]
    actions: list[ActionEntry]

    @property
    def is_empty(self) -> bool:
        return not (self.training or self.inspections or self.actions)


def training_history(learner_id: int) -> list[TrainingEntry]:
    """Every delivery sent to the learner, the latest first (one statement)."""
    rows = db.session.execute(
        select(Assignment.id, Assignment.delivery_id, Delivery.title, Delivery.round_no, Course.title,
               Course.fiscal_year, Delivery.starts_at, Delivery.due_at, Assignment.status, Assignment.attempts_count,
               Assignment.best_score, Assignment.passed_at, Assignment.late, Assignment.certificate_code)
        .join(Delivery, Delivery.id == Assignment.delivery_id)
        .join(Course, Course.id == Delivery.course_id)
        .where(Assignment.learner_id == learner_id)
        .order_by(Delivery.starts_at.desc(), Delivery.id.desc())
    ).all()
    return [TrainingEntry(*row[:9], row[9] or 0, *row[10:]) for row in rows]


def inspection_history(learner_id: int) -> list[InspectionMonth]:
    """Every inspection sheet of the learner, the latest 点検月 first, each with its いいえ answers and their
    comments once submitted (two statements). Answers saved but not submitted may still change: not shown."""
    months = [
        InspectionMonth(*row)
        for row in db.session.execute(
            select(InspectionResponse.id, InspectionRound.id, InspectionRound.month, InspectionRound.title,
                   InspectionResponse.status, InspectionResponse.submitted_at, InspectionRound.due_at)
            .join(InspectionRound, InspectionRound.id == InspectionResponse.round_id)
            .where(InspectionResponse.respondent_id == learner_id)
            .order_by(InspectionRound.month.desc(), InspectionRound.id.desc())
        )
    ]
    answers: dict[int, list[NoAnswer]] = defaultdict(list)
    for response_id, *rest in db.session.execute(
        select(InspectionAnswer.response_id, InspectionAnswer.id, InspectionItem.category, InspectionItem.text,
               InspectionAnswer.comment, CorrectiveAction.id, CorrectiveAction.status)
        .join(InspectionResponse, InspectionResponse.id == InspectionAnswer.response_id)
        .join(InspectionItem, InspectionItem.id == InspectionAnswer.item_id)
        .outerjoin(CorrectiveAction, CorrectiveAction.answer_id == InspectionAnswer.id)
        .where(InspectionResponse.respondent_id == learner_id, InspectionResponse.status == ResponseStatus.SUBMITTED,
               InspectionAnswer.value == AnswerValue.NO)
        .order_by(InspectionItem.category, InspectionItem.position, InspectionAnswer.id)
    ):
        answers[response_id].append(NoAnswer(*rest))
    for month in months:
        month.no_answers = answers.get(month.response_id, [])
    return months


def action_history(learner_id: int) -> list[ActionEntry]:
    """Corrective actions the learner owns or that were opened for one of their answers, the latest 点検月
    first (one statement)."""
    owner = aliased(User)
    rows = db.session.execute(
        select(CorrectiveAction.id, CorrectiveAction.title, CorrectiveAction.status, CorrectiveAction.due_on,
               CorrectiveAction.closed_at, InspectionRound.month, InspectionRound.title, InspectionItem.category,
               InspectionItem.text, CorrectiveAction.owner_id, owner.name, CorrectiveAction.department_id,
               InspectionResponse.respondent_id)
        .join(InspectionRound, InspectionRound.id == CorrectiveAction.round_id)
        .join(InspectionItem, InspectionItem.id == CorrectiveAction.item_id)
        .outerjoin(InspectionAnswer, InspectionAnswer.id == CorrectiveAction.answer_id)
        .outerjoin(InspectionResponse, InspectionResponse.id == InspectionAnswer.response_id)
        .outerjoin(owner, owner.id == CorrectiveAction.owner_id)
        .where(or_(CorrectiveAction.owner_id == learner_id, InspectionResponse.respondent_id == learner_id))
        .order_by(InspectionRound.month.desc(), CorrectiveAction.id.desc())
    ).all()
    return [ActionEntry(*row[:12], assigned_to_learner=row[9] == learner_id,
                        about_learners_answer=row[12] == learner_id) for row in rows]


def learner_record(learner: User) -> LearnerRecord:
    """The learner's whole record in four statements, however long the history.

    The caller has checked that the signed-in user may see ``learner``; the tenant scope of the request
    still filters every row.
    """
    return LearnerRecord(learner, training_history(learner.id), inspection_history(learner.id),
                         action_history(learner.id))
