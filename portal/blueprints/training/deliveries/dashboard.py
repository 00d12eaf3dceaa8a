"""The training panel of the administrator's and manager's start page: the open deliveries (配信中) with
their completion and pass rates and the learners past the due date who have not passed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from flask_babel import gettext as _
from sqlalchemy import Select, case, func, select

from portal.dashboard import Panel, Viewer, register_panel
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import Assignment, AssignmentStatus, Delivery, DeliveryStatus

# Open deliveries listed on the panel (the most overdue first); the rest are on the delivery list.
LISTED = 8


@dataclass(frozen=True)
class OpenDelivery:
    id: int
    title: str
    round_no: int
    due_at: datetime
    assigned: int
    finished: int  # took the test to the end at least once (合格 or 不合格)
    passed: int
    past_due: bool

    @property
    def completion_rate(self) -> float:
        return self.finished / self.assigned if self.assigned else 0.0

    @property
    def pass_rate(self) -> float:
        return self.passed / self.assigned if self.assigned else 0.0

    @property
    def overdue(self) -> int:
        """Learners who have not passed although the due date has gone (the results page's 未合格)."""
        return self.assigned - self.passed if self.past_due else 0


def open_deliveries(viewer: Viewer) -> list[OpenDelivery]:
    """Every delivery in progress with its figures over the viewer's learners, soonest due first, in one query.

    A manager sees the deliveries that concern the learners they look after, counted over those learners.
    """
    statement = _open_deliveries_of_all() if viewer.learners is None else _open_deliveries(viewer.learners)
    return [OpenDelivery(i, title, round_no, due_at, n or 0, f or 0, p or 0, due_at <= viewer.now)
            for i, title, round_no, due_at, n, f, p in db.session.execute(statement)]


def _open_deliveries(learners: Select | None) -> Select:
    """The deliveries in progress with their figures over ``learners`` (a select of ids; None: everyone)."""
    finished = func.sum(case((Assignment.status.in_([AssignmentStatus.PASSED, AssignmentStatus.FAILED]), 1),
                             else_=0))
    passed = func.sum(case((Assignment.status == AssignmentStatus.PASSED, 1), else_=0))
    among = [] if learners is None else [Assignment.learner_id.in_(learners)]
    return (
        select(Delivery.id, Delivery.title, Delivery.round_no, Delivery.due_at, func.count(Assignment.id), finished,
               passed)
        .join(Assignment, Assignment.delivery_id == Delivery.id)
        .where(Delivery.status == DeliveryStatus.LAUNCHED, *among)
        .group_by(Delivery.id, Delivery.title, Delivery.round_no, Delivery.due_at)
        .order_by(Delivery.due_at, Delivery.id)
    )


@cache
def _open_deliveries_of_all() -> Select:
    """Built once (#17): an administrator's (every learner)."""
    return _open_deliveries(None)


@register_panel(order=10)
def training_panel(viewer: Viewer) -> Panel:
    deliveries = open_deliveries(viewer)
    return Panel(
        key="training", title=_("研修（セキュトレ）"), template="training/_dashboard.html", empty=not deliveries,
        data={"deliveries": deliveries[:LISTED], "more": max(0, len(deliveries) - LISTED), "count": len(deliveries),
              "overdue": sum(d.overdue for d in deliveries), "remind_form": EmptyForm() if viewer.is_admin else None},
    )
