"""The end of the service itself (Art. 21): at the end date of a service-end notice, access stops by itself.

A service-end notice (portal.notices, published at least 3 months ahead) names the end date. From that day
(Tokyo) on, members of the organizations it concerns see the closed page on every route, except signing in
and out, the public texts and, for administrators, the data export. The export period follows the one of a
terminated contract (``DATA_RETENTION_DAYS`` after the end date; Art. 21 names none); after it only the closed
page remains. Staff are never affected. A gate of the request pipeline (portal/gates.py), after the suspension check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app, request
from sqlalchemy import select

from portal.accounts import signed_in_user
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.htmx import page_or_flash
from portal.models import Notice, NoticeKind, NoticeRevision, NoticeTarget, Role
from portal.notices import notice_targets, notices_version
from portal.site_state import ProcessCache
from portal.tenancy import unscoped

# Signing in and out, the language, the public texts and the status page always work.
ALWAYS_ALLOWED = frozenset(
    {"static", "auth.login", "auth.logout", "main.set_language", "status.page", "legal.page", "legal.subcontractors"}
)
# During the export period, administrators still download their data (and reach the page that offers it).
EXPORT_ALLOWED = frozenset({"org_termination.export"})


@dataclass(frozen=True)
class ServiceEnd:
    """A service-end notice as every request needs it: the end date and whom it concerns."""

    notice_id: int
    ends_on: date
    all_organizations: bool
    organization_ids: frozenset[int]

    def concerns(self, org_id: int | None) -> bool:
        return self.all_organizations or (org_id is not None and org_id in self.organization_ids)


def _load(_now: datetime, _key=None) -> tuple[ServiceEnd, ...]:
    with unscoped("a process-wide cache shared by every organization"):
        notices = db.session.scalars(
            select(Notice)
            .where(Notice.kind == NoticeKind.SERVICE_END, Notice.service_ends_on.is_not(None),
                   Notice.withdrawn_at.is_(None))
            .order_by(Notice.service_ends_on, Notice.id)
        ).all()
        targets = notice_targets(notices)
    return tuple(
        ServiceEnd(n.id, n.service_ends_on, bool(n.all_organizations), frozenset(targets.get(n.id, ())))
        for n in notices
    )


# Read by every request. This process forgets it when it writes a notice; another one compares the notices'
# version (portal/notices.py) before using a kept end date, so a corrected or withdrawn end date takes effect
# everywhere on the next request.
_ends = ProcessCache(
    "service ends", (Notice, NoticeTarget, NoticeRevision), timedelta(seconds=60), _load, version=notices_version,
)


def export_days() -> int:
    return int(current_app.config["DATA_RETENTION_DAYS"])


def ended_on(org_id: int | None, today: date | None = None) -> date | None:
    """The end date of the service for ``org_id`` if it has come (the earliest, if several), else None."""
    now = utcnow()
    today = today or today_in_tokyo(now)
    past = [e.ends_on for e in _ends.get(now) if e.ends_on <= today and e.concerns(org_id)]
    return min(past) if past else None


def export_ends_on(ends_on: date) -> date:
    """The last day on which administrators may still export their data."""
    return ends_on + timedelta(days=export_days())


def check_service_end():
    """Before each request: the closed page for members of an organization whose service has ended."""
    user = signed_in_user()
    if not user.is_authenticated or user.is_staff or request.endpoint in ALWAYS_ALLOWED:
        return None
    today = today_in_tokyo()
    ends_on = ended_on(user.organization_id, today)
    if ends_on is None:
        return None
    is_admin = user.role == Role.ORG_ADMIN
    can_export = is_admin and today <= export_ends_on(ends_on)
    if can_export and request.endpoint in EXPORT_ALLOWED:
        return None
    context = {
        "ends_on": ends_on,
        "export_ends_on": export_ends_on(ends_on),
        "can_export": can_export,
        "is_admin": is_admin,
        "contact": current_app.config.get("SUPPORT_EMAIL") or current_app.config["BILLING_CONTACT"],
    }
    return page_or_flash("service_ended.html", "_service_ended_body.html", 403, **context)
