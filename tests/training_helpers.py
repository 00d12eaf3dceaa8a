"""Building courses, deliveries and attempts for the training tests, through the services."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from portal.blueprints.training.courses import services as course_services
from portal.blueprints.training.courses.services import ChoiceInput
from portal.blueprints.training.deliveries import services as delivery_services
from portal.blueprints.training.deliveries.services import DeliveryInput
from portal.blueprints.training.quizzes import services as quiz_services
from portal.extensions import db
from portal.models import (
    Assignment,
    Attempt,
    Course,
    Delivery,
    QuestionKind,
    Recurrence,
    TargetKind,
    User,
    utcnow,
)
from portal.tenancy import tenant_scope, unscoped


def add_course(*, organization_id: int | None, questions: int = 4, per_attempt: int = 0, pass_mark: int = 100,
               title: str = "テスト講座", late_policy: str = "allow", kind: str = "annual") -> Course:
    """A course with ``questions`` single-choice questions whose right answer is the choice 「正しい」."""
    course = Course(organization_id=organization_id, title=title, fiscal_year=2026, pass_mark=pass_mark,
                    questions_per_attempt=per_attempt, late_policy=late_policy, kind=kind)
    db.session.add(course)
    db.session.flush()
    for i in range(questions):
        course_services.save_question(
            course, None, kind=QuestionKind.SINGLE, text=f"問題{i + 1}", explanation=f"解説{i + 1}",
            category="分野A" if i % 2 else "分野B",
            choices=[ChoiceInput("正しい", True), ChoiceInput("誤り1", False), ChoiceInput("誤り2", False)],
        )
    return course


def deliver(admin: User, course_id: int, *, learner_ids=None, starts_in=timedelta(0), due_in=timedelta(days=14),
            reminder_days=(), recurrence=Recurrence.NONE, now=None, **extra) -> Delivery:
    """A delivery by ``admin`` (inside their organization's scope)."""
    now = now or utcnow()
    with tenant_scope(admin.organization_id):
        by = db.session.get(User, admin.id)
        course = db.session.get(Course, course_id)
        data = DeliveryInput(
            course=course, title=extra.pop("title", ""),
            target_kind=TargetKind.LEARNERS if learner_ids else TargetKind.EVERYONE,
            department_ids=[], learner_ids=list(learner_ids or []), starts_at=now + starts_in, due_at=now + due_in,
            reminder_days=list(reminder_days), recurrence=recurrence, **extra,
        )
        return delivery_services.create_delivery(data, by=by, now=now)


def link_for(delivery_id: int, learner_id: int) -> str:
    with unscoped("the test reads and writes rows directly"):
        delivery = db.session.get(Delivery, delivery_id)
        return delivery_services.personal_link_secret(delivery, learner_id)


def assignment_of(delivery_id: int, learner_id: int) -> Assignment:
    with unscoped("the test reads and writes rows directly"):
        return db.session.scalar(
            select(Assignment).where(Assignment.delivery_id == delivery_id, Assignment.learner_id == learner_id)
        )


def take(assignment_id: int, *, right: int | None = None, finish: bool = True, now=None) -> Attempt:
    """Start an attempt and answer: the first ``right`` questions correctly, the rest wrongly (all right
    when ``right`` is None)."""
    with unscoped("the test reads and writes rows directly"):
        assignment = db.session.get(Assignment, assignment_id)
        attempt = quiz_services.start_attempt(assignment, now=now)
        for index, question_id in enumerate(attempt.question_ids):
            question = quiz_services.attempt_questions(attempt)[question_id]
            good = right is None or index < right
            choice = next(c for c in question.choices if c.is_correct == good)
            quiz_services.save_answer(attempt, question_id, [choice.id], now=now)
        if finish:
            quiz_services.finish_attempt(attempt, now=now)
        return attempt


def summary(obj) -> SimpleNamespace:
    return SimpleNamespace(id=obj.id)
