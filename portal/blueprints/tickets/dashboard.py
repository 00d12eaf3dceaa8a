"""The support panel of the administrator's and manager's start page: the organization's open tickets and
when the desk promised to answer (``sla_due_at``: two business days on the desk's calendar, Art. 10,
:mod:`portal.business_calendar`; paused while the desk waits for the customer)."""

from __future__ import annotations

from functools import cache

from flask_babel import gettext as _
from sqlalchemy import Select, case, func, select

from portal.dashboard import LISTED, Panel, Viewer, register_panel
from portal.extensions import db
from portal.models import ACTIVE_STATUSES, Ticket, TicketCategory

_ACTIVE = [str(s) for s in ACTIVE_STATUSES]


@register_panel(order=40)
def tickets_panel(viewer: Viewer) -> Panel:
    """The organization's tickets still open (新規・対応中・返答待ち): the same for administrators and managers,
    as the tickets list is."""
    rows = db.session.execute(_open_tickets()).all()
    count = rows[0].count if rows else 0
    return Panel(
        key="tickets", title=_("お問い合わせ"), template="tickets/_dashboard.html", empty=not count,
        data={"count": count, "tickets": [row.Ticket for row in rows], "now": viewer.now},
    )


@cache
def _open_tickets() -> Select:
    """Built once (#17): the first LISTED open tickets, each row with the count of them all (counted before
    the limit). Emergencies first, then the soonest promise; those waiting for the customer (no promise
    running) last."""
    urgent = case((Ticket.category == TicketCategory.EMERGENCY, 0), else_=1)
    return (
        select(Ticket, func.count().over().label("count")).where(Ticket.status.in_(_ACTIVE))
        .order_by(urgent, Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.created_at.desc(), Ticket.id.desc())
        .limit(LISTED)
    )
