"""Deliveries (配信): targets, launch, personal links, reminders, recurring rounds, results.

Launching writes every assignment and every invitation with one bulk INSERT each: the email is rendered
once per delivery with placeholders, and each learner's name and personal link are substituted in.
Each invitation is queued with ``next_attempt_at`` inside the delivery's sending window, so the worker
holds it until the window opens.

The generic parts (sending window, targets, bulk email, reminder times, personal-link secrets in the
``training-link`` namespace) are in :mod:`portal.sending`, shared with the inspection rounds. Personal links
are derived, not stored; only their SHA-256 is kept on the assignment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Integer, and_, case, func, select, update
from sqlalchemy import cast as sa_cast

from portal import audit, sending
from portal.blueprints.courses.services import course_name, question_count
from portal.blueprints.quizzes.services import STATUS_LABELS, link_digest
from portal.clock import TOKYO, add_months, utcnow
from portal.departments import DepartmentTree
from portal.extensions import db
from portal.jobs import periodic
from portal.models import (
    Assignment,
    AssignmentStatus,
    Attempt,
    AttemptAnswer,
    AttemptState,
    Course,
    Delivery,
    DeliveryStatus,
    OutboxMessage,
    Question,
    Recurrence,
    Role,
    TargetKind,
    User,
)
from portal.sending import (
    MAX_REMINDERS,
    RECURRENCE_MONTHS,
    _insert_ignoring_duplicates,
    next_send_time,
)
from portal.tenancy import unscoped

_LINK_NAMESPACE = "training-link"


class DeliveryRuleError(ValueError):
    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.field = field


# --- links ----------------------------------------------------------------------------------------------


def personal_link_secret(delivery: Delivery, learner_id: int) -> str:
    return sending.personal_link_secret(_LINK_NAMESPACE, delivery, learner_id)


# --- creating and launching ----------------------------------------------------------------------------


@dataclass
class DeliveryInput:
    course: Course
    title: str
    target_kind: str
    department_ids: list[int]
    learner_ids: list[int]
    starts_at: datetime
    due_at: datetime
    reminder_days: list[int]
    window_start_hour: int = 9
    window_end_hour: int = 18
    business_days_only: bool = True
    recurrence: str = Recurrence.NONE


def _check(data: DeliveryInput) -> None:
    if data.due_at <= data.starts_at:
        raise DeliveryRuleError(_("期限は開始日時より後にしてください。"), "due_at")
    if len(data.reminder_days) > MAX_REMINDERS:
        raise DeliveryRuleError(_("リマインドは5回までです。"), "reminder_days")
    if not 0 <= data.window_start_hour < data.window_end_hour <= 24:
        raise DeliveryRuleError(_("送信時間帯は開始時刻を終了時刻より前にしてください。"), "window_start_hour")
    if question_count(data.course) == 0:
        raise DeliveryRuleError(
            _("この講座にはまだ問題がありません。問題を登録してから配信してください。"), "course_id"
        )
    if data.target_kind == TargetKind.DEPARTMENTS and not data.department_ids:
        raise DeliveryRuleError(_("対象の部署を選んでください。"), "department_ids")
    if data.target_kind == TargetKind.LEARNERS and not data.learner_ids:
        raise DeliveryRuleError(_("対象の受講者を選んでください。"), "learner_ids")


def create_delivery(data: DeliveryInput, *, by: User, now: datetime | None = None) -> Delivery:
    """A scheduled delivery; launched at once when its start has come.

    :raises DeliveryRuleError: due before start, more than 5 reminders, a course without questions,
        no target, no learner in the targets.
    """
    now = now or utcnow()
    _check(data)
    delivery = Delivery(
        organization_id=by.organization_id,
        course_id=data.course.id,
        title=data.title.strip() or course_name(data.course),
        **sending.schedule_columns(data, data.learner_ids),
        created_by_id=by.id,
    )
    db.session.add(delivery)
    db.session.flush()
    if not target_learners(delivery):
        raise DeliveryRuleError(_("対象に受講者がいません。対象を見直してください。"), "target_kind")
    audit.record("training.delivery_created", target=delivery, course=data.course.id, starts_at=str(data.starts_at))
    if delivery.starts_at <= now:
        launch_delivery(delivery, now=now)
    return delivery


def target_learners(delivery: Delivery) -> list[tuple[int, str | None, str, int | None]]:
    """(id, email, name, department id) of the active learners the delivery is for."""
    return sending.target_people(delivery, Role.LEARNER)


class _BulkEmail(sending.BulkEmail):
    """A training email rendered once, with each learner's name and personal link substituted in."""

    def __init__(self, template: str, delivery: Delivery, **context):
        super().__init__(template, organization_id=delivery.organization_id, link_endpoint="training_links.landing",
                         delivery=delivery, course=delivery.course, **context)

    def row(self, key: str, delivery: Delivery, learner_id: int, email: str, name: str,  # type: ignore[override]
            send_at: datetime) -> dict:
        return super().row(key, person_id=learner_id, email=email, name=name,
                           token=personal_link_secret(delivery, learner_id), send_at=send_at)


def launch_delivery(delivery: Delivery, *, now: datetime | None = None) -> int:
    """Assign every target learner and queue their invitations; returns how many were assigned.

    Safe to call twice or from two processes: only the call that moves the delivery from scheduled to
    launched does the work.
    """
    now = now or utcnow()
    if not sending.claim_launch(delivery, DeliveryStatus.SCHEDULED, DeliveryStatus.LAUNCHED, now):
        return 0
    learners = target_learners(delivery)
    _insert_ignoring_duplicates(
        Assignment.__table__,
        [
            {"organization_id": delivery.organization_id, "delivery_id": delivery.id, "learner_id": learner_id,
             "department_id": department_id, "link_hash": link_digest(personal_link_secret(delivery, learner_id)),
             "status": AssignmentStatus.NOT_STARTED, "attempts_count": 0, "late": False}
            for learner_id, _email, _name, department_id in learners
        ],
        ["delivery_id", "learner_id"],
    )
    email = _BulkEmail("training_invitation", delivery)
    send_at = next_send_time(delivery, now)
    _insert_ignoring_duplicates(
        OutboxMessage.__table__,
        [
            email.row(f"delivery:{delivery.id}:invitation:{learner_id}", delivery, learner_id, address, name, send_at)
            for learner_id, address, name, _department in learners
            if address
        ],
        ["idempotency_key"],
    )
    if delivery.recurrence in RECURRENCE_MONTHS:
        schedule_next_round(delivery)
    audit.record("training.delivery_launched", target=delivery, learners=len(learners))
    return len(learners)


def schedule_next_round(delivery: Delivery) -> Delivery | None:
    """The next round of a recurring delivery (once; the unique previous_round_id guards it)."""
    if db.session.scalar(select(Delivery.id).where(Delivery.previous_round_id == delivery.id)):
        return None
    months = RECURRENCE_MONTHS[Recurrence(delivery.recurrence)]
    following = Delivery(
        organization_id=delivery.organization_id,
        course_id=delivery.course_id,
        title=delivery.title,
        target_kind=delivery.target_kind,
        target_department_ids=list(delivery.target_department_ids),
        target_learner_ids=list(delivery.target_learner_ids),
        starts_at=add_months(delivery.starts_at, months),
        due_at=add_months(delivery.due_at, months),
        reminder_days=list(delivery.reminder_days),
        window_start_hour=delivery.window_start_hour,
        window_end_hour=delivery.window_end_hour,
        business_days_only=delivery.business_days_only,
        recurrence=delivery.recurrence,
        round_no=delivery.round_no + 1,
        previous_round_id=delivery.id,
        created_by_id=delivery.created_by_id,
    )
    db.session.add(following)
    db.session.flush()
    audit.record("training.round_scheduled", target=following, previous=delivery.id, round=following.round_no)
    return following


def close_delivery(delivery: Delivery) -> None:
    """Stop the delivery: links stop working and no more reminders go out."""
    delivery.status = DeliveryStatus.CLOSED
    db.session.flush()
    audit.record("training.delivery_closed", target=delivery)


# --- reminders -----------------------------------------------------------------------------------------


def _unfinished(delivery: Delivery) -> list[tuple[int, str | None, str]]:
    rows = db.session.execute(
        select(User.id, User.email, User.name)
        .join(Assignment, Assignment.learner_id == User.id)
        .where(Assignment.delivery_id == delivery.id, Assignment.status != AssignmentStatus.PASSED,
               User.is_active_flag.is_(True))
        .order_by(User.id)
    )
    return [tuple(r) for r in rows]


def send_due_reminders(delivery: Delivery, now: datetime) -> int:
    """Queue the reminders whose time has come (each once); returns how many emails were queued."""

    def send(number: int, overdue: bool) -> int:
        email = _BulkEmail("training_reminder", delivery, overdue=overdue)
        send_at = next_send_time(delivery, now)
        rows = [
            email.row(f"delivery:{delivery.id}:reminder:{number}:{learner_id}", delivery, learner_id, address, name,
                      send_at)
            for learner_id, address, name in _unfinished(delivery)
            if address
        ]
        _insert_ignoring_duplicates(OutboxMessage.__table__, rows, ["idempotency_key"])
        audit.record("training.reminder_sent", target=delivery, number=number, emails=len(rows), actor=None)
        return len(rows)

    return sending.send_due_reminders(delivery, now, send)


def remind_now(delivery: Delivery, *, now: datetime | None = None) -> int:
    """The administrator's one-click reminder to everyone not yet passed; once per learner per day."""
    now = now or utcnow()
    today = now.astimezone(TOKYO).date()
    if delivery.status != DeliveryStatus.LAUNCHED:
        raise DeliveryRuleError(_("配信中の配信にだけリマインドを送れます。"))
    learners = list(db.session.execute(
            select(User.id, User.email, User.name)
            .join(Assignment, Assignment.learner_id == User.id)
            .where(Assignment.delivery_id == delivery.id, Assignment.status != AssignmentStatus.PASSED,
                   User.is_active_flag.is_(True),
                   (Assignment.last_manual_reminder_on.is_(None)) | (Assignment.last_manual_reminder_on != today))
        ))
    email = _BulkEmail("training_reminder", delivery, overdue=now > delivery.due_at)
    send_at = next_send_time(delivery, now)
    rows = [email.row(f"delivery:{delivery.id}:manual:{today.isoformat()}:{learner_id}", delivery, learner_id,
                      address, name, send_at)
            for learner_id, address, name in learners if address]
    _insert_ignoring_duplicates(OutboxMessage.__table__, rows, ["idempotency_key"])
    db.session.execute(
        update(Assignment)
        .where(Assignment.delivery_id == delivery.id, Assignment.status != AssignmentStatus.PASSED,
               Assignment.last_manual_reminder_on.is_(None) | (Assignment.last_manual_reminder_on != today))
        .values(last_manual_reminder_on=today)
        .execution_options(synchronize_session=False)
    )
    audit.record("training.reminder_manual", target=delivery, emails=len(rows))
    return len(rows)


@periodic("training.deliveries", every=timedelta(minutes=1))
def run_deliveries(now: datetime) -> None:
    """Launch deliveries whose start has come (recurring ones schedule their next round) and send the
    reminders that are due. Safe to run twice."""
    with unscoped():
        due = db.session.scalars(
            select(Delivery).where(Delivery.status == DeliveryStatus.SCHEDULED, Delivery.starts_at <= now)
        ).all()
        for delivery in due:
            launch_delivery(delivery, now=now)
        for delivery in db.session.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.LAUNCHED)):
            if delivery.reminders_sent < len(delivery.reminder_days or []):
                send_due_reminders(delivery, now)


# --- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentRow:
    department_id: int | None
    name: str
    assigned: int
    finished: int
    passed: int
    in_progress: int

    @property
    def completion_rate(self) -> float:
        return self.finished / self.assigned if self.assigned else 0.0

    @property
    def pass_rate(self) -> float:
        return self.passed / self.assigned if self.assigned else 0.0


def _count(status) -> object:
    return func.sum(case((Assignment.status == status, 1), else_=0))


def _learner_criteria(learners) -> list:
    """Criteria limiting assignments to ``learners`` (a select of user ids; None: everyone)."""
    return [] if learners is None else [Assignment.learner_id.in_(learners)]


def department_summary(delivery_ids_stmt, tree: DepartmentTree, learners=None) -> tuple[list[DepartmentRow],
                                                                                     DepartmentRow]:
    """Completion (finished the test at least once) and pass rates by department, and the total, in one query.

    ``learners`` (a select of user ids) narrows it, for a manager's departments.
    """
    rows = db.session.execute(
        select(
            Assignment.department_id,
            func.count(Assignment.id),
            func.sum(case((Assignment.status.in_([AssignmentStatus.PASSED, AssignmentStatus.FAILED]), 1), else_=0)),
            _count(AssignmentStatus.PASSED),
            _count(AssignmentStatus.IN_PROGRESS),
        )
        .where(Assignment.delivery_id.in_(delivery_ids_stmt))
        .group_by(Assignment.department_id)
        .where(*_learner_criteria(learners))
    ).all()
    out = [
        DepartmentRow(dep, tree.path(dep) if dep else _("（部署なし）"), n or 0, f or 0, p or 0, i or 0)
        for dep, n, f, p, i in rows
    ]
    out.sort(key=lambda r: r.name)
    total = DepartmentRow(None, _("合計"), sum(r.assigned for r in out), sum(r.finished for r in out),
                          sum(r.passed for r in out), sum(r.in_progress for r in out))
    return out, total


def unfinished_learners(delivery: Delivery, limit: int = 200, learners=None) -> list:
    """Who has not passed yet (未受講, 中断, 不合格), at most ``limit`` rows, in one query."""
    return db.session.execute(
        select(User.id, User.login_id, User.name, User.email, Assignment.department_id, Assignment.status,
               Assignment.best_score, Assignment.attempts_count, Assignment.last_manual_reminder_on)
        .join(User, User.id == Assignment.learner_id)
        .where(Assignment.delivery_id == delivery.id, Assignment.status != AssignmentStatus.PASSED,
               *_learner_criteria(learners))
        .order_by(Assignment.status, User.name, User.id)
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class ItemRow:
    question_id: int
    text: str
    category: str
    answered: int
    difficulty: float | None  # p: the share of answers that were right
    discrimination: float | None  # upper 27% minus lower 27% correctness


def item_analysis(delivery_ids_stmt, learners=None) -> list[ItemRow]:
    """Per question of the finished attempts: difficulty p and discrimination D (upper minus lower 27%,
    attempts ranked by score), in one aggregate query plus one for the question texts."""
    ranked = (
        select(
            Attempt.id.label("attempt_id"),
            func.row_number().over(order_by=(Attempt.score.desc(), Attempt.id)).label("rn"),
            func.count().over().label("n"),
        )
        .join(Assignment, Assignment.id == Attempt.assignment_id)
        .where(Assignment.delivery_id.in_(delivery_ids_stmt), Attempt.state == AttemptState.FINISHED,
               *_learner_criteria(learners))
        .subquery()
    )
    k = (ranked.c.n * 27 + 99) // 100  # ceil(27% of n) in integer arithmetic on both databases
    upper = ranked.c.rn <= k
    lower = ranked.c.rn > ranked.c.n - k
    right = sa_cast(AttemptAnswer.correct, Integer)
    rows = db.session.execute(
        select(
            AttemptAnswer.question_id,
            func.count(),
            func.sum(right),
            func.sum(case((upper, 1), else_=0)),
            func.sum(case((and_(upper, AttemptAnswer.correct.is_(True)), 1), else_=0)),
            func.sum(case((lower, 1), else_=0)),
            func.sum(case((and_(lower, AttemptAnswer.correct.is_(True)), 1), else_=0)),
        )
        .join(ranked, ranked.c.attempt_id == AttemptAnswer.attempt_id)
        .group_by(AttemptAnswer.question_id)
    ).all()
    texts = {
        q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_([r[0] for r in rows])))
    } if rows else {}
    out = []
    for question_id, answered, correct, n_up, c_up, n_low, c_low in rows:
        question = texts.get(question_id)
        p = (correct or 0) / answered if answered else None
        d = (c_up / n_up - c_low / n_low) if n_up and n_low else None
        out.append(ItemRow(question_id, question.text if question else "", question.category if question else "",
                           answered, p, d))
    out.sort(key=lambda r: (r.difficulty if r.difficulty is not None else 2, r.question_id))
    return out


def deliveries_of_course(course_id: int):
    return select(Delivery.id).where(Delivery.course_id == course_id)


EXPORT_HEADER = ["配信", "講座", "年度", "受講者ID", "氏名", "メールアドレス", "部署", "状態", "最高点", "受験回数",
                 "合格日時", "期限後", "修了証コード"]


def export_rows(delivery_ids: list[int], learners=None) -> Iterator[list]:
    """受講記録: one row per learner and delivery, read in pages while the download streams."""
    from portal.exports import TextCell

    tree = DepartmentTree.load()
    stmt = (
        select(Delivery.title, Course.title, Course.fiscal_year, User.login_id, User.name, User.email,
               Assignment.department_id, Assignment.status, Assignment.best_score, Assignment.attempts_count,
               Assignment.passed_at, Assignment.late, Assignment.certificate_code)
        .join(Delivery, Delivery.id == Assignment.delivery_id)
        .join(Course, Course.id == Delivery.course_id)
        .join(User, User.id == Assignment.learner_id)
        .where(Assignment.delivery_id.in_(delivery_ids), *_learner_criteria(learners))
        .order_by(Delivery.id, User.name, User.id)
        .execution_options(yield_per=1000)
    )
    for row in db.session.execute(stmt):
        (title, course, year, login_id, name, email, dep, status, best, count, passed_at, late, code) = row
        yield [title, course, year, TextCell(login_id or ""), name, email or "", tree.path(dep) if dep else "",
               str(STATUS_LABELS[AssignmentStatus(status)]), "" if best is None else best, count,
               passed_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if passed_at else "",
               "期限後" if late else "", code or ""]


def delivery_list() -> list[Delivery]:
    return list(db.session.scalars(select(Delivery).order_by(Delivery.starts_at.desc(), Delivery.id.desc())))


def status_counts(delivery_ids: Iterable[int], learners=None) -> dict[int, dict[str, int]]:
    """Per delivery, learners by status (one query) for the delivery list."""
    counts: dict[int, dict[str, int]] = {}
    ids = list(delivery_ids)
    if not ids:
        return counts
    for delivery_id, status, n in db.session.execute(
        select(Assignment.delivery_id, Assignment.status, func.count())
        .where(Assignment.delivery_id.in_(ids), *_learner_criteria(learners))
        .group_by(Assignment.delivery_id, Assignment.status)
    ):
        counts.setdefault(delivery_id, {})[status] = n
    return counts
