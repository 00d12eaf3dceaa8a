"""Deliveries (配信): targets, launch, personal links, reminders, recurring rounds, results.

Launching writes every assignment and every invitation with one bulk INSERT each: the email is rendered
once per delivery with placeholders, and each learner's name and personal link are substituted in.
Each invitation is queued with ``next_attempt_at`` inside the delivery's sending window, so the worker
holds it until the window opens.

The generic parts (sending window, targets, bulk email, reminder times, personal-link secrets in the
``training-link`` namespace) are in :mod:`portal.sending`, shared with the inspection rounds. Personal links
are derived, not stored; only their SHA-256 is kept on the assignment.

Every email of a delivery carries its outbox topic (``delivery:<id>``): the delivery page counts them, and
those still waiting are cancelled when the delivery closes (and, for one learner, when that learner passes).
Overdue learners' managers are told ``escalate_after_days`` after the due date, then weekly (escalations).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, case, func, select, update

from portal import audit, certificates, item_counts, outbox, sending
from portal.blueprints.training.courses.services import course_name, question_count
from portal.blueprints.training.quizzes.services import STATUS_LABELS, link_digest
from portal.clock import TOKYO, as_utc, today_in_tokyo, utcnow
from portal.contracts import refuse_before_start
from portal.departments import DepartmentTree
from portal.extensions import db
from portal.jobs import periodic
from portal.models import (
    Assignment,
    AssignmentStatus,
    Course,
    Delivery,
    DeliveryEscalation,
    DeliveryStatus,
    ManagerDepartment,
    OutboxMessage,
    Question,
    Recurrence,
    Role,
    TargetKind,
    User,
)
from portal.outbox import external_url, queue_email
from portal.pagination import Page, paginate_rows
from portal.rules import RuleViolation
from portal.sending import (
    MAX_REMINDERS,
    RECURRENCE_MONTHS,
    _insert_ignoring_duplicates,
    next_send_time,
)
from portal.tenancy import tenant_scope, unscoped

_LINK_NAMESPACE = "training-link"
MAX_ESCALATE_AFTER_DAYS = 60
# An escalation email names at most this many people; the page behind its link shows them all.
ESCALATION_LIST_LIMIT = 100


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
    escalate_after_days: int = 3


def _check(data: DeliveryInput) -> None:
    if data.due_at <= data.starts_at:
        raise DeliveryRuleError(_("期限は開始日時より後にしてください。"), "due_at")
    if len(data.reminder_days) > MAX_REMINDERS:
        raise DeliveryRuleError(_("リマインドは5回までです。"), "reminder_days")
    if not 0 <= data.window_start_hour < data.window_end_hour <= 24:
        raise DeliveryRuleError(_("送信時間帯は開始時刻を終了時刻より前にしてください。"), "window_start_hour")
    if not 0 <= data.escalate_after_days <= MAX_ESCALATE_AFTER_DAYS:
        raise DeliveryRuleError(_("上長に知らせるまでの日数は0から60までにしてください。"), "escalate_after_days")
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
    try:
        refuse_before_start(by.organization_id, data.starts_at)
    except RuleViolation as refusal:
        raise DeliveryRuleError(str(refusal), "starts_at") from refusal
    delivery = Delivery(
        organization_id=by.organization_id,
        course_id=data.course.id,
        title=data.title.strip() or course_name(data.course),
        **sending.schedule_columns(data, data.learner_ids),
        escalate_after_days=data.escalate_after_days,
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
                         topic=delivery.outbox_topic, delivery=delivery, course=delivery.course, **context)

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
        escalate_after_days=delivery.escalate_after_days,
        **sending.next_round_columns(delivery, months),
    )
    db.session.add(following)
    db.session.flush()
    audit.record("training.round_scheduled", target=following, previous=delivery.id, round=following.round_no)
    return following


def close_delivery(delivery: Delivery, *, now: datetime | None = None) -> None:
    """Stop the delivery: links stop working, no more reminders go out, and its emails still waiting (for
    the sending window, say) are cancelled: their links would no longer open anything."""
    delivery.status = DeliveryStatus.CLOSED
    db.session.flush()
    cancelled = outbox.cancel_pending(delivery.outbox_topic, now or utcnow(), reason="delivery closed")
    audit.record("training.delivery_closed", target=delivery, emails_cancelled=cancelled)


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


@dataclass(frozen=True)
class Reminded:
    """What a reminder by hand did: emails queued, and learners left out because they have no address."""

    queued: int
    without_email: int


def remind_now(delivery: Delivery, *, now: datetime | None = None) -> Reminded:
    """The administrator's one-click reminder to everyone not yet passed; once per learner per day (a
    learner reminded on their own today is not reminded again)."""
    now = now or utcnow()
    today = today_in_tokyo(now)
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
    without_email = sum(1 for _id, address, _name in learners if not address)
    db.session.execute(
        update(Assignment)
        .where(Assignment.delivery_id == delivery.id, Assignment.status != AssignmentStatus.PASSED,
               Assignment.last_manual_reminder_on.is_(None) | (Assignment.last_manual_reminder_on != today))
        .values(last_manual_reminder_on=today)
        .execution_options(synchronize_session=False)
    )
    audit.record("training.reminder_manual", target=delivery, emails=len(rows))
    return Reminded(len(rows), without_email)


def remind_one(assignment: Assignment, *, now: datetime | None = None) -> datetime:
    """Remind one learner who has not passed; returns when the email goes out (the delivery's sending
    window holds it until then, as it holds every reminder).

    At most once a day per learner and delivery, shared with the reminder to everyone: the same email
    (one idempotency key), so a double click, a second administrator or the button for everyone sends
    nothing more that day.

    :raises RuleViolation: the delivery is not running; the learner passed, is deactivated, was reminded
        today, has no email address, or their address (or the organization) is suppressed.
    """
    now = now or utcnow()
    today = today_in_tokyo(now)
    delivery, learner = assignment.delivery, assignment.learner
    if delivery.status != DeliveryStatus.LAUNCHED:
        raise RuleViolation(_("配信中の配信にだけリマインドを送れます。"))
    if assignment.status == AssignmentStatus.PASSED:
        raise RuleViolation(_("%(name)sさんは合格済みです。", name=learner.name))
    if not learner.is_active_flag:
        raise RuleViolation(_("%(name)sさんは無効になっているため、リマインドを送れません。", name=learner.name))
    if assignment.last_manual_reminder_on == today:
        raise RuleViolation(
            _("%(name)sさんには本日すでにリマインドを送りました（同じ人には1日1回まで）。", name=learner.name)
        )
    if not learner.email:
        raise RuleViolation(_("%(name)sさんはメールアドレスが登録されていないため、メールは送れません。"
                              "ログインするとホームに研修が表示されます。", name=learner.name))
    if outbox.is_suppressed(learner.email, delivery.organization_id):
        raise RuleViolation(_("%(name)sさんのアドレスへのメールは配信停止中のため送れません。", name=learner.name))
    send_at = next_send_time(delivery, now)
    email = _BulkEmail("training_reminder", delivery, overdue=now > delivery.due_at)
    sending.queue_rows([email.row(f"delivery:{delivery.id}:manual:{today.isoformat()}:{learner.id}", delivery,
                                  learner.id, learner.email, learner.name, send_at)])
    assignment.last_manual_reminder_on = today
    db.session.flush()
    audit.record("training.reminder_one", target=delivery, learner=learner.id, send_at=send_at.isoformat())
    return send_at


@periodic("training.deliveries", every=timedelta(minutes=1))
def run_deliveries(now: datetime) -> None:
    """Launch deliveries whose start has come (recurring ones schedule their next round) and send the
    reminders that are due. Safe to run twice."""
    with unscoped("a worker job covers every organization"):
        due = db.session.scalars(
            select(Delivery).where(Delivery.status == DeliveryStatus.SCHEDULED, Delivery.starts_at <= now)
        ).all()
        for delivery in due:
            launch_delivery(delivery, now=now)
        for delivery in db.session.scalars(select(Delivery).where(Delivery.status == DeliveryStatus.LAUNCHED)):
            if delivery.reminders_sent < len(delivery.reminder_days or []):
                send_due_reminders(delivery, now)


# --- escalation to the managers -------------------------------------------------------------------------


def escalation_round(delivery: Delivery, now: datetime) -> int | None:
    """Which weekly escalation round is current: 0 from ``escalate_after_days`` after the due date, 1 a week
    later, and so on; None before the first (or when the delivery never escalates)."""
    if not delivery.escalate_after_days:
        return None
    first = delivery.due_at + timedelta(days=delivery.escalate_after_days)
    if now < first:
        return None
    return (now - first) // timedelta(days=7)


@periodic("training.escalations", every=timedelta(minutes=15))
def run_escalations(now: datetime) -> int:
    """Tell each manager, once per round, who among their departments' learners has still not passed a
    delivery that is overdue (one email per manager and delivery); returns the emails queued. Safe to run
    twice or from two workers: a round is claimed by one UPDATE of the delivery."""
    # Deliveries of every organization are looked at; each one's escalation runs in its organization's scope.
    with unscoped("a worker job covers every organization"):
        candidates = db.session.execute(
            select(Delivery.id, Delivery.organization_id, Delivery.due_at, Delivery.escalate_after_days,
                   Delivery.escalation_rounds)
            .where(Delivery.status == DeliveryStatus.LAUNCHED, Delivery.escalate_after_days > 0,
                   Delivery.due_at < now)
        ).all()
    queued = 0
    for row in candidates:
        number = escalation_round(row, now)
        if number is None or row.escalation_rounds > number:
            continue
        with tenant_scope(row.organization_id):
            queued += escalate(db.session.get(Delivery, row.id), number, now)
    return queued


def _claim_escalation(delivery: Delivery, number: int) -> bool:
    moved = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.escalation_rounds <= number)
        .values(escalation_rounds=number + 1)
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1


def escalate(delivery: Delivery, number: int, now: datetime) -> int:
    """Escalation round ``number`` of ``delivery`` (inside its organization's scope): each active manager
    with an email address gets one email listing the learners of their departments (sub-departments
    included) who have not passed; returns the emails queued. A round already claimed queues nothing."""
    if not _claim_escalation(delivery, number):
        return 0
    overdue = db.session.execute(
        select(User.id, User.name, User.login_id, User.department_id, Assignment.status)
        .join(Assignment, Assignment.learner_id == User.id)
        .where(Assignment.delivery_id == delivery.id, Assignment.status != AssignmentStatus.PASSED,
               User.is_active_flag.is_(True), User.department_id.is_not(None))
        .order_by(User.name, User.id)
    ).all()
    if not overdue:
        return 0
    managers: dict[int, tuple[str, str, str | None, list[int]]] = {}
    for manager_id, email, name, locale, department_id in db.session.execute(
        select(User.id, User.email, User.name, User.locale, ManagerDepartment.department_id)
        .join(ManagerDepartment, ManagerDepartment.user_id == User.id)
        .where(User.role == Role.MANAGER, User.is_active_flag.is_(True), User.email.is_not(None))
        .order_by(User.id)
    ):
        managers.setdefault(manager_id, (email, name, locale, []))[3].append(department_id)
    tree = DepartmentTree.load()
    send_at = next_send_time(delivery, now)
    told: set[int] = set()
    for manager_id, (email, name, locale, departments) in managers.items():
        looked_after = tree.with_descendants(departments)
        people = [p for p in overdue if p.department_id in looked_after]
        if not people:
            continue
        db.session.add(DeliveryEscalation(organization_id=delivery.organization_id, delivery_id=delivery.id,
                                          manager_id=manager_id, round_no=number, learner_ids=[p.id for p in people],
                                          created_at=now))
        queue_email(
            "training_escalation", email,
            idempotency_key=f"{delivery.outbox_topic}:escalation:{number}:{manager_id}",
            organization_id=delivery.organization_id, user_id=manager_id, locale=locale,
            topic=delivery.outbox_topic, send_at=send_at,
            manager_name=name, delivery=delivery, total=len(people),
            people=[(p.name, p.login_id, tree.path(p.department_id), STATUS_LABELS[AssignmentStatus(p.status)])
                    for p in people[:ESCALATION_LIST_LIMIT]],
            url=external_url("training.show", delivery_id=delivery.id),
        )
        told.add(manager_id)
    db.session.flush()
    audit.record("training.escalated", target=delivery, round=number, managers=len(told), learners=len(overdue),
                 actor=None)
    return len(told)


@dataclass(frozen=True)
class EscalationsSent:
    rounds: int
    emails: int
    last_at: datetime | None


def escalations_sent(delivery: Delivery) -> EscalationsSent:
    """How many escalation rounds told a manager, in how many emails, and when the last was queued."""
    rounds, emails, last_at = db.session.execute(_escalations_sent(), {"delivery_id": delivery.id}).one()
    return EscalationsSent(rounds or 0, emails or 0, as_utc(last_at))


@cache
def _escalations_sent() -> Select:
    """Built once (#17): the delivery's results page reads it on every visit."""
    return (select(func.count(func.distinct(DeliveryEscalation.round_no)), func.count(DeliveryEscalation.id),
                   func.max(DeliveryEscalation.created_at))
            .where(DeliveryEscalation.delivery_id == bindparam("delivery_id")))


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
    return _department_rows(db.session.execute(_by_department(delivery_ids_stmt, learners)), tree)


def delivery_summary(delivery: Delivery, tree: DepartmentTree, learners=None) -> tuple[list[DepartmentRow],
                                                                                      DepartmentRow]:
    """:func:`department_summary` of one delivery (an administrator's statement built once, #17)."""
    if learners is None:
        return _department_rows(db.session.execute(_one_delivery_by_department(), {"delivery_id": delivery.id}),
                                tree)
    return department_summary(select(Delivery.id).where(Delivery.id == delivery.id), tree, learners)


def _by_department(delivery_ids_stmt, learners) -> Select:
    return (
        select(
            Assignment.department_id,
            func.count(Assignment.id),
            func.sum(case((Assignment.status.in_([AssignmentStatus.PASSED, AssignmentStatus.FAILED]), 1), else_=0)),
            _count(AssignmentStatus.PASSED),
            _count(AssignmentStatus.IN_PROGRESS),
        )
        .where(Assignment.delivery_id.in_(delivery_ids_stmt), *_learner_criteria(learners))
        .group_by(Assignment.department_id)
    )


@cache
def _one_delivery_by_department() -> Select:
    return _by_department(select(Delivery.id).where(Delivery.id == bindparam("delivery_id")), None)


def _department_rows(rows, tree: DepartmentTree) -> tuple[list[DepartmentRow], DepartmentRow]:
    out = [
        DepartmentRow(dep, tree.path(dep) if dep else _("（部署なし）"), n or 0, f or 0, p or 0, i or 0)
        for dep, n, f, p, i in rows
    ]
    out.sort(key=lambda r: r.name)
    total = DepartmentRow(None, _("合計"), sum(r.assigned for r in out), sum(r.finished for r in out),
                          sum(r.passed for r in out), sum(r.in_progress for r in out))
    return out, total


def unfinished_learners(delivery: Delivery, limit: int = 200, learners=None) -> list:
    """Who has not passed yet (未受講, 中断, 不合格), at most ``limit`` rows, in one query (an administrator's
    built once, #17)."""
    statement = _not_passed_of_all(limit) if learners is None else _not_passed(limit, learners)
    return db.session.execute(statement, {"delivery_id": delivery.id}).all()


def _not_passed(limit: int, learners) -> Select:
    return (
        select(User.id, User.login_id, User.name, User.email, Assignment.department_id, Assignment.status,
               Assignment.best_score, Assignment.attempts_count, Assignment.last_manual_reminder_on)
        .join(User, User.id == Assignment.learner_id)
        .where(Assignment.delivery_id == bindparam("delivery_id"), Assignment.status != AssignmentStatus.PASSED,
               *_learner_criteria(learners))
        .order_by(Assignment.status, User.name, User.id)
        .limit(limit)
    )


@cache
def _not_passed_of_all(limit: int) -> Select:
    return _not_passed(limit, None)


def passed_learners(delivery: Delivery, page: int, learners=None, per_page: int = 50) -> Page:
    """One page of the learners who passed (their certificates), by name, with the total, in two queries."""
    return paginate_rows(
        select(Assignment.id, User.login_id, User.name, Assignment.department_id, Assignment.passed_at,
               Assignment.best_score, Assignment.late)
        .join(User, User.id == Assignment.learner_id)
        .where(Assignment.delivery_id == delivery.id, Assignment.status == AssignmentStatus.PASSED,
               Assignment.certificate_code.is_not(None), *_learner_criteria(learners))
        .order_by(User.name, User.id),
        page, per_page,
    )


def export_certificates(delivery: Delivery, part: int, *, by: User) -> str:
    """Record the download of the certificates of ``delivery`` in zip ``part`` (a bulk export of personal
    data: names, scores, dates) and return the zip's file name.

    :raises RuleViolation: nobody has passed yet, or there is no such part.
    """
    total = certificates.count_certificates(delivery.id)
    if not total:
        raise RuleViolation(_("この配信にはまだ合格者がいないため、ダウンロードできる修了証はありません。"))
    parts = certificates.zip_parts(total)
    if not 1 <= part <= len(parts):
        raise RuleViolation(_("このZIPファイルはありません。配信の結果から、もう一度ダウンロードしてください。"))
    _part, first, last = parts[part - 1]
    audit.record("training.certificates_exported", target=delivery, actor=by, count=last - first + 1,
                 part=part, parts=len(parts))
    db.session.flush()
    stamp = utcnow().astimezone(TOKYO).strftime("%Y%m%d")
    suffix = f"_{first}-{last}" if len(parts) > 1 else ""
    return f"修了証_{delivery.title}_{stamp}{suffix}.zip"


@dataclass(frozen=True)
class ItemRow:
    question_id: int
    text: str
    category: str
    answered: int
    difficulty: float | None  # p: the share of answers that were right
    discrimination: float | None  # upper 27% minus lower 27% correctness


def item_analysis(delivery_ids_stmt, learners=None) -> list[ItemRow]:
    """Per question of the finished attempts: difficulty p (the share of its answers that were right) and
    discrimination D (its share right in the upper 27 % of the attempts ranked by score, minus its share in
    the lower 27 %).

    Read from the counts kept by every finish (``portal/item_counts.py``: two small aggregates, whatever the
    number of answers), or for ``learners`` only (a select of user ids, a manager's departments) from their
    answers; plus one query for the question texts. Attempts with the same score are not ranked among
    themselves: where a group's boundary falls among them, each counts for the share of them the group
    takes (so a tie does not depend on which attempt happened to be saved first)."""
    scores, cells = (item_counts.from_counts(delivery_ids_stmt) if learners is None
                     else item_counts.from_answers(delivery_ids_stmt, learners))
    upper, lower = _extreme_groups(scores)
    totals: dict[int, list[float]] = {}
    for (question_id, score), (answered, right) in cells.items():
        t = totals.setdefault(question_id, [0, 0, 0.0, 0.0, 0.0, 0.0])
        t[0] += answered
        t[1] += right
        w = upper.get(score, 0.0)
        t[2] += w * answered
        t[3] += w * right
        w = lower.get(score, 0.0)
        t[4] += w * answered
        t[5] += w * right
    texts = {
        q.id: q for q in db.session.scalars(select(Question).where(Question.id.in_(list(totals))))
    } if totals else {}
    out = []
    for question_id, (answered, correct, n_up, c_up, n_low, c_low) in totals.items():
        question = texts.get(question_id)
        p = correct / answered if answered else None
        d = (c_up / n_up - c_low / n_low) if n_up and n_low else None
        out.append(ItemRow(question_id, question.text if question else "", question.category if question else "",
                           answered, p, d))
    out.sort(key=lambda r: (r.difficulty if r.difficulty is not None else 2, r.question_id))
    return out


def _extreme_groups(scores: dict[int, int]) -> tuple[dict[int, float], dict[int, float]]:
    """The upper and lower 27 % (rounded up) of the attempts counted in ``scores`` (attempts by score): for
    each score in a group, the share of its attempts the group takes (1.0 but at the group's boundary)."""
    n = sum(scores.values())
    k = (n * 27 + 99) // 100  # ceil(27 % of n) in integer arithmetic

    def take(order) -> dict[int, float]:
        weights, left = {}, k
        for score in order:
            if left <= 0:
                break
            used = min(scores[score], left)
            weights[score] = used / scores[score]
            left -= used
        return weights

    return take(sorted(scores, reverse=True)), take(sorted(scores))


def deliveries_of_course(course_id: int):
    return select(Delivery.id).where(Delivery.course_id == course_id)


EXPORT_HEADER = ["配信", "講座", "年度", "受講者ID", "氏名", "メールアドレス", "部署", "状態", "最高点", "受験回数",
                 "合格日時", "期限後", "修了証コード"]


def results_exported(delivery: Delivery, fmt: str) -> None:
    """Write down that a delivery's per-learner results (personal data) left the portal as a file."""
    audit.record("training.results_exported", target=delivery, format=fmt)


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
