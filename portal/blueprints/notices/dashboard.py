"""The notices panel of the administrator's and manager's start page: the operator's notices not read yet
(Art. 9-2)."""

from __future__ import annotations

from functools import cache

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, func, select

from portal import notices
from portal.dashboard import LISTED, Panel, Viewer, register_panel
from portal.extensions import db
from portal.models import Notice, NoticeRead


@register_panel(order=50)
def notices_panel(viewer: Viewer) -> Panel:
    """The viewer's unread notices, newest first (the notice list marks the same ones 未読), and how many."""
    user = viewer.user
    latest = db.session.execute(_unread(), {"organization_id": user.organization_id, "user_id": user.id}).all()
    # The operator's notices say nothing about whether the organization has started: always "empty".
    return Panel(key="notices", title=_("お知らせ"), template="notices/_dashboard_notices.html", empty=True,
                 data={"unread": latest[0].unread if latest else 0, "notices": latest})


@cache
def _unread() -> Select:
    """Built once (#17): the newest unread notices, each row with the count of them all (counted before the
    limit), in one statement."""
    read = select(NoticeRead.notice_id).where(NoticeRead.user_id == bindparam("user_id"))
    return (
        select(Notice.id, Notice.title, Notice.published_at, func.count().over().label("unread"))
        .where(notices.visible_to(bindparam("organization_id")), Notice.id.not_in(read))
        .order_by(Notice.published_at.desc(), Notice.id.desc())
        .limit(LISTED)
    )
