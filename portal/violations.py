"""A refused business rule, shown on the form that asked for it.

A view runs its service inside ``with rule_violations_shown():``. When the service raises
:class:`RuleViolation`, everything the request wrote so far is rolled back, the message is flashed (or set
on a form field, or on the form), and the view goes on after the ``with`` block, where it renders the same
form again — with what was typed — and :func:`form_status` answers 422::

    if form.validate_on_submit():
        with rule_violations_shown():
            org = services.create_organization(...)
            flash(_("組織を登録しました。"), "success")
            return redirect(url_for("operator.organization_detail", org_id=org.id), 303)
    return render_template("operator/organization_new.html", form=form), form_status()

A RuleViolation that no view catches is answered with a 422 page that carries its message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, flash, request
from wtforms import Field, Form

from portal.blueprints.operator.services import RuleViolation
from portal.extensions import db


@contextmanager
def rule_violations_shown(
    on: Field | Form | None = None, *, catch: type[Exception] | tuple[type[Exception], ...] = RuleViolation
) -> Iterator[None]:
    """Run the block; a ``catch`` exception (a :class:`RuleViolation` unless told) rolls back the
    request's writes and shows ``str(error)``: as an error flash, as an error of the field ``on``, or,
    for a form ``on``, among its ``form_errors``. The rest of the block does not run; the exception does
    not propagate."""
    try:
        yield
    except catch as error:
        db.session.rollback()
        if on is None:
            flash(str(error), "error")
        elif isinstance(on, Form):
            on.form_errors.append(str(error))
        else:
            on.errors = [*on.errors, str(error)]


def form_status(form: Form | None = None) -> int:
    """422 for a form sent back with errors (a POST that did not redirect), 200 for the page itself."""
    return 422 if request.method == "POST" or (form is not None and form.errors) else 200


def init_app(app: Flask) -> None:
    from portal.errors import MESSAGES, render_error

    @app.errorhandler(RuleViolation)
    def _refused(error: RuleViolation):
        return render_error(422, MESSAGES[400][0], str(error))
