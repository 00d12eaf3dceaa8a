"""A refused business rule, shown on the form that asked for it.

A view runs its service inside ``with rule_violations_shown():``. When the service raises
:class:`RuleViolation`, everything the request wrote so far is rolled back, the message is flashed (or set
on a form field, or on the form), and the view goes on after the ``with`` block, where it renders the same
form again — with what was typed — and :func:`form_status` answers 422::

    if form.validate_on_submit():
        with rule_violations_shown():
            org = create_organization(...)
            flash(_("組織を登録しました。"), "success")
            return redirect(url_for("operator_organizations.organization_detail", org_id=org.id), 303)
    return render_template("organizations/operator_organization_new.html", form=form), form_status()

A RuleViolation that no view catches is answered with a 422 page that carries its message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, flash, request
from wtforms import Field, Form

from portal.extensions import db
from portal.rules import RuleViolation


class Refusal:
    """What :func:`undone_on` caught: falsy while nothing was refused; ``str()`` is the message."""

    error: Exception | None = None

    def __bool__(self) -> bool:
        return self.error is not None

    def __str__(self) -> str:
        return str(self.error or "")


@contextmanager
def undone_on(*catch: type[Exception]) -> Iterator[Refusal]:
    """Run the block; a ``catch`` exception (a :class:`RuleViolation` unless told) rolls back everything
    the request wrote so far and is kept on the yielded :class:`Refusal` instead of propagating, for the
    view to answer as it needs::

        with undone_on(QuizRuleError) as refusal:
            services.save_answer(attempt, question_id, choice_ids)
        if refusal:
            return _question_page(attempt, number, 422, str(refusal))
    """
    refusal = Refusal()
    refused = catch or (RuleViolation,)
    try:
        yield refusal
    except refused as error:
        db.session.rollback()
        refusal.error = error


@contextmanager
def rule_violations_shown(
    on: Field | Form | list | None = None,
    *,
    catch: type[Exception] | tuple[type[Exception], ...] = (),
    message: str | None = None,
    field: str | None = None,
) -> Iterator[None]:
    """Run the block; a ``catch`` exception (a :class:`RuleViolation` unless told) rolls back the
    request's writes (:func:`undone_on`) and shows its message (``message`` if given, else
    ``str(error)``):

    * ``on=None``: as an error flash;
    * ``on=<field>``: as an error of that field;
    * ``on=<form>``: as an error of the field the exception names (``error.field``), else of the field
      named ``field``, else as a flash;
    * ``on=<list>`` (say ``form.form_errors``): appended to it.

    The rest of the block does not run; the exception does not propagate.
    """
    with undone_on(*(catch if isinstance(catch, tuple) else (catch,))) as refusal:
        yield
    if not refusal:
        return
    text = str(message if message is not None else refusal)
    if isinstance(on, Form):
        on = getattr(on, getattr(refusal.error, "field", None) or field or "", None)
    if isinstance(on, list):
        on.append(text)
    elif isinstance(on, Field):
        on.errors = [*on.errors, text]
    else:
        flash(text, "error")


def form_status(form: Form | None = None) -> int:
    """422 for a form sent back with errors (a POST that did not redirect), 200 for the page itself."""
    return 422 if request.method == "POST" or (form is not None and form.errors) else 200


def init_app(app: Flask) -> None:
    from portal.errors import MESSAGES, render_error

    @app.errorhandler(RuleViolation)
    def _refused(error: Exception):
        return render_error(422, MESSAGES[400][0], str(error))
