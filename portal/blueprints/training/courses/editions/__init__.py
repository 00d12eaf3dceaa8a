"""Course editions written by the operator, kept as plain data (no database, no Flask).

An :class:`EditionContent` is what a global course is made of when it is first created: its rules, its
lessons (Markdown, as an editor would type them on the course page) and, under each lesson, the questions
about it. The lesson's ``category`` becomes each of its questions' 分野, so the item analysis groups the
questions by lesson. ``portal.demo.courses`` writes an edition to the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.models import CourseKind, QuestionKind


@dataclass(frozen=True)
class QuestionContent:
    """A question of the bank.

    ``choices``: for 単一選択 and 複数選択, one string per choice, a leading ``*`` marking a right one (the
    format of the course page's form); for ○×, ``True`` when ○ is right and ``False`` when × is.
    """

    kind: QuestionKind
    text: str
    choices: tuple[str, ...] | bool
    explanation: str


@dataclass(frozen=True)
class LessonContent:
    title: str
    category: str
    body_md: str
    questions: tuple[QuestionContent, ...]


@dataclass(frozen=True)
class EditionContent:
    title: str
    fiscal_year: int
    description: str
    lessons: tuple[LessonContent, ...]
    kind: CourseKind = CourseKind.ANNUAL
    # The model's defaults: every question of an attempt right to pass, 10 questions drawn from the bank.
    pass_mark: int = 100
    questions_per_attempt: int = 10

    @property
    def questions(self) -> list[QuestionContent]:
        return [question for lesson in self.lessons for question in lesson.questions]


def single(text: str, *choices: str, explanation: str) -> QuestionContent:
    return QuestionContent(QuestionKind.SINGLE, text, choices, explanation)


def multiple(text: str, *choices: str, explanation: str) -> QuestionContent:
    return QuestionContent(QuestionKind.MULTIPLE, text, choices, explanation)


def true_false(text: str, answer: bool, *, explanation: str) -> QuestionContent:
    return QuestionContent(QuestionKind.TRUE_FALSE, text, answer, explanation)
