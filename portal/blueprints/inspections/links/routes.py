"""Personal links of inspections (no sign-in needed to open them)."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user

from portal import link_sessions, sign_in
from portal.blueprints.inspections.links import bp
from portal.blueprints.inspections.sheets.services import link_problem, response_for_link
from portal.extensions import limiter
from portal.forms import EmptyForm
from portal.tenancy import unscoped


@bp.get("/i/<token>")
@limiter.limit("30/minute")
def landing(token: str):
    """Shows what the link is for and a button. Records nothing: mail scanners open links too."""
    with unscoped("a personal link names its person before anyone signs in"):
        response = response_for_link(token)
        problem = link_problem(response, current_user)
        context = {"problem": problem, "form": EmptyForm(), "token": token}
        if problem is None:
            context.update(inspection_round=response.round, name=response.respondent.name)
        return render_template("inspection_links/landing.html", **context), problem.status if problem else 200


@bp.post("/i/<token>")
@limiter.limit("30/minute")
def enter(token: str):
    """The person's own click: a link session that opens this round's sheets only (a manager's: the team
    sheets of this round), see portal/link_sessions.py."""
    with unscoped("a personal link names its person before anyone signs in"):
        response = response_for_link(token)
        problem = link_problem(response, current_user)
        if problem is not None:
            if response is not None:
                link_sessions.audit_refusal(response.respondent, "inspection_link", problem, round=response.round_id)
            return render_template("inspection_links/landing.html", problem=problem, form=EmptyForm(),
                                   token=token), problem.status
        if not EmptyForm().validate_on_submit():
            return redirect(url_for("inspection_links.landing", token=token), 303)
        sign_in.start_link_session(
            response.respondent, link_sessions.ROUND, response.round_id, "inspection_link", round=response.round_id
        )
        return redirect(url_for("inspection_sheets.round_sheets", round_id=response.round_id), 303)
