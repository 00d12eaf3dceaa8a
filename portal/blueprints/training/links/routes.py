"""Personal links and certificate verification (no sign-in needed)."""

from __future__ import annotations

import os

from flask import abort, redirect, render_template, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from portal import link_sessions, sign_in
from portal.blueprints.training.courses.services import image_dir
from portal.blueprints.training.links import bp
from portal.blueprints.training.quizzes.services import assignment_for_link, link_problem, verify_certificate
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.models import Course, CourseImage
from portal.tenancy import unscoped


@bp.get("/t/<token>")
@limiter.limit("30/minute")
def landing(token: str):
    """Shows what the link is for and a button. Records nothing: mail scanners open links too."""
    with unscoped("a personal link names its learner before anyone signs in"):
        assignment = assignment_for_link(token)
        problem = link_problem(assignment, current_user)
        context = {"problem": problem, "form": EmptyForm(), "token": token}
        if problem is None:
            context.update(delivery=assignment.delivery, learner_name=assignment.learner.name)
        return render_template("training_links/landing.html", **context), problem.status if problem else 200


@bp.post("/t/<token>")
@limiter.limit("30/minute")
def enter(token: str):
    """The learner's own click: a link session that opens this test only (see portal/link_sessions.py)."""
    with unscoped("a personal link names its learner before anyone signs in"):
        assignment = assignment_for_link(token)
        problem = link_problem(assignment, current_user)
        if problem is not None:
            if assignment is not None:
                link_sessions.audit_refusal(assignment.learner, "training_link", problem,
                                            delivery=assignment.delivery_id)
            return render_template("training_links/landing.html", problem=problem, form=EmptyForm(),
                                   token=token), problem.status
        if not EmptyForm().validate_on_submit():
            return redirect(url_for("training_links.landing", token=token), 303)
        sign_in.start_link_session(
            assignment.learner, link_sessions.ASSIGNMENT, assignment.id, "training_link",
            delivery=assignment.delivery_id,
        )
        return redirect(url_for("quizzes.assignment", assignment_id=assignment.id), 303)


@bp.get("/verify/<code>")
@limiter.limit("30/minute")
def verify(code: str):
    """Anyone may check a certificate: only the name, the course and the date are shown."""
    with unscoped("anyone may check any organization's certificate"):
        assignment = verify_certificate(code)
        if assignment is None:
            return render_template("training_links/verify.html", found=False, code=code), 404
        return render_template("training_links/verify.html", found=True, code=assignment.certificate_code,
                               name=assignment.learner.name, course=assignment.delivery.course,
                               passed_at=assignment.passed_at)


@bp.get("/training/images/<int:image_id>")
def image(image_id: int):
    """A lesson image, for signed-in users who may see its course (the tenant guard decides)."""
    if not current_user.is_authenticated:
        abort(404)
    image = db.session.get(CourseImage, image_id)
    if image is None or db.session.scalar(select(Course.id).where(Course.id == image.course_id)) is None:
        abort(404)
    path = os.path.join(image_dir(), image.stored_name)
    if not os.path.exists(path):
        abort(404)
    response = send_file(path, mimetype=image.content_type, max_age=3600)
    # An organization's own course material: browsers may keep it, shared caches may not.
    response.cache_control.public = False
    response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response

