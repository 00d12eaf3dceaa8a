"""Sessions opened by a personal link: one task, not the account (#18).

A personal link (training ``/t/<token>``, inspection ``/i/<token>``) signs its person in with a *link
session* (``portal.sign_in.start_link_session``): the session lists the tasks it was opened for
(``session["link_grants"]``: an assignment, a round). One request gate, :func:`enforce_link_scope`, lets
a link session reach only

- the endpoints of ``SCOPED_ENDPOINTS``, for an object of a granted task (the view still checks that the
  object is the person's own), and
- the public and sign-in pages of ``ALWAYS_ALLOWED``.

Anything else is sent to sign-in (the password, then the second factor where enrolled), which replaces
the link session with a full one. A new route is therefore closed to link sessions until it is listed.

A link stops opening anything when the person's sessions were ended for the account's safety
(``User.sessions_ended_at``, set by a password reset or change, 「パスワードが他人に知られたかもしれない」,
an administrator ending sessions or deactivating) after the link was sent, while the password is disabled,
when the person is deactivated, and when the delivery or round is closed. A link session itself ends with
the person's sessions (the session token of Flask-Login's id) and, for a task, when the task closes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask, flash, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import audit
from portal.accounts import sign_in_page_for
from portal.extensions import db
from portal.htmx import redirect_page
from portal.models import (
    Assignment,
    Attempt,
    CourseImage,
    Delivery,
    DeliveryStatus,
    InspectionResponse,
    InspectionRound,
    RoundStatus,
    User,
)

GRANTS_KEY = "link_grants"
# One session may hold the links of a few tasks (two emails opened in one browser); never unbounded.
MAX_GRANTS = 10
ASSIGNMENT = "assignment"
ROUND = "round"

# Public pages, signing in (which upgrades the session) and out, and the links themselves.
ALWAYS_ALLOWED = frozenset(
    {
        "static",
        "main.set_language",
        "auth.login",
        "auth.org_login",
        "auth.two_factor",
        "auth.logout",
        "auth.forgot_password",
        "auth.reset_password",
        "training_links.landing",
        "training_links.enter",
        "training_links.verify",
        "inspection_links.landing",
        "inspection_links.enter",
        "legal.page",
        "status.page",
    }
)


class LinkProblem(str):
    """Why a personal link cannot be used (the Japanese text), with the status of its page: 404 for a
    link that is not one, 410 for one that worked once and no longer does."""

    status: int

    def __new__(cls, text: str, status: int = 404):
        problem = super().__new__(cls, text)
        problem.status = status
        return problem


# --- what a request is about: the tasks whose grant would let it through, and whether each has closed ----
# One statement per request reads both (#17): every request of a phone that came by its link passes here.

Task = tuple[str, int, bool]  # (kind, id, closed)


def _assignment_tasks(*criteria) -> list[Task]:
    rows = db.session.execute(
        select(Assignment.id, Delivery.status).join(Delivery, Delivery.id == Assignment.delivery_id).where(*criteria)
    )
    return [(ASSIGNMENT, assignment_id, status == DeliveryStatus.CLOSED) for assignment_id, status in rows]


def _round_tasks(*criteria) -> list[Task]:
    rows = db.session.execute(select(InspectionRound.id, InspectionRound.status).where(*criteria))
    return [(ROUND, round_id, status == RoundStatus.CLOSED) for round_id, status in rows]


def _assignment(args) -> list[Task]:
    return _assignment_tasks(Assignment.id == args["assignment_id"])


def _attempt(args) -> list[Task]:
    return _assignment_tasks(
        Assignment.id == select(Attempt.assignment_id).where(Attempt.id == args["attempt_id"]).scalar_subquery()
    )


def _lesson_image(args) -> list[Task]:
    course_id = select(CourseImage.course_id).where(CourseImage.id == args["image_id"]).scalar_subquery()
    return _assignment_tasks(Delivery.course_id == course_id, Assignment.learner_id == current_user.id)


def _round(args) -> list[Task]:
    return _round_tasks(InspectionRound.id == args["round_id"])


def _sheet(args) -> list[Task]:
    return _round_tasks(
        InspectionRound.id
        == select(InspectionResponse.round_id).where(InspectionResponse.id == args["response_id"]).scalar_subquery()
    )


# endpoint -> the tasks the requested object belongs to. Only these, for a granted task that is still open.
SCOPED_ENDPOINTS: dict[str, Callable[[dict], list[Task]]] = {
    "quizzes.assignment": _assignment,
    "quizzes.lesson": _assignment,
    "quizzes.start": _assignment,
    "quizzes.certificate": _assignment,
    "quizzes.certificate_pdf": _assignment,
    "quizzes.question": _attempt,
    "quizzes.answer": _attempt,
    "quizzes.review": _attempt,
    "quizzes.finish": _attempt,
    "quizzes.result": _attempt,
    "training_links.image": _lesson_image,
    "inspection_sheets.round_sheets": _round,
    "inspection_sheets.sheet": _sheet,
    "inspection_sheets.save": _sheet,
    "inspection_sheets.answer": _sheet,
}


# --- the session ---------------------------------------------------------------------------------------------


def is_link_session() -> bool:
    """Whether this request's session was opened by a personal link (and not yet upgraded by a sign-in)."""
    return GRANTS_KEY in session and current_user.is_authenticated


def granted() -> set[tuple[str, int]]:
    grants = session.get(GRANTS_KEY)
    if not isinstance(grants, list):
        return set()
    return {(g[0], g[1]) for g in grants if isinstance(g, list | tuple) and len(g) == 2}


def add_grant(kind: str, object_id: int) -> None:
    """Let this link session open one more task of the same person."""
    grants = [list(g) for g in sorted(granted()) if g != (kind, object_id)]
    session[GRANTS_KEY] = ([*grants, [kind, object_id]])[-MAX_GRANTS:]


def closed_problem(kind: str) -> LinkProblem:
    """The refusal when the task a link session was opened for has closed since."""
    if kind == ASSIGNMENT:
        return LinkProblem(_("この配信は終了しました。管理者にお問い合わせください。"), 410)
    return LinkProblem(_("この点検は終了しました。管理者にお問い合わせください。"), 410)


def revoked_problem(person: User, sent_at: datetime | None) -> LinkProblem | None:
    """The refusal for a link of ``person`` sent at ``sent_at`` when its person's account no longer lets it
    work: deactivated, password disabled, or every session ended after it was sent."""
    if not person.is_active:
        return LinkProblem(_("このリンクは無効です。メールのリンクをもう一度ご確認ください。"))
    ended = person.sessions_ended_at
    if person.password_compromised_at is not None or (ended is not None and (sent_at is None or sent_at <= ended)):
        return LinkProblem(
            _("このリンクは使えなくなりました。パスワードの再設定など、アカウントを守る操作で、それまでに送られたリンクは"
              "止まります。ログインしてから開いてください。"),
            410,
        )
    return None


def audit_refusal(person: User | None, via: str, problem: LinkProblem, **details) -> None:
    """A refused click on a link's button (never its GET: mail scanners open links). Someone else signed in
    is recorded in their own organization's log, without the other organization's ids; the record outlives the
    request's rollback (the refusal is answered 4xx)."""
    if current_user.is_authenticated and (person is None or current_user.id != person.id):
        audit.record_denial("auth.link_refused", target=current_user, via=via, reason="other_person")
        return
    reason = "gone" if problem.status == 410 else "invalid"
    audit.record_denial("auth.link_refused", target=person, actor=None, via=via, reason=reason, **details)


# --- the gate --------------------------------------------------------------------------------------------------


def _to_sign_in():
    target = sign_in_page_for(current_user)
    if request.method == "GET" and target == url_for("auth.login"):
        target = url_for("auth.login", next=request.full_path.rstrip("?"))
    flash(_("このページを開くには、パスワードでログインしてください（2段階認証を設定している方は確認コードも）。"),
          "warning")
    return redirect_page(target)


def enforce_link_scope():
    """Before each request: a link session reaches only its tasks (and public pages); see the module."""
    if not is_link_session():
        return None
    endpoint = request.endpoint
    if endpoint is None or endpoint in ALWAYS_ALLOWED:
        return None
    resolve = SCOPED_ENDPOINTS.get(endpoint)
    if resolve is None:
        return _to_sign_in()
    grants = granted()
    tasks = sorted(task for task in resolve(request.view_args or {}) if task[:2] in grants)
    if not tasks:
        return _to_sign_in()
    if any(not closed for _kind, _id, closed in tasks):
        return None
    problem = closed_problem(tasks[0][0])
    return render_template("auth/link_gone.html", problem=problem), problem.status


def init_app(app: Flask) -> None:
    """``is_link_session`` for templates (the link-scope gate is registered by portal/gates.py)."""
    app.jinja_env.globals["is_link_session"] = is_link_session
