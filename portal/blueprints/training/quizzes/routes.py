"""The learner's training pages. One question per screen; every answer is saved when chosen."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal import certificates
from portal.accounts import signed_in_user as _me
from portal.blueprints.training.courses.services import render_markdown
from portal.blueprints.training.quizzes import bp, services
from portal.blueprints.training.quizzes.services import STATUS_LABELS, QuizRuleError
from portal.forms import EmptyForm
from portal.htmx import is_htmx, page_at, redirect_page, render_page_or_block
from portal.ids import database_int
from portal.models import Attempt, AttemptState
from portal.violations import undone_on


@bp.get("/")
def index():
    return render_template("quizzes/index.html", assignments=services.learner_assignments(_me()),
                           labels=STATUS_LABELS)


@bp.get("/<int:assignment_id>")
def assignment(assignment_id: int):
    current = services.get_assignment(assignment_id, _me())
    course = current.delivery.course
    attempts = services.attempt_history(current)
    return render_template(
        "quizzes/assignment.html", assignment=current, delivery=current.delivery, course=course,
        lessons=services.lesson_titles(course),
        running=next((a for a in attempts if a.state == AttemptState.IN_PROGRESS), None), attempts=attempts,
        labels=STATUS_LABELS,
        late=services.is_late(current), action_form=EmptyForm(),
    )


@bp.get("/<int:assignment_id>/lessons/<int:lesson_id>")
def lesson(assignment_id: int, lesson_id: int):
    current = services.get_assignment(assignment_id, _me())
    course = current.delivery.course
    # The course's lessons (for 前へ・次へ) hold the one shown: one statement, not a second read of it.
    lessons = course.lessons
    position = next((i for i, lesson in enumerate(lessons) if lesson.id == lesson_id), None)
    if position is None:
        abort(404)
    shown = lessons[position]
    return render_template("quizzes/lesson.html", assignment=current, course=course, lesson=shown,
                           body=render_markdown(shown.body_md), previous=lessons[position - 1] if position else None,
                           following=lessons[position + 1] if position + 1 < len(lessons) else None)


@bp.post("/<int:assignment_id>/start")
def start(assignment_id: int):
    """Start or resume the test and go to its first unanswered question: a plain form by a redirect, htmx
    (the button with JavaScript) in this same response, the address pushed with ``HX-Push-Url`` (one
    request instead of two while a whole company starts at 9:00: #17). A refusal goes back to the
    assignment's page with the reason, as a whole page either way."""
    current = services.get_assignment(assignment_id, _me())
    back = url_for("quizzes.assignment", assignment_id=current.id)
    if not EmptyForm().validate_on_submit():
        flash(_("画面の有効期限が切れました。もう一度お試しください。"), "error")
        return redirect_page(back)
    with undone_on(QuizRuleError) as refusal:
        attempt, number = services.start_or_resume(current)
    if refusal:
        flash(str(refusal), "error")
        return redirect_page(back)
    return page_at(url_for("quizzes.question", attempt_id=attempt.id, number=number),
                   lambda: _question_page(attempt, number, whole=True)[0])


def _question_page(attempt: Attempt, number: int, status: int = 200, error: str | None = None, saved=False, *,
                   whole: bool = False):
    """The question page, or for htmx's autosave only its status line; ``whole``: the page even for htmx (a
    button's answer, whose ``#main`` replaces the page's)."""
    fragment = is_htmx() and not whole
    # The status line says "saved" or the error without the question (#17: the question, its choices and the
    # saved choice were read for nothing, two statements per tap).
    shown = None if fragment and (error or saved) else services.screen(attempt, number - 1)
    context = {"attempt": attempt, "screen": shown, "number": number, "form": EmptyForm(), "error": error,
               "saved": saved}
    if fragment:
        return render_page_or_block("quizzes/question.html", "answer_status", **context), status
    return render_template("quizzes/question.html", **context), status


@bp.get("/attempts/<int:attempt_id>/<int:number>")
def question(attempt_id: int, number: int):
    attempt = services.get_attempt(attempt_id, _me(), with_delivery=False)
    if attempt.state != AttemptState.IN_PROGRESS:
        return redirect(url_for("quizzes.result", attempt_id=attempt.id), 303)
    return _question_page(attempt, number)


@bp.post("/attempts/<int:attempt_id>/answer")
def answer(attempt_id: int):
    """Save one answer. htmx's autosave (a choice made) gets the status line back; 前へ and 保存して次へ go on
    to that screen: a plain form by a redirect, htmx in this same response (one request, not a redirect and
    a second one: #17), the address pushed with ``HX-Push-Url``."""
    attempt = services.get_attempt(attempt_id, _me())
    number = request.form.get("number", type=int) or 1
    if not 1 <= number <= len(attempt.question_ids or []):
        abort(404)
    moving = request.form.get("go") in ("next", "previous")  # a button, not htmx's autosave
    if not EmptyForm().validate_on_submit():
        return _question_page(attempt, number, 422, _("画面の有効期限が切れました。読み込み直してください。"),
                              whole=moving)
    question_id = request.form.get("question_id", type=database_int)
    try:
        choice_ids = [int(v) for v in request.form.getlist("choice")]
    except ValueError:
        choice_ids = [-1]
    going_back = request.form.get("go") == "previous" and number > 1
    # 前へ on a question not answered yet saves nothing: no 「選択肢を選んでください」 on the way back.
    if not (going_back and not choice_ids and attempt.state == AttemptState.IN_PROGRESS):
        with undone_on(QuizRuleError) as refusal:
            services.save_answer(attempt, question_id or 0, choice_ids)
        if refusal:
            if attempt.state != AttemptState.IN_PROGRESS and (moving or not is_htmx()):
                flash(str(refusal), "error")
                return redirect_page(url_for("quizzes.result", attempt_id=attempt.id))
            return _question_page(attempt, number, 422, str(refusal), whole=moving)
        if is_htmx() and not moving:
            return _question_page(attempt, number, saved=True)
    if going_back:
        following = number - 1
    elif number < len(attempt.question_ids):
        following = number + 1
    else:
        following = None  # the review before finishing
    if following is None:
        return page_at(url_for("quizzes.review", attempt_id=attempt.id), lambda: _review_page(attempt))
    return page_at(url_for("quizzes.question", attempt_id=attempt.id, number=following),
                   lambda: _question_page(attempt, following, whole=True)[0])


@bp.get("/attempts/<int:attempt_id>/review")
def review(attempt_id: int):
    attempt = services.get_attempt(attempt_id, _me())
    if attempt.state != AttemptState.IN_PROGRESS:
        return redirect(url_for("quizzes.result", attempt_id=attempt.id), 303)
    return _review_page(attempt)


def _review_page(attempt: Attempt) -> str:
    answered = services.answered_question_ids(attempt)
    missing = [i + 1 for i, q in enumerate(attempt.question_ids) if q not in answered]
    return render_template("quizzes/review.html", attempt=attempt, missing=missing, form=EmptyForm())


@bp.post("/attempts/<int:attempt_id>/finish")
def finish(attempt_id: int):
    attempt = services.get_attempt(attempt_id, _me())
    if attempt.state == AttemptState.IN_PROGRESS:
        if not EmptyForm().validate_on_submit():
            flash(_("画面の有効期限が切れました。もう一度お試しください。"), "error")
            return redirect(url_for("quizzes.review", attempt_id=attempt.id), 303)
        with undone_on(QuizRuleError) as refusal:
            services.finish_attempt(attempt)
        if refusal:
            flash(str(refusal), "error")
            return redirect(url_for("quizzes.assignment", assignment_id=attempt.assignment_id), 303)
    return redirect(url_for("quizzes.result", attempt_id=attempt.id), 303)


@bp.get("/attempts/<int:attempt_id>/result")
def result(attempt_id: int):
    attempt = services.get_attempt(attempt_id, _me())
    if attempt.state != AttemptState.FINISHED:
        return redirect(url_for("quizzes.review", attempt_id=attempt.id), 303)
    current = attempt.assignment
    return render_template("quizzes/result.html", attempt=attempt, assignment=current,
                           course=current.delivery.course, items=services.review(attempt),
                           passed_course=current.status == "passed", action_form=EmptyForm())


@bp.get("/<int:assignment_id>/certificate")
def certificate(assignment_id: int):
    shown = certificates.get_certificate_or_404(assignment_id, learner_id=_me().id)
    return render_template("quizzes/certificate.html", certificate=shown, issuer=certificates.issuer())


@bp.get("/<int:assignment_id>/certificate.pdf")
def certificate_pdf(assignment_id: int):
    return certificates.pdf_response(certificates.get_certificate_or_404(assignment_id, learner_id=_me().id))
