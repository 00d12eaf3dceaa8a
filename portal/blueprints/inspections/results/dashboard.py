"""The セキュレジ panels of the administrator's and manager's start page: this month's rounds (compliance and
who has not submitted), the items 要注意 (failing month after month, as on the results page) and the
corrective actions (是正処置) still open, soonest due first.

Figures come from the tallies and the responses in a fixed number of queries; a manager's cover the
departments they look after, as the results pages do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import Select, and_, bindparam, case, func, select

from portal.blueprints.inspections.results import services
from portal.blueprints.inspections.results.services import FAILING_MONTHS, WINDOW_MONTHS, Figures
from portal.clock import shift_month, this_month, today_in_tokyo
from portal.dashboard import LISTED, Panel, Viewer, register_panel
from portal.departments import may_open_record
from portal.extensions import db
from portal.models import (
    ActionStatus,
    CorrectiveAction,
    InspectionEdition,
    InspectionItem,
    InspectionResponse,
    InspectionRound,
    InspectionTally,
    ResponseStatus,
    User,
)
from portal.site_state import ProcessCache
from portal.tenancy import current_scope


@dataclass
class MonthRound:
    """One round of this month, over the viewer's departments."""

    id: int
    title: str
    edition_id: int
    month: date
    counts: dict[str, int] = field(default_factory=dict)
    figures: Figures = field(default_factory=Figures)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def submitted(self) -> int:
        return self.counts.get(ResponseStatus.SUBMITTED, 0)

    @property
    def pending(self) -> int:
        """Sheets not submitted yet (未回答 and 回答中): the round page's まだ提出していない人."""
        return self.total - self.submitted

    @property
    def low(self) -> bool:
        return self.figures.rate is not None and self.figures.rate < services.FAILING_RATE


def month_rounds(viewer: Viewer, month: date) -> list[MonthRound]:
    """The rounds of 点検月 ``month`` that ask someone in the viewer's departments, in two queries."""
    sheets, tallies = (_month_statements_of_all() if viewer.departments is None
                       else _month_statements(viewer.departments))
    rounds: dict[int, MonthRound] = {}
    for round_id, title, edition_id, status, n in db.session.execute(sheets, {"month": month}):
        rounds.setdefault(round_id, MonthRound(round_id, title, edition_id, month)).counts[status] = n
    for round_id, yes, no, na in db.session.execute(tallies, {"month": month}):
        if round_id in rounds:
            rounds[round_id].figures.add(yes, no, na)
    return list(rounds.values())


def _month_statements(departments: set[int] | None) -> tuple[Select, Select]:
    """The sheets by round and status, and the tallies by round, of the rounds of ``:month`` over
    ``departments`` (None: every department)."""
    sheets = (
        select(InspectionRound.id, InspectionRound.title, InspectionRound.edition_id, InspectionResponse.status,
               func.count(InspectionResponse.id))
        .join(InspectionResponse, InspectionResponse.round_id == InspectionRound.id)
        .where(InspectionRound.month == bindparam("month"),
               *services._within(InspectionResponse.department_id, departments))
        .group_by(InspectionRound.id, InspectionRound.title, InspectionRound.edition_id, InspectionResponse.status)
        .order_by(InspectionRound.id)
    )
    tallies = (
        select(InspectionTally.round_id, *services._tally_sums())
        .join(InspectionRound, InspectionRound.id == InspectionTally.round_id)
        .where(InspectionRound.month == bindparam("month"),
               *services._within(InspectionTally.department_id, departments))
        .group_by(InspectionTally.round_id)
    )
    return sheets, tallies


@cache
def _month_statements_of_all() -> tuple[Select, Select]:
    """Built once (#17): an administrator's (every department)."""
    return _month_statements(None)


@dataclass(frozen=True)
class FailingItem:
    edition_id: int
    edition_title: str
    month: date  # the edition's latest 点検月, where the run ends
    category: str
    text: str
    streak: int
    figures: Figures


def failing_items(viewer: Viewer, month: date) -> list[FailingItem]:
    """The items 要注意 of every edition held in the last twelve months, at the edition's latest 点検月 up to
    ``month`` (the results page's default month), in one query.

    Kept per process for a minute by organization, departments and month (the query reads fourteen months
    of tallies, a tenth of the start page's cost; a run of failing months changes once a month at most),
    and forgotten when this process writes a tally."""
    departments = None if viewer.departments is None else frozenset(viewer.departments)
    return _failing.get(viewer.now, (current_scope(), departments, month))


def _load_failing_items(_now, key) -> list[FailingItem]:
    _organization, departments, month = key
    first = shift_month(month, -(WINDOW_MONTHS + FAILING_MONTHS - 1))
    viewer_departments = None if departments is None else set(departments)
    rows = db.session.execute(
        select(InspectionRound.edition_id, InspectionEdition.title, InspectionRound.month, InspectionItem.id,
               InspectionItem.category, InspectionItem.text, *services._tally_sums())
        .join(InspectionEdition, InspectionEdition.id == InspectionRound.edition_id)
        .outerjoin(InspectionTally, and_(InspectionTally.round_id == InspectionRound.id,
                                         *services._within(InspectionTally.department_id, viewer_departments)))
        .outerjoin(InspectionItem, InspectionItem.id == InspectionTally.item_id)
        .where(InspectionRound.month.between(first, month))
        .group_by(InspectionRound.edition_id, InspectionEdition.title, InspectionRound.month, InspectionItem.id,
                  InspectionItem.category, InspectionItem.text)
    ).all()
    latest: dict[int, date] = {}
    by_month_item: dict[int, dict[tuple[date, int], Figures]] = {}
    items: dict[int, tuple[str, str]] = {}
    titles: dict[int, str] = {}
    for edition_id, title, round_month, item_id, category, text, yes, no, na in rows:
        titles[edition_id] = title
        latest[edition_id] = max(latest.get(edition_id, round_month), round_month)
        if item_id is not None:
            by_month_item.setdefault(edition_id, {})[(round_month, item_id)] = Figures().add(yes, no, na)
            items[item_id] = (category, text)
    out = []
    recent = shift_month(month, -(WINDOW_MONTHS - 1))
    for edition_id, last in latest.items():
        if last < recent:
            continue  # an edition not held for a year: its results page is history, not news
        cells = by_month_item.get(edition_id, {})
        for (round_month, item_id), figures in cells.items():
            if round_month != last:
                continue
            streak = services._streak(cells, item_id, last)
            if streak >= FAILING_MONTHS:
                category, text = items[item_id]
                out.append(FailingItem(edition_id, titles[edition_id], last, category, text, streak, figures))
    out.sort(key=lambda f: (-f.streak, f.figures.rate or 0.0, f.edition_id, f.category, f.text))
    return out


_failing = ProcessCache("failing inspection items", (InspectionTally, InspectionRound, InspectionItem),
                        timedelta(seconds=60), _load_failing_items)


@register_panel(order=20)
def inspections_panel(viewer: Viewer) -> Panel:
    month = this_month(viewer.now)
    rounds = month_rounds(viewer, month)
    failing = failing_items(viewer, month)
    return Panel(
        key="inspections", title=_("点検（セキュレジ）"), template="inspection_results/_dashboard.html",
        empty=not rounds and not failing,
        data={"month": month, "rounds": rounds, "failing": failing[:LISTED], "failing_count": len(failing),
              "failing_rate": services.FAILING_RATE, "failing_months": FAILING_MONTHS},
    )


@register_panel(order=30)
def actions_panel(viewer: Viewer) -> Panel:
    """Open corrective actions (未着手・対応中) the viewer may see, soonest due first."""
    today = today_in_tokyo(viewer.now)
    criteria = services.actions_visible_to(viewer.user, viewer.departments)
    statement = _open_actions(tuple(criteria)) if criteria else _open_actions_of_all()
    soonest = db.session.execute(statement, {"today": today}).all()
    return Panel(
        key="actions", title=_("是正処置"), template="inspection_results/_dashboard_actions.html", empty=not soonest,
        data={"count": soonest[0].count if soonest else 0, "overdue": soonest[0].overdue if soonest else 0,
              "actions": soonest, "today": today,
              # Owners who are learners the viewer looks after: their names open their record.
              "records": {a.id for a in soonest
                          if may_open_record(viewer.departments, a.owner_role, a.owner_department_id)},
              "labels": services.ACTION_LABELS, "is_overdue": services.is_overdue},
    )


def _open_actions(criteria: tuple) -> Select:
    """The first LISTED open actions meeting ``criteria``, soonest due first, each row with the count of them
    all and of those overdue on ``:today`` (counted before the limit), in one statement."""
    overdue = func.sum(case((CorrectiveAction.due_on < bindparam("today"), 1), else_=0))
    return (
        select(CorrectiveAction.id, CorrectiveAction.title, CorrectiveAction.status, CorrectiveAction.due_on,
               CorrectiveAction.owner_id, User.name.label("owner_name"), User.role.label("owner_role"),
               User.department_id.label("owner_department_id"), func.count().over().label("count"),
               overdue.over().label("overdue"))
        .outerjoin(User, User.id == CorrectiveAction.owner_id)
        .where(CorrectiveAction.status != ActionStatus.DONE, *criteria)
        .order_by(CorrectiveAction.due_on.is_(None), CorrectiveAction.due_on, CorrectiveAction.id)
        .limit(LISTED)
    )


@cache
def _open_actions_of_all() -> Select:
    """Built once (#17): an administrator's (every action)."""
    return _open_actions(())
