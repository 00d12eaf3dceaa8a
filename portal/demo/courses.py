"""The demo courses: the 2026年度 editions written for this project (``editions/edition_2026.py``).

:func:`seed_edition` is idempotent: it finds a global course by title and fiscal year and, when it exists,
adds nothing (a course already delivered keeps its lessons and bank as they are; later changes are made
on the course page or in the next edition).
"""

from __future__ import annotations

from sqlalchemy import select

from portal.blueprints.training.courses.editions import EditionContent
from portal.blueprints.training.courses.editions.edition_2026 import GENERAL, MANAGERS
from portal.blueprints.training.courses.services import parse_choice_lines, save_question, true_false_choices
from portal.extensions import db
from portal.models import Course, Lesson, QuestionKind

DEMO_COURSE_TITLE = GENERAL.title
DEMO_FISCAL_YEAR = GENERAL.fiscal_year


def seed_edition(content: EditionContent) -> tuple[Course, bool]:
    """The global course of ``content`` with its lessons and question bank; (course, created)."""
    course = db.session.scalar(
        select(Course).where(Course.title == content.title, Course.fiscal_year == content.fiscal_year,
                             Course.organization_id.is_(None))
    )
    if course is not None:
        return course, False
    course = Course(
        organization_id=None, title=content.title, fiscal_year=content.fiscal_year, kind=content.kind,
        description=content.description, pass_mark=content.pass_mark,
        questions_per_attempt=content.questions_per_attempt,
    )
    db.session.add(course)
    db.session.flush()
    for position, lesson in enumerate(content.lessons, start=1):
        db.session.add(Lesson(course_id=course.id, position=position, title=lesson.title, body_md=lesson.body_md))
    for lesson in content.lessons:
        for question in lesson.questions:
            if question.kind == QuestionKind.TRUE_FALSE:
                choices = true_false_choices(question.choices)
            else:
                choices = parse_choice_lines("\n".join(question.choices))
            save_question(course, None, kind=question.kind, text=question.text, explanation=question.explanation,
                          category=lesson.category, choices=choices)
    db.session.flush()
    return course, True


def seed_demo_course() -> tuple[Course, bool]:
    """情報セキュリティ基礎 (2026年度), the course for every employee; (course, created)."""
    return seed_edition(GENERAL)


def seed_managers_course() -> tuple[Course, bool]:
    """管理者のための情報セキュリティ (2026年度), the shorter course for managers; (course, created)."""
    return seed_edition(MANAGERS)
