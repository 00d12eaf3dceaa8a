"""The org area's panel of the start page: for the administrator, the seats used against the contract's limit
(Art. 3-2). The notices panel is the notices subject's (portal/blueprints/notices/dashboard.py)."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.dashboard import Panel, Viewer, register_panel
from portal.seats import seat_check


@register_panel(order=60)
def seats_panel(viewer: Viewer) -> Panel | None:
    """Active learners against the limit: the administrator's (managers do not see the contract)."""
    if not viewer.is_admin:
        return None
    seat = seat_check(viewer.user.organization)
    return Panel(key="seats", title=_("利用者数"), template="org/_dashboard_seats.html", empty=not seat.used,
                 data={"seat": seat})
