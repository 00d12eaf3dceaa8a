"""Taking a test: personal links, attempts and their state machine, scores, certificates.

An attempt is ``in_progress`` until it is finished, exactly once: :func:`finish_attempt` moves it with
``UPDATE ... WHERE state = 'in_progress'`` and only the request whose update touched the row scores it.
Double taps, a second tab or a replayed form therefore get the result that is already there.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import Row, Select, Text, and_, bindparam, case, cast, select, update
from sqlalchemy.orm import contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from portal import audit, item_counts, outbox
from portal.bulk import insert_on_conflict
from portal.clock import utcnow
from portal.extensions import db
from portal.home import HomeItem, history_rank, register_home_provider
from portal.i18n import lazy_gettext as _l
from portal.i18n import translated
from portal.link_sessions import LinkProblem, revoked_problem
from portal.models import (
    Assignment,
    AssignmentStatus,
    Attempt,
    AttemptAnswer,
    AttemptState,
    Choice,
    Course,
    Delivery,
    DeliveryStatus,
    LatePolicy,
    Lesson,
    Question,
    QuestionKind,
    User,
)
from portal.rules import NotFound
from portal.unit_of_work import locks_rows

STATUS_LABELS = {
    AssignmentStatus.NOT_STARTED: _l("未受講"),
    AssignmentStatus.IN_PROGRESS: _l("中断"),
    AssignmentStatus.FAILED: _l("不合格"),
    AssignmentStatus.PASSED: _l("合格"),
}


class QuizRuleError(ValueError):
    """The test refuses this (a Japanese message for the learner)."""


# What every learner page of an assignment or attempt reads (is it open, late, which course): one query.
_WITH_DELIVERY = joinedload(Assignment.delivery).joinedload(Delivery.course)


def link_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def new_link_secret() -> tuple[str, str]:
    raw = secrets.token_urlsafe(24)
    return raw, link_digest(raw)


def assignment_for_link(raw: str) -> Assignment | None:
    """The assignment a personal link points at (any organization: the caller is anonymous), with its learner
    and delivery (the landing page and the sign-in need no course)."""
    if not raw or len(raw) > 100:
        return None
    return db.session.scalar(_assignment_by_link(), {"link_hash": link_digest(raw)})


@cache
def _assignment_by_link() -> Select:
    """Built once: every phone opens its link first at 9:00 (#17)."""
    return (select(Assignment).where(Assignment.link_hash == bindparam("link_hash"))
            .options(joinedload(Assignment.learner), joinedload(Assignment.delivery)))


def link_problem(assignment: Assignment | None, user) -> LinkProblem | None:
    """Why this personal link cannot be used by ``user`` now, or None (see
    :mod:`portal.link_sessions` for when a link stops working)."""
    if assignment is None or assignment.learner is None or not assignment.learner.is_active:
        return LinkProblem(_("このリンクは無効です。メールのリンクをもう一度ご確認ください。"))
    if assignment.delivery.status == DeliveryStatus.CLOSED:
        return LinkProblem(_("この配信は終了しました。管理者にお問い合わせください。"), 410)
    if user is not None and user.is_authenticated and user.id != assignment.learner_id:
        return LinkProblem(_("このリンクは別の受講者のものです。ご自身に届いたメールのリンクを開いてください。"))
    return revoked_problem(assignment.learner, assignment.delivery.launched_at)


# The statements of the learner's pages below are built once, with bind parameters (``@cache``): building one
# cost 60-140 µs a request, as much as running it (#17). The tenant criteria are added to a copy at each run.


@cache
def _own_assignment() -> Select:
    return (select(Assignment).where(Assignment.id == bindparam("id"), Assignment.learner_id == bindparam("learner_id"))
            .options(_WITH_DELIVERY))


def get_assignment(assignment_id: int, learner: User) -> Assignment:
    """The learner's own assignment of a delivery that has started. :raises NotFound: anything else."""
    assignment = db.session.scalar(_own_assignment(), {"id": assignment_id, "learner_id": learner.id})
    if assignment is None or assignment.delivery.status == DeliveryStatus.SCHEDULED:
        raise NotFound
    return assignment


def get_attempt(attempt_id: int, learner: User, *, with_delivery: bool = True) -> Attempt:
    """The learner's own attempt, with its assignment, delivery and course loaded unless ``with_delivery``
    is false (a question page needs none of them). :raises NotFound: anyone else's, another organization's."""
    attempt = db.session.scalar(_own_attempt(with_delivery), {"id": attempt_id, "learner_id": learner.id})
    if attempt is None:
        raise NotFound
    return attempt


@cache
def _own_attempt(with_delivery: bool) -> Select:
    stmt = select(Attempt).where(Attempt.id == bindparam("id"), Attempt.learner_id == bindparam("learner_id"))
    return stmt.options(joinedload(Attempt.assignment).options(_WITH_DELIVERY)) if with_delivery else stmt


def lesson_titles(course: Course) -> list[Row]:
    """``(id, title)`` of the course's lessons in their order, without their bodies (an assignment's page)."""
    return db.session.execute(_lesson_titles(), {"course_id": course.id}).all()


@cache
def _lesson_titles() -> Select:
    return (select(Lesson.id, Lesson.title).where(Lesson.course_id == bindparam("course_id"))
            .order_by(Lesson.position, Lesson.id))


def attempt_history(assignment: Assignment) -> list[Row]:
    """The assignment's attempts in order, as the columns its page shows (no questions or choice orders)."""
    return db.session.execute(_attempt_history(), {"assignment_id": assignment.id}).all()


@cache
def _attempt_history() -> Select:
    return (select(Attempt.id, Attempt.number, Attempt.state, Attempt.score, Attempt.passed, Attempt.late)
            .where(Attempt.assignment_id == bindparam("assignment_id")).order_by(Attempt.number))


def is_late(assignment: Assignment, now: datetime | None = None) -> bool:
    return (now or utcnow()) > assignment.delivery.due_at


def _check_open(assignment: Assignment, now: datetime) -> None:
    delivery = assignment.delivery
    if delivery.status == DeliveryStatus.CLOSED:
        raise QuizRuleError(_("この配信は終了しました。"))
    if now > delivery.due_at and delivery.course.late_policy == LatePolicy.REFUSE:
        raise QuizRuleError(_("受講期限を過ぎたため、この研修は受講できません。管理者にお問い合わせください。"))


def draw_questions(course: Course, seen: set[int], rng: random.Random) -> list[Row]:
    """The questions of a new attempt (``id`` and ``kind`` of each): ones not in ``seen`` (the learner's
    earlier attempts) first, in random order. Only the two columns are read: the bank may hold far more
    questions than an attempt draws, and an ORM object per question and choice cost more than half of
    starting a test (#17)."""
    bank = db.session.execute(select(Question.id, Question.kind).where(Question.course_id == course.bank_id)
                              .order_by(Question.id)).all()
    if not bank:
        raise QuizRuleError(_("この講座にはまだ問題がありません。管理者にお問い合わせください。"))
    wanted = course.questions_per_attempt or len(bank)
    wanted = min(wanted, len(bank))
    fresh = [q for q in bank if q.id not in seen]
    old = [q for q in bank if q.id in seen]
    rng.shuffle(fresh)
    rng.shuffle(old)
    drawn = (fresh + old)[:wanted]
    rng.shuffle(drawn)
    return drawn


def _choice_ids(question_ids: list[int]) -> dict[int, list[int]]:
    """Each question's choice ids, in their order on the page."""
    out: dict[int, list[int]] = {question_id: [] for question_id in question_ids}
    rows = db.session.execute(select(Choice.question_id, Choice.id).where(Choice.question_id.in_(question_ids))
                              .order_by(Choice.question_id, Choice.position, Choice.id))
    for question_id, choice_id in rows:
        out[question_id].append(choice_id)
    return out


def start_attempt(assignment: Assignment, *, now: datetime | None = None, rng: random.Random | None = None) -> Attempt:
    """The attempt to continue (中断) or a new one; none after the learner has passed.

    :raises QuizRuleError: passed already, delivery closed, past a refusing due date, no questions.
    """
    return start_or_resume(assignment, now=now, rng=rng)[0]


def start_or_resume(assignment: Assignment, *, now: datetime | None = None,
                    rng: random.Random | None = None) -> tuple[Attempt, int]:
    """:func:`start_attempt`, and the number of the attempt's first unanswered question (where the learner
    goes next: 1 for a new attempt, without asking the database)."""
    now = now or utcnow()
    # Two taps at once start one attempt: the second waits here for the first's transaction (PostgreSQL's
    # row lock; on SQLite the request's BEGIN IMMEDIATE already holds the one write lock), then finds its
    # attempt running. Without it, the first could commit between the second's look for a running attempt
    # and its count of attempts, and the second would start attempt number 2 beside it. So no savepoint is
    # needed around the insert: nobody else can add this assignment's attempt meanwhile.
    if locks_rows():
        db.session.execute(select(Assignment.id).where(Assignment.id == assignment.id).with_for_update())
    # Every earlier attempt of the assignment, in one statement: the running one, the next number and the
    # questions already seen (a learner retakes until passing: a handful of rows).
    earlier = db.session.execute(
        select(Attempt.id, Attempt.number, Attempt.state, Attempt.question_ids)
        .where(Attempt.assignment_id == assignment.id)
    ).all()
    running = next((row.id for row in earlier if row.state == AttemptState.IN_PROGRESS), None)
    if running is not None:
        attempt = db.session.get(Attempt, running)
        answered = answered_question_ids(attempt)
        return attempt, next((i for i, q in enumerate(attempt.question_ids) if q not in answered), 0) + 1
    if assignment.status == AssignmentStatus.PASSED:
        raise QuizRuleError(_("この研修にはすでに合格しています。"))
    _check_open(assignment, now)
    rng = rng or random.SystemRandom()
    seen = {question_id for row in earlier for question_id in row.question_ids or ()}
    questions = draw_questions(assignment.delivery.course, seen, rng)
    choices = _choice_ids([q.id for q in questions])
    order = {}
    for question in questions:
        ids = choices[question.id]
        if question.kind != QuestionKind.TRUE_FALSE:
            rng.shuffle(ids)
        order[str(question.id)] = ids
    number = max((row.number for row in earlier), default=0) + 1
    attempt = Attempt(
        organization_id=assignment.organization_id,
        assignment_id=assignment.id,
        learner_id=assignment.learner_id,
        number=number,
        question_ids=[q.id for q in questions],
        choice_order=order,
        started_at=now,
    )
    db.session.add(attempt)
    if assignment.status == AssignmentStatus.NOT_STARTED:
        assignment.status = AssignmentStatus.IN_PROGRESS  # written by the same flush
    db.session.flush()
    audit.record("training.attempt_started", target=attempt, number=number)
    return attempt, 1


class ShownQuestion(NamedTuple):
    id: int
    text: str
    kind: QuestionKind


class ShownChoice(NamedTuple):
    id: int
    text: str


@dataclass(frozen=True)
class Screen:
    """One question as shown in an attempt: what the page prints, read as columns, not ORM objects (#17)."""

    index: int  # 0-based position in the attempt
    total: int
    question: ShownQuestion
    choices: list[ShownChoice]  # in the attempt's order
    selected: list[int]


def attempt_questions(attempt: Attempt) -> dict[int, Question]:
    questions = db.session.scalars(select(Question).where(Question.id.in_(attempt.question_ids or []))
                                   .options(joinedload(Question.choices))).unique()
    return {q.id: q for q in questions}


def correct_choice_ids(question_ids: list[int]) -> dict[int, set[int]]:
    """Each question's correct choice ids (``Question.correct_ids``), from two columns in one statement;
    a question no longer in the bank is missing. Scoring needs no more than this (#17)."""
    keys: dict[int, set[int]] = {}
    rows = db.session.execute(
        select(Question.id, Choice.id)
        .outerjoin(Choice, and_(Choice.question_id == Question.id, Choice.is_correct.is_(True)))
        .where(Question.id.in_(question_ids))
    )
    for question_id, choice_id in rows:
        key = keys.setdefault(question_id, set())
        if choice_id is not None:
            key.add(choice_id)
    return keys


def answered_question_ids(attempt: Attempt) -> set[int]:
    """The questions of ``attempt`` answered so far (where to resume, what is missing before the finish)."""
    return set(db.session.scalars(select(AttemptAnswer.question_id).where(AttemptAnswer.attempt_id == attempt.id)))


def answers_of(attempt: Attempt) -> dict[int, AttemptAnswer]:
    rows = db.session.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id))
    return {a.question_id: a for a in rows}


def screen(attempt: Attempt, index: int) -> Screen:
    """:raises NotFound: for a position outside the attempt."""
    ids = attempt.question_ids or []
    if not 0 <= index < len(ids):
        raise NotFound
    question_id = ids[index]
    rows = db.session.execute(_screen(), {"attempt_id": attempt.id, "question_id": question_id}).all()
    if not rows:
        raise NotFound
    question = ShownQuestion(*rows[0][:3])
    texts = {row[3]: row[4] for row in rows if row[3] is not None}
    choices = [ShownChoice(c, texts[c]) for c in attempt.choice_order.get(str(question_id), []) if c in texts]
    return Screen(index, len(ids), question, choices, list(rows[0][5] or []))


@cache
def _screen() -> Select:
    """A question with its choices, and the attempt's saved choice in the same statement (#17: one round trip
    fewer per question shown)."""
    saved = (
        select(AttemptAnswer.choice_ids)
        .where(AttemptAnswer.attempt_id == bindparam("attempt_id"),
               AttemptAnswer.question_id == bindparam("question_id"))
        .scalar_subquery()
    )
    return (select(Question.id, Question.text, Question.kind, Choice.id, Choice.text, saved)
            .outerjoin(Choice, Choice.question_id == Question.id)
            .where(Question.id == bindparam("question_id")))


def save_answer(attempt: Attempt, question_id: int, choice_ids: list[int], *, now: datetime | None = None) -> None:
    """Record (or replace) the learner's choice for one question of a running attempt.

    :raises QuizRuleError: attempt finished, question not in the attempt, a choice of another question,
        several choices for a single-answer question, delivery closed or refusing after its due date.
    """
    now = now or utcnow()
    if attempt.state != AttemptState.IN_PROGRESS:
        raise QuizRuleError(_("このテストはすでに終了しています。結果をご覧ください。"))
    _check_open(attempt.assignment, now)
    if question_id not in (attempt.question_ids or []):
        raise QuizRuleError(_("この問題はこのテストに含まれていません。"))
    rows = db.session.execute(_question_choices(), {"question_id": question_id}).all()
    if not rows:  # removed from the bank since the attempt started
        raise QuizRuleError(_("この問題はこのテストに含まれていません。"))
    kind = rows[0][0]
    valid = {choice_id for _kind, choice_id in rows if choice_id is not None}
    chosen = sorted(set(choice_ids))
    if not chosen:
        raise QuizRuleError(_("選択肢を選んでください。"))
    if not set(chosen) <= valid:
        raise QuizRuleError(_("この問題の選択肢ではありません。画面を読み込み直してください。"))
    if kind != QuestionKind.MULTIPLE and len(chosen) != 1:
        raise QuizRuleError(_("この問題では選択肢を1つだけ選んでください。"))
    # One statement whether it is the first answer or a change, and two taps racing to save the first answer
    # cannot collide: the later one wins (#17; it was a read, then a savepoint and an insert or an update).
    # The tenancy guard checks the row's organization against the scope; the update replaces only a row of
    # that same organization.
    db.session.execute(_answer_upsert(db.session.get_bind().dialect.name), {
        "organization_id": attempt.organization_id, "attempt_id": attempt.id, "question_id": question_id,
        "choice_ids": chosen, "answered_at": now,
    })


@cache
def _question_choices() -> Select:
    return (select(Question.kind, Choice.id).outerjoin(Choice, Choice.question_id == Question.id)
            .where(Question.id == bindparam("question_id")))


@cache
def _answer_upsert(dialect: str):
    """INSERT of one answer that replaces the choices and time of an existing one; built once per database
    (building it cost more than running it).

    The same choices again write nothing (``answered_at`` stays the time they were chosen): with JavaScript
    a choice is saved when it is made, and 保存して次へ then sends it again. The choices are compared as text:
    :func:`save_answer` writes them sorted, so equal lists are equal texts (PostgreSQL's ``json`` has no
    ``=``)."""
    table = AttemptAnswer.__table__
    stmt = insert_on_conflict(table, dialect)
    return stmt.on_conflict_do_update(
        index_elements=["attempt_id", "question_id"],
        set_={"choice_ids": stmt.excluded.choice_ids, "answered_at": stmt.excluded.answered_at},
        where=and_(table.c.organization_id == stmt.excluded.organization_id,
                   cast(table.c.choice_ids, Text) != cast(stmt.excluded.choice_ids, Text)),
    )


def finish_attempt(attempt: Attempt, *, now: datetime | None = None) -> bool:
    """Finish and score the attempt once. Returns True for the call that finished it, False when it
    was finished already (its score stands). A pass cancels the learner's emails of the delivery that have
    not gone out yet (an invitation held for the sending window, a reminder).

    :raises QuizRuleError: delivery closed or refusing after its due date.
    """
    now = now or utcnow()
    if attempt.state != AttemptState.IN_PROGRESS:
        return False
    assignment = attempt.assignment
    _check_open(assignment, now)
    late = now > assignment.delivery.due_at
    result = db.session.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.state == AttemptState.IN_PROGRESS)
        .values(state=AttemptState.FINISHED, finished_at=now, late=late)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        db.session.refresh(attempt)
        return False
    keys = correct_choice_ids(attempt.question_ids or [])
    answers = answers_of(attempt)
    marks = []
    for question_id in attempt.question_ids:
        key = keys.get(question_id)
        answer = answers.get(question_id)
        right = bool(key is not None and answer and set(answer.choice_ids) == key)
        if answer is None:
            answer = AttemptAnswer(organization_id=attempt.organization_id, attempt_id=attempt.id,
                                   question_id=question_id, choice_ids=[], answered_at=now)
            db.session.add(answer)
        answer.correct = right
        marks.append((question_id, right))
    total = len(attempt.question_ids) or 1
    score = round(100 * sum(right for _question, right in marks) / total)
    item_counts.count_finished(attempt.organization_id, assignment.delivery_id, score, marks)
    passed = score >= assignment.delivery.course.pass_mark
    db.session.execute(
        update(Attempt).where(Attempt.id == attempt.id).values(score=score, passed=passed)
        .execution_options(synchronize_session=False)
    )
    assignment.attempts_count = (assignment.attempts_count or 0) + 1
    assignment.best_score = max(assignment.best_score or 0, score)
    if passed and assignment.status != AssignmentStatus.PASSED:
        assignment.status = AssignmentStatus.PASSED
        assignment.passed_at = now
        assignment.late = late
        assignment.certificate_code = new_certificate_code()
        # The invitation or a reminder may still wait for the sending window: no longer needed.
        cancelled = outbox.cancel_pending(assignment.delivery.outbox_topic, now, user_id=assignment.learner_id,
                                          reason="passed before it was sent")
        if cancelled:
            audit.record("training.emails_cancelled", target=assignment, emails=cancelled, reason="passed")
    elif not passed and assignment.status != AssignmentStatus.PASSED:
        assignment.status = AssignmentStatus.FAILED
    db.session.flush()
    # What the two UPDATEs wrote, set in memory as if read back (one SELECT fewer than a refresh).
    for key, value in (("state", AttemptState.FINISHED), ("finished_at", now), ("late", late), ("score", score),
                       ("passed", passed)):
        set_committed_value(attempt, key, value)
    audit.record("training.attempt_finished", target=attempt, score=score, passed=passed, late=late)
    return True


def new_certificate_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


class ReviewQuestion(NamedTuple):
    id: int
    text: str
    explanation: str | None


class ReviewChoice(NamedTuple):
    id: int
    text: str
    is_correct: bool


@dataclass(frozen=True)
class ReviewItem:
    index: int
    question: ReviewQuestion
    choices: list[ReviewChoice]  # in the attempt's order
    selected: list[int]
    correct: bool


def review(attempt: Attempt) -> list[ReviewItem]:
    """Each question of a finished attempt with the learner's choices and whether they were right. Read as
    columns, the questions with their choices in one statement and the answers in another: the ORM objects
    of every question and choice cost a third of the result page (#17)."""
    questions: dict[int, ReviewQuestion] = {}
    choices: dict[int, ReviewChoice] = {}
    rows = db.session.execute(_review_questions(), {"ids": list(attempt.question_ids or [])})
    for question_id, text, explanation, choice_id, choice_text, is_correct in rows:
        questions.setdefault(question_id, ReviewQuestion(question_id, text, explanation))
        if choice_id is not None:
            choices[choice_id] = ReviewChoice(choice_id, choice_text, is_correct)
    answers = {question_id: (chosen, correct) for question_id, chosen, correct in db.session.execute(
        _review_answers(), {"attempt_id": attempt.id})}
    items = []
    for index, question_id in enumerate(attempt.question_ids):
        question = questions.get(question_id)
        if question is None:
            continue
        shown = [choices[c] for c in attempt.choice_order.get(str(question_id), []) if c in choices]
        chosen, correct = answers.get(question_id, (None, False))
        items.append(ReviewItem(index, question, shown, list(chosen or []), bool(correct)))
    return items


@cache
def _review_questions() -> Select:
    return (select(Question.id, Question.text, Question.explanation, Choice.id, Choice.text, Choice.is_correct)
            .outerjoin(Choice, Choice.question_id == Question.id)
            .where(Question.id.in_(bindparam("ids", expanding=True))))


@cache
def _review_answers() -> Select:
    return (select(AttemptAnswer.question_id, AttemptAnswer.choice_ids, AttemptAnswer.correct)
            .where(AttemptAnswer.attempt_id == bindparam("attempt_id")))


def verify_certificate(code: str) -> Assignment | None:
    """The passed assignment with this verification code (any organization), or None."""
    code = (code or "").strip().upper()
    if not code or len(code) > 32:
        return None
    return db.session.scalar(
        select(Assignment).where(Assignment.certificate_code == code, Assignment.status == AssignmentStatus.PASSED)
    )


def learner_assignments(learner: User) -> list[Assignment]:
    return list(db.session.scalars(_learner_assignments(), {"learner_id": learner.id}))


@cache
def _learner_assignments() -> Select:
    return (select(Assignment)
            .join(Delivery, Delivery.id == Assignment.delivery_id)
            .options(contains_eager(Assignment.delivery))
            .where(Assignment.learner_id == bindparam("learner_id"), Delivery.status != DeliveryStatus.SCHEDULED)
            .order_by(Delivery.due_at.desc()))


@cache
def _training_home_statement() -> Select:
    """The home's rows of a learner's assignments, as columns (not ORM objects, #17): those of
    :func:`learner_assignments`, of closed deliveries only the newest ``history`` (a closed one's date is its
    pass, or for no pass its due date). Built once: a subquery's construction cost more than its execution."""
    closed = Delivery.status != DeliveryStatus.LAUNCHED
    finished = case((Assignment.status == AssignmentStatus.PASSED, Assignment.passed_at), else_=Delivery.due_at)
    ranked = (
        select(Assignment.id, Assignment.status, Assignment.passed_at, Delivery.title, Delivery.status,
               Delivery.due_at, history_rank(closed, finished))
        .join(Delivery, Delivery.id == Assignment.delivery_id)
        .where(Assignment.learner_id == bindparam("learner_id"), Delivery.status != DeliveryStatus.SCHEDULED)
        .subquery()
    )
    return select(*ranked.c[:-1]).where(ranked.c.history_rank <= bindparam("history"))


@register_home_provider
def training_home_items(learner: User, history: int) -> list[HomeItem]:
    """Open deliveries under 取り組むもの; passed ones under 完了 (this fiscal year) or 履歴, of which the newest
    ``history``."""
    from flask import url_for

    rows = db.session.execute(_training_home_statement(), {"learner_id": learner.id, "history": history})
    labels = translated(STATUS_LABELS)
    items = []
    for assignment_id, status, passed_at, title, delivery_status, due_at in rows:
        url = url_for("quizzes.assignment", assignment_id=assignment_id)
        label = labels[status]
        if status == AssignmentStatus.PASSED:
            section = "done" if delivery_status == DeliveryStatus.LAUNCHED else "history"
            items.append(HomeItem(section, "training", title, url, finished_at=passed_at, status=label))
        elif delivery_status == DeliveryStatus.LAUNCHED:
            items.append(HomeItem("assigned", "training", title, url, due_at=due_at, status=label))
        else:
            # Closed without a pass: nothing was completed, so the history shows the due date that went by.
            items.append(HomeItem("history", "training", title, url, due_at=due_at, finished_at=due_at,
                                  status=label))
    return items
