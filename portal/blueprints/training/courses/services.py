"""Course content: editions, lessons (sanitised Markdown), images and the question bank.

Who may see and change a course:

* the operator writes global courses (``organization_id`` NULL) and sees only those;
* an organization's administrator writes the organization's own courses and reads the global ones
  (the tenant guard's :class:`~portal.tenancy.SharedOrTenantScoped` rule; writing a global course
  from an organization's scope raises, so :func:`get_editable_course` refuses it first).
"""

from __future__ import annotations

import functools
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import nh3
from flask import current_app
from flask_babel import gettext as _
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from portal import audit
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import Choice, Course, CourseImage, CourseKind, Lesson, Question, QuestionKind, User
from portal.rules import NotFound
from portal.security import may_edit_library_item

TRUE_FALSE_LABELS = ("○", "×")
QUESTION_KIND_LABELS = {
    QuestionKind.SINGLE: _l("単一選択"), QuestionKind.MULTIPLE: _l("複数選択"), QuestionKind.TRUE_FALSE: _l("○×")
}
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": ("image/png", ".png"), b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
               b"GIF87a": ("image/gif", ".gif"), b"GIF89a": ("image/gif", ".gif")}
MAX_IMAGE_BYTES = 2 * 1024 * 1024

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_ALLOWED_TAGS = {"p", "br", "h1", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "code", "pre", "blockquote", "a",
                 "img", "table", "thead", "tbody", "tr", "th", "td", "hr"}


class CourseRuleError(ValueError):
    """A change the course rules refuse; the message is Japanese and shown as is."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.field = field


def render_markdown(text: str | None) -> Markup:
    """Markdown as HTML that is safe to show: raw HTML is off and the result is cleaned by nh3.

    Images may only come from this site (a path such as ``/training/images/1``); links may only go to
    this site or to an ``http``, ``https`` or ``mailto`` address (:func:`url_allowed`). Anything else
    loses its ``src`` or ``href``. Links get ``rel="noopener noreferrer"``.

    The HTML depends on the text alone, so each process keeps the last few hundred it made: every learner
    of a delivery reads the same lessons, and parsing and cleaning one took about a fifth of a lesson
    page's CPU (#17).
    """
    return _render_markdown(text or "")


@functools.lru_cache(maxsize=256)
def _render_markdown(text: str) -> Markup:
    html = _markdown.render(text)
    clean = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "img": {"src", "alt", "title"}},
        url_schemes=set(LINK_SCHEMES),
        link_rel="noopener noreferrer",
        attribute_filter=_allowed_urls_only,
    )
    # Reviewed: the HTML was cleaned by nh3 just above.
    return Markup(clean)  # noqa: S704  # nosec B704


LINK_SCHEMES = ("http", "https", "mailto")
# Browsers drop tabs and newlines inside a URL and read a backslash as a slash, so "/\\evil", "/\t/evil"
# and "//evil" all leave the site; such URLs are refused outright rather than cleaned.
_UNSAFE_URL_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")


def site_relative(url: str) -> bool:
    """``url`` is a path on this site: ``/...``, but not ``//host`` nor ``/\\host``."""
    return url.startswith("/") and not url.startswith("//") and not _UNSAFE_URL_CHARACTERS.search(url)


def url_allowed(tag: str, url: str) -> bool:
    """An image source must be site-relative; a link site-relative or ``http``/``https``/``mailto``."""
    if site_relative(url):
        return True
    if tag != "a" or _UNSAFE_URL_CHARACTERS.search(url):
        return False
    scheme = _SCHEME.match(url)
    return scheme is not None and scheme.group(1).lower() in LINK_SCHEMES


def _allowed_urls_only(tag: str, attribute: str, value: str) -> str | None:
    if (tag, attribute) in (("a", "href"), ("img", "src")) and not url_allowed(tag, value):
        return None
    return value


# --- loading ------------------------------------------------------------------------------------------


def course_name(course: Course) -> str:
    """The course with its fiscal year (情報セキュリティ基礎（2026年度）), the year not repeated when the title
    says it already: a delivery's default title and the course choices."""
    return course.title if course.title_names_year else f"{course.title}（{course.fiscal_year}年度）"


def visible_courses() -> list[Course]:
    """The courses the current scope may read (the guard adds the organization rule), newest first."""
    return list(db.session.scalars(select(Course).order_by(Course.fiscal_year.desc(), Course.title, Course.id)))


def get_course(course_id: int) -> Course:
    """A course the current scope may read. :raises NotFound: unknown, or another organization's."""
    course = db.session.scalar(select(Course).where(Course.id == course_id))
    if course is None:
        raise NotFound
    return course


def may_edit(course: Course, user: User) -> bool:
    """The operator edits global courses; an organization edits its own."""
    return may_edit_library_item(course.organization_id, user)


def get_editable_course(course_id: int, user: User) -> Course:
    """:raises NotFound: unknown, invisible, or visible but not editable by ``user`` (a global course for an org)."""
    course = get_course(course_id)
    if not may_edit(course, user):
        raise NotFound
    return course


def bank_questions(course: Course) -> list[Question]:
    return list(
        db.session.scalars(
            select(Question).where(Question.course_id == course.bank_id).order_by(Question.position, Question.id)
        )
    )


def question_count(course: Course) -> int:
    return db.session.scalar(select(func.count(Question.id)).where(Question.course_id == course.bank_id)) or 0


def get_question(course: Course, question_id: int) -> Question:
    """:raises NotFound: unknown, or not in ``course``'s question bank."""
    question = db.session.scalar(
        select(Question).where(Question.id == question_id, Question.course_id == course.bank_id)
    )
    if question is None:
        raise NotFound
    return question


def get_lesson(course: Course, lesson_id: int) -> Lesson:
    """:raises NotFound: unknown, or not a lesson of ``course``."""
    lesson = db.session.scalar(select(Lesson).where(Lesson.id == lesson_id, Lesson.course_id == course.id))
    if lesson is None:
        raise NotFound
    return lesson


# --- courses ------------------------------------------------------------------------------------------


def _check_course_data(data: dict) -> None:
    if not 1 <= int(data.get("pass_mark", 100)) <= 100:
        raise CourseRuleError(_("合格点は1から100の間で指定してください。"), "pass_mark")
    if int(data.get("questions_per_attempt", 0)) < 0:
        raise CourseRuleError(_("出題数は0以上で指定してください（0は全問）。"), "questions_per_attempt")


def create_course(data: dict, *, by: User) -> Course:
    """A new course: global when ``by`` is staff, the organization's own otherwise."""
    _check_course_data(data)
    course = Course(
        organization_id=None if by.is_staff else by.organization_id,
        title=data["title"].strip(),
        fiscal_year=int(data["fiscal_year"]),
        kind=data.get("kind", CourseKind.ANNUAL),
        description=data.get("description", ""),
        pass_mark=int(data.get("pass_mark", 100)),
        questions_per_attempt=int(data.get("questions_per_attempt", 10)),
        late_policy=data.get("late_policy", "allow"),
    )
    db.session.add(course)
    db.session.flush()
    audit.record("course.created", target=course, title=course.title, fiscal_year=course.fiscal_year)
    return course


def update_course(course: Course, data: dict) -> None:
    _check_course_data(data)
    for name in ("title", "fiscal_year", "description", "pass_mark", "questions_per_attempt", "late_policy"):
        if name in data:
            setattr(course, name, data[name])
    db.session.flush()
    audit.record("course.updated", target=course)


def create_next_edition(course: Course) -> Course:
    """The next fiscal year's edition: lessons copied; the bank copied (annual) or shared (fixed).

    :raises CourseRuleError: when that edition exists already.
    """
    exists = db.session.scalar(
        select(Course.id).where(Course.previous_edition_id == course.id)
    )
    if exists:
        raise CourseRuleError(_("この講座の次年度版はすでにあります。"))
    edition = Course(
        organization_id=course.organization_id,
        title=course.title,
        fiscal_year=course.fiscal_year + 1,
        kind=course.kind,
        description=course.description,
        pass_mark=course.pass_mark,
        questions_per_attempt=course.questions_per_attempt,
        late_policy=course.late_policy,
        previous_edition_id=course.id,
        bank_course_id=course.bank_id if course.kind == CourseKind.FIXED else None,
    )
    db.session.add(edition)
    db.session.flush()
    for lesson in course.lessons:
        db.session.add(Lesson(course_id=edition.id, position=lesson.position, title=lesson.title,
                              body_md=lesson.body_md))
    if course.kind == CourseKind.ANNUAL:
        for question in bank_questions(course):
            copy = Question(course_id=edition.id, kind=question.kind, text=question.text,
                            explanation=question.explanation, category=question.category,
                            position=question.position)
            copy.choices = [Choice(text=c.text, is_correct=c.is_correct, position=c.position)
                            for c in question.choices]
            db.session.add(copy)
    db.session.flush()
    audit.record("course.edition_created", target=edition, previous=course.id, fiscal_year=edition.fiscal_year)
    return edition


# --- lessons ------------------------------------------------------------------------------------------


def save_lesson(course: Course, lesson: Lesson | None, title: str, body_md: str) -> Lesson:
    if lesson is None:
        position = (db.session.scalar(select(func.max(Lesson.position)).where(Lesson.course_id == course.id)) or 0)
        lesson = Lesson(course_id=course.id, position=position + 1)
        db.session.add(lesson)
    lesson.title = title.strip()
    lesson.body_md = body_md
    db.session.flush()
    audit.record("course.lesson_saved", target=course, lesson=lesson.id)
    return lesson


def delete_lesson(course: Course, lesson: Lesson) -> None:
    db.session.delete(lesson)
    db.session.flush()
    audit.record("course.lesson_deleted", target=course, lesson=lesson.id)


# --- images -------------------------------------------------------------------------------------------


def image_dir() -> str:
    path = os.path.join(current_app.instance_path, "course_images")
    os.makedirs(path, exist_ok=True)
    return path


def save_image(course: Course, upload: FileStorage) -> CourseImage:
    """Store a PNG, JPEG or GIF (recognised by its first bytes) of at most 2 MB.

    :raises CourseRuleError: for anything else.
    """
    data = upload.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise CourseRuleError(_("画像は2MB以下にしてください。"), "image")
    kind = next((v for magic, v in IMAGE_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise CourseRuleError(_("PNG、JPEG、GIF の画像を選んでください。"), "image")
    content_type, extension = kind
    stored = secrets.token_hex(16) + extension
    with open(os.path.join(image_dir(), stored), "wb") as fh:
        fh.write(data)
    image = CourseImage(course_id=course.id, filename=(upload.filename or "image")[-200:],
                        content_type=content_type, stored_name=stored)
    db.session.add(image)
    db.session.flush()
    audit.record("course.image_added", target=course, image=image.id)
    return image


def course_images(course: Course) -> list[CourseImage]:
    return list(db.session.scalars(select(CourseImage).where(CourseImage.course_id == course.id)))


# --- questions ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChoiceInput:
    text: str
    is_correct: bool


def parse_choice_lines(text: str) -> list[ChoiceInput]:
    """One choice per line; a line starting with ``*`` is a right answer."""
    choices = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        correct = line.startswith("*")
        choices.append(ChoiceInput(line.lstrip("*").strip(), correct))
    return choices


def _check_question(kind: str, text: str, choices: list[ChoiceInput]) -> None:
    if not text.strip():
        raise CourseRuleError(_("問題文を入力してください。"), "text")
    right = sum(c.is_correct for c in choices)
    if kind == QuestionKind.TRUE_FALSE:
        if len(choices) != 2 or right != 1:
            raise CourseRuleError(_("○×問題は正解を○か×のどちらかに決めてください。"), "answer")
        return
    if len(choices) < 2:
        raise CourseRuleError(_("選択肢を2つ以上入力してください。"), "choices")
    if any(not c.text for c in choices):
        raise CourseRuleError(_("空の選択肢があります。"), "choices")
    if kind == QuestionKind.SINGLE and right != 1:
        raise CourseRuleError(_("単一選択の問題には正解をちょうど1つ（行頭に * ）指定してください。"), "choices")
    if kind == QuestionKind.MULTIPLE and right < 1:
        raise CourseRuleError(_("複数選択の問題には正解を1つ以上（行頭に * ）指定してください。"), "choices")


def true_false_choices(answer_true: bool) -> list[ChoiceInput]:
    return [ChoiceInput(TRUE_FALSE_LABELS[0], answer_true), ChoiceInput(TRUE_FALSE_LABELS[1], not answer_true)]


def save_question(course: Course, question: Question | None, *, kind: str, text: str, explanation: str,
                  category: str, choices: Iterable[ChoiceInput]) -> Question:
    """Create or replace a question of the course's bank. :raises CourseRuleError:"""
    choices = list(choices)
    _check_question(kind, text, choices)
    if question is None:
        position = db.session.scalar(select(func.max(Question.position)).where(Question.course_id == course.bank_id))
        question = Question(course_id=course.bank_id, position=(position or 0) + 1)
        db.session.add(question)
    question.kind = kind
    question.text = text.strip()
    question.explanation = explanation.strip()
    question.category = category.strip()
    question.choices = [Choice(text=c.text, is_correct=c.is_correct, position=i) for i, c in enumerate(choices)]
    db.session.flush()
    audit.record("course.question_saved", target=course, question=question.id)
    return question


def delete_question(course: Course, question: Question) -> None:
    db.session.delete(question)
    db.session.flush()
    audit.record("course.question_deleted", target=course, question=question.id)


def choice_lines(question: Question) -> str:
    return "\n".join(("*" if c.is_correct else "") + c.text for c in question.choices)
