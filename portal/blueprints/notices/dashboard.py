"""The notices panel of the administrator's and manager's start page: the operator's notices not read yet
(Art. 9-2)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from portal import notices
from portal.dashboard import LISTED, Panel, Viewer, register_panel
from portal.extensions import db
from portal.models import Notice, NoticeRead


@register_panel(order=50)
def notices_panel(viewer: Viewer) -> Panel:
    """The viewer's unread notices, newest first (the notice list marks the same ones 未読)."""
    user = viewer.user
    unread = notices.unread_count(user)
    read = select(NoticeRead.notice_id).where(NoticeRead.user_id == user.id)
    latest = db.session.execute(
        select(Notice.id, Notice.title, Notice.published_at)
        .where(notices.visible_to(user.organization_id), Notice.id.not_in(read))
        .order_by(Notice.published_at.desc(), Notice.id.desc())
        .limit(LISTED)
    ).all()
    # The operator's notices say nothing about whether the organization has started: always "empty".
    return Panel(key="notices", title=_("お知らせ"), template="notices/_dashboard_notices.html", empty=True,
                 data={"unread": unread, "notices": latest})
