"""The support panel of the administrator's and manager's start page: the organization's open tickets and
when the desk promised to answer (``sla_due_at``: two business days on the desk's calendar, Art. 10,
:mod:`portal.business_calendar`; paused while the desk waits for the customer)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import case, func, select

from portal.dashboard import LISTED, Panel, Viewer, register_panel
from portal.extensions import db
from portal.models import ACTIVE_STATUSES, Ticket, TicketCategory

_ACTIVE = [str(s) for s in ACTIVE_STATUSES]


@register_panel(order=40)
def tickets_panel(viewer: Viewer) -> Panel:
    """The organization's tickets still open (新規・対応中・返答待ち): the same for administrators and managers,
    as the tickets list is."""
    count = db.session.scalar(select(func.count(Ticket.id)).where(Ticket.status.in_(_ACTIVE)))
    # Emergencies first, then the soonest promise; those waiting for the customer (no promise running) last.
    urgent = case((Ticket.category == TicketCategory.EMERGENCY, 0), else_=1)
    tickets = db.session.scalars(
        select(Ticket).where(Ticket.status.in_(_ACTIVE))
        .order_by(urgent, Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.created_at.desc(), Ticket.id.desc())
        .limit(LISTED)
    ).all()
    return Panel(
        key="tickets", title=_("お問い合わせ"), template="tickets/_dashboard.html", empty=not count,
        data={"count": count or 0, "tickets": tickets, "now": viewer.now},
    )
