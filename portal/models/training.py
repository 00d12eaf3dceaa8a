"""セキュトレ: courses by fiscal-year edition, their lessons and question bank, deliveries, attempts.

Courses (and their lessons, questions, choices, images) are shared content: a course with
``organization_id`` NULL is the operator's and every organization sees it; an organization's own course
is visible only to it (see :class:`portal.tenancy.SharedOrTenantScoped`). Lessons, questions and choices
are reached only through a course that the caller may see, so they carry no organization of their own.
"""

from __future__ import annotations

import enum
import unicodedata
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.base import UTCDateTime, utcnow
from portal.models.sending import Recurrence, SendingSchedule, TargetKind  # noqa: F401 - re-exported
from portal.tenancy import SharedOrTenantScoped, TenantScoped


class CourseKind(enum.StrEnum):
    # A new fiscal-year edition gets its own copy of the question bank, to be revised.
    ANNUAL = "annual"
    # Every edition draws from the first edition's bank (a fixed, simplified edition).
    FIXED = "fixed"


class LatePolicy(enum.StrEnum):
    ALLOW = "allow"  # accepted and marked 期限後
    REFUSE = "refuse"


class QuestionKind(enum.StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUE_FALSE = "true_false"


class Course(SharedOrTenantScoped, db.Model):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default=CourseKind.ANNUAL)
    description: Mapped[str] = mapped_column(Text, default="")
    pass_mark: Mapped[int] = mapped_column(Integer, default=100)
    # 0 means every question of the bank.
    questions_per_attempt: Mapped[int] = mapped_column(Integer, default=10)
    late_policy: Mapped[str] = mapped_column(String(16), default=LatePolicy.ALLOW)
    # The course whose question bank this edition uses (itself, or the first edition of a fixed course).
    bank_course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    previous_edition_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    lessons: Mapped[list[Lesson]] = relationship(
        order_by="Lesson.position", cascade="all, delete-orphan", back_populates="course"
    )

    @property
    def bank_id(self) -> int:
        return self.bank_course_id or self.id

    @property
    def is_global(self) -> bool:
        return self.organization_id is None

    @property
    def title_names_year(self) -> bool:
        """True when the title says its fiscal year already (情報セキュリティ基礎 2026年度): pages then do not
        add 「2026年度版」 to it a second time."""
        return str(self.fiscal_year) in unicodedata.normalize("NFKC", self.title or "")

    def __repr__(self) -> str:
        return f"<Course {self.id} {self.fiscal_year}>"


class Lesson(db.Model):
    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text, default="")

    course: Mapped[Course] = relationship(back_populates="lessons")


class CourseImage(db.Model):
    """An image for lessons, stored under ``<instance>/course_images/`` by a random name."""

    __tablename__ = "course_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Question(db.Model):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=QuestionKind.SINGLE)
    text: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    choices: Mapped[list[Choice]] = relationship(
        order_by="Choice.position", cascade="all, delete-orphan", back_populates="question"
    )

    @property
    def correct_ids(self) -> set[int]:
        return {c.id for c in self.choices if c.is_correct}


class Choice(db.Model):
    __tablename__ = "choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(String(500))
    is_correct: Mapped[bool] = mapped_column(Boolean, default=False)

    question: Mapped[Question] = relationship(back_populates="choices")


class DeliveryStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LAUNCHED = "launched"
    CLOSED = "closed"


class Delivery(SendingSchedule, TenantScoped, db.Model):
    """配信: one round of a course sent to a set of learners, with a due date and reminders."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_start", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    previous_round_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.SCHEDULED)
    # Days after the due date when the managers of learners not yet passed are told (then weekly while
    # some remain); 0: never.
    escalate_after_days: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # How many weekly escalation rounds are done (claimed by one UPDATE, so a round runs once).
    escalation_rounds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    course: Mapped[Course] = relationship()

    @property
    def outbox_topic(self) -> str:
        """The topic of this delivery's emails in the outbox (:mod:`portal.outbox`), which its page counts."""
        return f"delivery:{self.id}"


class AssignmentStatus(enum.StrEnum):
    NOT_STARTED = "not_started"  # 未受講
    IN_PROGRESS = "in_progress"  # 中断
    FAILED = "failed"  # 不合格
    PASSED = "passed"  # 合格


class Assignment(TenantScoped, db.Model):
    """One learner in one delivery, with the status the results page aggregates."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("delivery_id", "learner_id"),
        Index("ix_assignments_delivery_status", "delivery_id", "status"),
        # Covers the results pages' counts (by delivery, status and department) under the tenant filter, so
        # they read the index alone: at 20,000 learners a delivery's results went from 550 ms to 35 ms (#9).
        Index("ix_assignments_org_delivery_status", "organization_id", "delivery_id", "status", "department_id"),
        Index("ix_assignments_learner", "learner_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The department at launch time, so results by department stay as they were.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    # SHA-256 of the personal link's secret (the secret itself is only in the email).
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.NOT_STARTED)
    best_score: Mapped[int | None] = mapped_column(Integer)
    attempts_count: Mapped[int] = mapped_column(Integer, default=0)
    passed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    certificate_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    last_manual_reminder_on: Mapped[date | None] = mapped_column(Date)

    delivery: Mapped[Delivery] = relationship()
    learner = relationship("User")


class DeliveryEscalation(TenantScoped, db.Model):
    """One escalation email to one manager: their learners still not passed, ``round_no`` weeks after the
    delivery's escalation threshold. The row is the record that it was sent; the unique key keeps it once."""

    __tablename__ = "delivery_escalations"
    __table_args__ = (UniqueConstraint("delivery_id", "manager_id", "round_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    round_no: Mapped[int] = mapped_column(Integer)
    learner_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AttemptState(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"


class Attempt(TenantScoped, db.Model):
    """One sitting of the test; the drawn questions and the shuffled choices are fixed at its start."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("assignment_id", "number"),
        Index("ix_attempts_assignment_state", "assignment_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=AttemptState.IN_PROGRESS)
    question_ids: Mapped[list] = mapped_column(JSON, default=list)
    # {question id (str): [choice ids in the order shown]}
    choice_order: Mapped[dict] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    score: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    late: Mapped[bool] = mapped_column(Boolean, default=False)

    assignment: Mapped[Assignment] = relationship()


class AttemptAnswer(TenantScoped, db.Model):
    __tablename__ = "attempt_answers"
    __table_args__ = (
        UniqueConstraint("attempt_id", "question_id"),
        # The item analysis (per question: answered, share right) reads every answer of a delivery's attempts
        # from this index alone: the tenant's column, the question and the mark are in it (migration 0027).
        Index("ix_attempt_answers_item_analysis", "attempt_id", "organization_id", "question_id", "correct"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    choice_ids: Mapped[list] = mapped_column(JSON, default=list)
    # Set when the attempt finishes.
    correct: Mapped[bool | None] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScoreCount(TenantScoped, db.Model):
    """How many attempts of a delivery finished with each score: the ranks from which item analysis takes
    its upper and lower groups. Kept in step with every finish, like :class:`ItemCount` (#17)."""

    __tablename__ = "score_counts"
    __table_args__ = (UniqueConstraint("delivery_id", "score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ItemCount(TenantScoped, db.Model):
    """The finished attempts' answers of a delivery by question and by the attempt's score: how many
    answered, how many right. Written by each finish (one upsert) and taken away when a learner is deleted,
    so that item analysis over a year of deliveries reads a few thousand rows instead of every answer: the
    course-wide analysis at 20,000 learners took 1.1 to 1.3 s on PostgreSQL reading 1.68 million answers
    (#17)."""

    __tablename__ = "item_counts"
    __table_args__ = (UniqueConstraint("delivery_id", "question_id", "score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    correct: Mapped[int] = mapped_column(Integer, default=0)
