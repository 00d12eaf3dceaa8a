"""Choosing people for a training delivery or an inspection round by searching: what both forms share.

The picker shows the people already chosen (checked) and up to :data:`SHOWN` others matching the search
(unchecked). A search keeps the chosen ones, whether it comes from htmx (the fragment, with the checked
boxes sent along) or from the form's 検索 button without JavaScript (the whole form posted back and
shown again, nothing saved). The tenant scope limits every query to the organization; a manager would
see only the learners of their departments (:func:`portal.departments.scope_learners`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask import request
from sqlalchemy import Select, func, or_, select

from portal.departments import scope_learners
from portal.extensions import db
from portal.ids import MAX_ID, parse_id
from portal.models import Role, TargetKind, User

SHOWN = 50
MAX_QUERY = 100
# The ids a request may carry as chosen: far beyond any hand-picked list, and a bound on the IN (...).
MAX_CHOSEN = 5000
# The button of the form that searches instead of saving (its name in the posted form).
SEARCH_BUTTON = "learner_search"


@dataclass(frozen=True)
class Person:
    id: int
    login_id: str | None
    name: str
    role: str


@dataclass(frozen=True)
class Picker:
    query: str
    chosen: list[Person]
    matches: list[Person]
    more: bool  # more people match than are shown


def searching() -> bool:
    """True when the form was posted with its 検索 button: show it again with the results, save nothing."""
    return request.method == "POST" and SEARCH_BUTTON in request.form


def chosen_ids(values: Iterable) -> list[int]:
    """The ids of a request's ``learner_ids`` (text or numbers), without duplicates, anything else dropped."""
    ids: dict[int, None] = {}
    for value in values or ():
        number = value if isinstance(value, int) else parse_id(str(value))
        if number is not None and 0 < number <= MAX_ID and len(ids) < MAX_CHOSEN:
            ids[number] = None
    return list(ids)


def _people(viewer: User, roles: Sequence[Role]) -> Select:
    stmt = select(User.id, User.login_id, User.name, User.role).where(
        User.role.in_([str(r) for r in roles]), User.is_active_flag.is_(True)
    )
    if viewer.role == Role.ORG_ADMIN:
        return stmt
    # Anyone else chooses among the learners they look after (a manager: their departments'; others: none).
    return scope_learners(stmt, viewer)


def _without_spaces(column):
    return func.replace(func.replace(column, " ", ""), "\u3000", "")


def _matching(stmt: Select, query: str) -> Select:
    # Every word must match the login id, the name (spaces ignored: 佐藤翔太 finds 佐藤 翔太) or the address.
    for word in query.split():
        stmt = stmt.where(or_(
            User.login_id.icontains(word, autoescape=True),
            _without_spaces(User.name).icontains(word, autoescape=True),
            User.email.icontains(word, autoescape=True),
        ))
    return stmt


def search(viewer: User, query: str | None, chosen: Iterable, roles: Sequence[Role] = (Role.LEARNER,)) -> Picker:
    """The people ``viewer`` may choose (active, with one of ``roles``): those in ``chosen`` that still
    qualify, and the first :data:`SHOWN` others matching ``query``. Two queries whatever the numbers."""
    query = " ".join((query or "").split())[:MAX_QUERY]
    ids = chosen_ids(chosen)
    stmt = _people(viewer, roles)
    order = (User.role.desc(), User.login_id, User.id)
    people = []
    if ids:
        people = [Person(*row) for row in db.session.execute(stmt.where(User.id.in_(ids)).order_by(*order))]
    rest = _matching(stmt, query)
    if ids:
        rest = rest.where(User.id.not_in(ids))
    rows = [Person(*row) for row in db.session.execute(rest.order_by(*order).limit(SHOWN + 1))]
    return Picker(query=query, chosen=people, matches=rows[:SHOWN], more=len(rows) > SHOWN)


def search_from_query(form) -> None:
    """A picker search asked by GET (htmx or a link): the search text and the chosen people from the URL
    into ``form`` (a delivery's or a round's), which then targets the chosen people when there are any."""
    form.learner_q.data = request.args.get("learner_q", "")
    form.learner_ids.data = chosen_ids(request.args.getlist("learner_ids"))
    if form.learner_ids.data:
        form.target_kind.data = TargetKind.LEARNERS
