"""The 14-day cure notice (催告, Art. 16-3): the operator asks an organization in breach to cure it.

* The operator sends a notice naming the breach; the deadline is 14 days after the day it is sent (Tokyo)
  and the primary administrator is told by email (the outbox).
* The operator records a cure (是正) before or after the deadline; a cured notice is closed.
* A notice whose deadline has passed uncured is expired: the periodic job records it once (audited) and
  the operator's home lists it; only then may the contract be cancelled on ground 16-3.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from portal import audit
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.jobs import periodic
from portal.models import CureNotice, Organization, OrganizationStatus, User
from portal.organizations import mail_primary_admin
from portal.outbox import external_url
from portal.rules import RuleViolation
from portal.tenancy import unscoped

CURE_PERIOD_DAYS = 14
BREACH_MAX = 2000


def deadline_for(sent_on: date) -> date:
    """The last day to cure a breach notified on ``sent_on``: 14 days later (Art. 16-3)."""
    return sent_on + timedelta(days=CURE_PERIOD_DAYS)


def is_expired(notice: CureNotice, today: date | None = None) -> bool:
    return notice.cured_at is None and (today or today_in_tokyo()) > notice.deadline_on


def notices_for(org: Organization) -> list[CureNotice]:
    """The organization's cure notices, newest first."""
    with unscoped("staff read any organization's cure notices"):
        return list(
            db.session.scalars(
                select(CureNotice)
                .where(CureNotice.organization_id == org.id)
                .order_by(CureNotice.sent_at.desc(), CureNotice.id.desc())
            )
        )


def open_notice(org: Organization) -> CureNotice | None:
    with unscoped("filtered by the organization's id in the statement"):
        return db.session.scalar(
            select(CureNotice).where(CureNotice.organization_id == org.id, CureNotice.cured_at.is_(None)).limit(1)
        )


def expired_uncured(org: Organization, today: date | None = None) -> CureNotice | None:
    """An uncured notice of ``org`` whose deadline has passed, if any (the ground for cancellation)."""
    notice = open_notice(org)
    return notice if notice is not None and is_expired(notice, today) else None


def expired_notices(today: date | None = None, limit: int = 50) -> list[CureNotice]:
    """Uncured notices past their deadline, of organizations not yet terminated, oldest deadline first."""
    today = today or today_in_tokyo()
    with unscoped("the operator's list covers every organization"):
        return list(
            db.session.scalars(
                select(CureNotice)
                .join(Organization, Organization.id == CureNotice.organization_id)
                .where(
                    CureNotice.cured_at.is_(None),
                    CureNotice.deadline_on < today,
                    Organization.status != OrganizationStatus.TERMINATED,
                )
                .order_by(CureNotice.deadline_on, CureNotice.id)
                .limit(limit)
            )
        )


def send_cure_notice(org: Organization, breach: str, by: User) -> CureNotice:
    """Send a cure notice with a 14-day deadline and email the primary administrator.

    :raises RuleViolation: no breach described, the organization has ended, or a notice is still open.
    """
    breach = (breach or "").strip()
    if not breach:
        raise RuleViolation(_l("是正を求める違反の内容を入力してください。"))
    if len(breach) > BREACH_MAX:
        raise RuleViolation(_l("違反の内容は%(n)d文字以内で入力してください。", n=BREACH_MAX))
    if org.status == OrganizationStatus.TERMINATED:
        raise RuleViolation(_l("契約が終了した組織には催告できません。"))
    if open_notice(org) is not None:
        raise RuleViolation(_l("是正されていない催告がすでにあります。是正を記録してから新しい催告を送ってください。"))
    now = utcnow()
    with unscoped("the operator acts on any organization"):
        notice = CureNotice(
            organization_id=org.id,
            breach=breach,
            deadline_on=deadline_for(today_in_tokyo(now)),
            sent_at=now,
            sent_by_id=by.id,
        )
        db.session.add(notice)
        db.session.flush()
        audit.record(
            "org.cure_notice_sent", target=notice, organization_id=org.id, deadline_on=notice.deadline_on.isoformat()
        )
        mail_primary_admin(
            org,
            "cure_notice",
            f"cure_notice:{notice.id}",
            notice=notice,
            days=CURE_PERIOD_DAYS,
            contact=current_app.config["BILLING_CONTACT"],
            support_url=external_url("tickets.index"),
        )
        db.session.flush()
    return notice


def record_cure(notice: CureNotice, note: str, by: User) -> CureNotice:
    """The breach was cured (e.g. the payment arrived): the notice closes. :raises RuleViolation:"""
    if notice.cured_at is not None:
        raise RuleViolation(_l("この催告はすでに是正済みです。"))
    note = (note or "").strip()
    if len(note) > 500:
        raise RuleViolation(_l("メモは500文字以内で入力してください。"))
    with unscoped("the operator acts on any organization"):
        notice.cured_at = utcnow()
        notice.cured_by_id = by.id
        notice.cure_note = note
        db.session.flush()
        audit.record("org.cure_recorded", target=notice, organization_id=notice.organization_id, note=note)
    return notice


@periodic("cure_notices.expire", every=timedelta(hours=1))
def record_expired(now: datetime) -> int:
    """Mark, once, the notices whose deadline passed uncured, so that the audit log shows when."""
    today = today_in_tokyo(now)
    count = 0
    with unscoped("a worker job covers every organization"):
        due = db.session.scalars(
            select(CureNotice).where(
                CureNotice.cured_at.is_(None), CureNotice.expired_at.is_(None), CureNotice.deadline_on < today
            )
        ).all()
        for notice in due:
            notice.expired_at = now
            audit.record(
                "org.cure_deadline_passed",
                target=notice,
                organization_id=notice.organization_id,
                actor=None,
                deadline_on=notice.deadline_on.isoformat(),
            )
            count += 1
        db.session.flush()
    return count
