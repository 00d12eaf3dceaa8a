"""Notices from the operator (Art. 9, 11, 20, 21): publishing, incident updates, reading, maintenance.

Services validate, write, audit and queue email to the primary administrators, then flush. The
maintenance check is one app-level ``before_request``: during a maintenance window, members of the
organizations it concerns see the maintenance page; staff keep working.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from flask import Flask, g, has_request_context, request
from sqlalchemy import Select, and_, func, or_, select

from portal import audit
from portal.accounts import signed_in_user
from portal.clock import add_months_to_date, today_in_tokyo, utcnow
from portal.exports import neutralise
from portal.extensions import db
from portal.htmx import page_or_flash
from portal.i18n import lazy_gettext as _l
from portal.i18n import local_date, local_datetime
from portal.models import (
    IncidentStatus,
    Notice,
    NoticeKind,
    NoticeRead,
    NoticeRevision,
    NoticeTarget,
    NoticeUpdate,
    Organization,
    OrganizationProfile,
    OrganizationStatus,
    RevisionAction,
    User,
)
from portal.outbox import external_url, queue_email
from portal.rules import RuleViolation
from portal.site_state import ProcessCache
from portal.tenancy import unscoped

KIND_LABELS = {
    NoticeKind.MAINTENANCE: _l("メンテナンス"),
    NoticeKind.INCIDENT: _l("障害"),
    NoticeKind.SERVICE_END: _l("サービス提供の終了"),
    NoticeKind.TERMS_REVISION: _l("利用規約の改定"),
    NoticeKind.GENERAL: _l("お知らせ"),
}
INCIDENT_LABELS = {
    IncidentStatus.INVESTIGATING: _l("調査中"),
    IncidentStatus.IDENTIFIED: _l("原因特定"),
    IncidentStatus.MONITORING: _l("経過観察中"),
    IncidentStatus.RESOLVED: _l("解決済み"),
}
SERVICE_END_MONTHS = 3
# During maintenance these still work: sign in and out (staff must get in), language, the status page.
MAINTENANCE_ALLOWED = frozenset({"static", "auth.login", "auth.logout", "main.set_language", "status.page"})


@dataclass
class NoticeDraft:
    kind: str
    title: str
    body: str
    organization_ids: list[int] | None  # None: every organization
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    service_ends_on: date | None = None


def check_draft(draft: NoticeDraft, now: datetime) -> None:
    """:raises RuleViolation: a missing window, a service end sooner than 3 months, no organization."""
    if draft.kind not in set(NoticeKind):
        raise RuleViolation(_l("お知らせの種類を選んでください。"))
    if not draft.title.strip() or not draft.body.strip():
        raise RuleViolation(_l("件名と本文を入力してください。"))
    if draft.organization_ids is not None and not draft.organization_ids:
        raise RuleViolation(_l("送信先の組織を1つ以上選んでください。"))
    if draft.kind == NoticeKind.MAINTENANCE:
        if not draft.starts_at or not draft.ends_at:
            raise RuleViolation(_l("メンテナンスの開始日時と終了日時を入力してください。"))
        if draft.ends_at <= draft.starts_at:
            raise RuleViolation(_l("メンテナンスの終了日時は開始日時より後にしてください。"))
    if draft.kind == NoticeKind.SERVICE_END:
        earliest = add_months_to_date(today_in_tokyo(now), SERVICE_END_MONTHS)
        if draft.service_ends_on is None:
            raise RuleViolation(_l("サービス提供の終了日を入力してください。"))
        if draft.service_ends_on < earliest:
            raise RuleViolation(
                _l(
                    "サービス提供の終了は、終了日の3か月前までに通知する必要があります(利用規約第21条)。"
                    "終了日は %(day)s 以降にしてください。",
                    day=earliest.strftime("%Y/%m/%d"),
                )
            )


def publish_notice(draft: NoticeDraft, by: User) -> Notice:
    """Publish to every or the chosen organizations and email their primary administrators.

    :raises RuleViolation: see :func:`check_draft`; an unknown organization id.
    """
    now = utcnow()
    check_draft(draft, now)
    with unscoped("the operator publishes to many organizations"):
        if draft.organization_ids is not None:
            known = set(db.session.scalars(select(Organization.id).where(Organization.id.in_(draft.organization_ids))))
            if known != set(draft.organization_ids):
                raise RuleViolation(_l("選んだ組織が見つかりません。画面を再読み込みしてください。"))
        notice = Notice(
            kind=draft.kind,
            title=draft.title.strip(),
            body=draft.body.strip(),
            all_organizations=draft.organization_ids is None,
            starts_at=draft.starts_at if draft.kind == NoticeKind.MAINTENANCE else None,
            ends_at=draft.ends_at if draft.kind == NoticeKind.MAINTENANCE else None,
            service_ends_on=draft.service_ends_on if draft.kind == NoticeKind.SERVICE_END else None,
            incident_status=IncidentStatus.INVESTIGATING if draft.kind == NoticeKind.INCIDENT else None,
            published_at=now,
            created_by_id=by.id,
        )
        db.session.add(notice)
        db.session.flush()
        for org_id in sorted(draft.organization_ids or []):
            db.session.add(NoticeTarget(notice_id=notice.id, organization_id=org_id))
        db.session.flush()
        audit.record(
            "notice.published",
            target=notice,
            kind=notice.kind,
            title=notice.title,
            organizations="all" if notice.all_organizations else sorted(draft.organization_ids),
        )
        _email_primary_admins(notice, key=f"notice:{notice.id}", update=None)
        db.session.flush()
    return notice


def add_incident_update(notice: Notice, status: str, body: str, by: User) -> NoticeUpdate:
    """A status update of an open incident; ``resolved`` closes it. :raises RuleViolation:"""
    if notice.kind != NoticeKind.INCIDENT:
        raise RuleViolation(_l("経過報告は障害のお知らせにだけ追加できます。"))
    if notice.withdrawn_at is not None:
        raise RuleViolation(_l("取り下げたお知らせは変更できません。"))
    if notice.resolved_at is not None:
        raise RuleViolation(_l("この障害はすでに解決済みです。"))
    if status not in set(IncidentStatus) or not body.strip():
        raise RuleViolation(_l("状況と内容を入力してください。"))
    with unscoped("a notice concerns many organizations"):
        update = NoticeUpdate(notice_id=notice.id, status=status, body=body.strip())
        db.session.add(update)
        notice.incident_status = status
        if status == IncidentStatus.RESOLVED:
            notice.resolved_at = utcnow()
        db.session.flush()
        audit.record("notice.incident_updated", target=notice, status=status)
        _email_primary_admins(notice, key=f"notice:{notice.id}:update:{update.id}", update=update)
        db.session.flush()
    return update


# --- corrections and withdrawal -------------------------------------------------------------------


@dataclass
class NoticeCorrection:
    """What a correction may change: the text, the maintenance window, the service's last day. The kind
    and the audience stay (a different audience is a different notice)."""

    title: str
    body: str
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    service_ends_on: date | None = None


def _as_text(value) -> str | None:
    return value.isoformat() if isinstance(value, date | datetime) else value


def has_ended(notice: Notice, now: datetime) -> bool:
    """A maintenance window that is over; a resolved incident."""
    if notice.kind == NoticeKind.MAINTENANCE:
        return notice.ends_at is not None and notice.ends_at <= now
    return notice.resolved_at is not None


def correct_notice(notice: Notice, correction: NoticeCorrection, by: User, *, renotify: bool = False,
                   reason: str = "") -> NoticeRevision:
    """Correct a published notice and keep what it said before (a ``NoticeRevision``). A maintenance
    window may be moved or ended early (an end before now ends it at once) until it is over; after
    that only its text may be corrected. The primary administrators are emailed again only when
    ``renotify``.

    :raises RuleViolation: a withdrawn notice; nothing changed; a changed window or last day of a notice
        that has ended; what :func:`check_draft` refuses.
    """
    now = utcnow()
    if notice.withdrawn_at is not None:
        raise RuleViolation(_l("取り下げたお知らせは変更できません。"))
    after = {"title": correction.title.strip(), "body": correction.body.strip()}
    if notice.kind == NoticeKind.MAINTENANCE:
        after.update(starts_at=correction.starts_at, ends_at=correction.ends_at)
    if notice.kind == NoticeKind.SERVICE_END:
        after["service_ends_on"] = correction.service_ends_on
    changes = {name: [_as_text(getattr(notice, name)), _as_text(value)]
               for name, value in after.items() if getattr(notice, name) != value}
    if not changes:
        raise RuleViolation(_l("変更された項目がありません。"))
    dates_changed = bool({"starts_at", "ends_at", "service_ends_on"} & set(changes))
    if dates_changed and has_ended(notice, now):
        raise RuleViolation(_l("終了したお知らせの日時は変更できません。件名と本文の訂正だけができます。"))
    # The 3 months of Art. 21 count from the day customers learn a new last day, not for the one they have.
    kind = notice.kind if notice.kind != NoticeKind.SERVICE_END or "service_ends_on" in changes else NoticeKind.GENERAL
    check_draft(NoticeDraft(kind=kind, title=after["title"], body=after["body"], organization_ids=None,
                            starts_at=after.get("starts_at"), ends_at=after.get("ends_at"),
                            service_ends_on=after.get("service_ends_on")), now)
    with unscoped("a notice concerns many organizations"):
        for name, value in after.items():
            setattr(notice, name, value)
        revision = NoticeRevision(notice=notice, action=RevisionAction.EDITED, changes=changes,
                                  reason=(reason or "").strip(), renotified=renotify, created_by_id=by.id)
        db.session.add(revision)
        db.session.flush()
        audit.record("notice.corrected", target=notice, changes=changes, renotified=renotify)
        if renotify:
            _email_primary_admins(notice, key=f"notice:{notice.id}:revision:{revision.id}", update=None,
                                  revision=revision)
        db.session.flush()
    return revision


def withdraw_notice(notice: Notice, by: User, *, reason: str = "", renotify: bool = False) -> NoticeRevision:
    """Withdraw a notice: it leaves the customers' board, banners and status page, and a maintenance
    window stops at once. Kept for the operator with its history.

    :raises RuleViolation: already withdrawn.
    """
    if notice.withdrawn_at is not None:
        raise RuleViolation(_l("このお知らせはすでに取り下げています。"))
    with unscoped("a notice concerns many organizations"):
        notice.withdrawn_at = utcnow()
        revision = NoticeRevision(notice=notice, action=RevisionAction.WITHDRAWN, changes={},
                                  reason=(reason or "").strip(), renotified=renotify, created_by_id=by.id)
        db.session.add(revision)
        db.session.flush()
        audit.record("notice.withdrawn", target=notice, title=notice.title, reason=(reason or "").strip(),
                     renotified=renotify)
        if renotify:
            _email_primary_admins(notice, key=f"notice:{notice.id}:revision:{revision.id}", update=None,
                                  revision=revision)
        db.session.flush()
    return revision


def _target_org_ids(notice: Notice) -> Select:
    stmt = select(Organization.id).where(Organization.status != OrganizationStatus.TERMINATED)
    if not notice.all_organizations:
        stmt = stmt.where(
            Organization.id.in_(select(NoticeTarget.organization_id).where(NoticeTarget.notice_id == notice.id))
        )
    return stmt


def _email_primary_admins(notice: Notice, key: str, update: NoticeUpdate | None,
                          revision: NoticeRevision | None = None) -> None:
    profiles = db.session.scalars(
        select(OrganizationProfile).where(
            OrganizationProfile.organization_id.in_(_target_org_ids(notice)),
            OrganizationProfile.primary_admin_id.is_not(None),
        )
    ).all()
    for profile in profiles:
        admin = profile.primary_admin
        if not admin.email or not admin.is_active:
            continue
        queue_email(
            "notice",
            admin.email,
            idempotency_key=f"{key}:{profile.organization_id}",
            organization_id=profile.organization_id,
            user_id=admin.id,
            locale=admin.locale,
            user=admin,
            organization=profile.organization,
            notice=notice,
            update=update,
            revision=revision,
            kind_label=KIND_LABELS[notice.kind],
            status_label=INCIDENT_LABELS.get(update.status) if update else None,
            notice_url=external_url("org_notices.notice_detail", notice_id=notice.id),
        )


# --- reading --------------------------------------------------------------------------------


def visible_to(org_id: int):
    """The condition for the notices that organization ``org_id`` receives (never a withdrawn one)."""
    return and_(
        Notice.withdrawn_at.is_(None),
        or_(
            Notice.all_organizations.is_(True),
            Notice.id.in_(select(NoticeTarget.notice_id).where(NoticeTarget.organization_id == org_id)),
        ),
    )


def board(user: User) -> list[tuple[Notice, bool]]:
    """The organization's notices, newest first, each with whether ``user`` has read it."""
    read = select(NoticeRead.notice_id).where(NoticeRead.user_id == user.id)
    rows = db.session.execute(
        select(Notice, Notice.id.in_(read))
        .where(visible_to(user.organization_id))
        .order_by(Notice.published_at.desc(), Notice.id.desc())
    ).all()
    return [(notice, bool(is_read)) for notice, is_read in rows]


def unread_count(user: User) -> int:
    read = select(NoticeRead.notice_id).where(NoticeRead.user_id == user.id)
    return (
        db.session.scalar(select(func.count(Notice.id)).where(visible_to(user.organization_id), Notice.id.not_in(read)))
        or 0
    )


def get_visible_notice_or_none(notice_id: int, org_id: int) -> Notice | None:
    return db.session.scalar(select(Notice).where(Notice.id == notice_id, visible_to(org_id)))


def mark_read(notice: Notice, user: User) -> None:
    """Record the first reading; later readings change nothing."""
    exists = db.session.scalar(
        select(NoticeRead.id).where(NoticeRead.notice_id == notice.id, NoticeRead.user_id == user.id)
    )
    if exists is None:
        db.session.add(NoticeRead(notice_id=notice.id, user_id=user.id, organization_id=user.organization_id))
        audit.record("notice.read", target=notice, organization_id=user.organization_id)
        db.session.flush()


def readers(notice: Notice) -> list[NoticeRead]:
    with unscoped("the operator reads every organization's reads"):
        return list(
            db.session.scalars(select(NoticeRead).where(NoticeRead.notice_id == notice.id).order_by(NoticeRead.read_at))
        )


def target_organizations(notice: Notice) -> list[Organization]:
    with unscoped("the operator lists the organizations concerned"):
        return list(
            db.session.scalars(
                select(Organization).where(Organization.id.in_(_target_org_ids(notice))).order_by(Organization.name)
            )
        )


# --- maintenance and the status page ---------------------------------------------------------


@dataclass(frozen=True)
class MaintenanceWindow:
    """A maintenance notice as every request needs it: when, for whom, its title."""

    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    all_organizations: bool
    organization_ids: frozenset[int]

    def concerns(self, org_id: int | None) -> bool:
        return self.all_organizations or (org_id is not None and org_id in self.organization_ids)


def notice_targets(notices) -> dict[int, set[int]]:
    """The organizations each of ``notices`` is for (those not for everyone), in one statement."""
    targets: dict[int, set[int]] = {}
    ids = [n.id for n in notices if not n.all_organizations]
    if ids:
        with unscoped("site-wide state, read for every organization before any request's scope"):
            rows = db.session.execute(
                select(NoticeTarget.notice_id, NoticeTarget.organization_id).where(NoticeTarget.notice_id.in_(ids))
            )
            for notice_id, org_id in rows:
                targets.setdefault(notice_id, set()).add(org_id)
    return targets


def _load_windows(now: datetime, _key=None) -> tuple[MaintenanceWindow, ...]:
    with unscoped("a process-wide cache shared by every organization"):
        notices = db.session.scalars(
            select(Notice).where(Notice.kind == NoticeKind.MAINTENANCE, Notice.ends_at > now,
                                 Notice.withdrawn_at.is_(None))
            .order_by(Notice.starts_at, Notice.id)
        ).all()
        targets = notice_targets(notices)
    return tuple(
        MaintenanceWindow(n.id, n.title, n.starts_at, n.ends_at, bool(n.all_organizations),
                          frozenset(targets.get(n.id, ())))
        for n in notices
    )


def notices_version() -> tuple:
    """Changes with every new notice, every correction or withdrawal (each writes a revision) and every
    incident update (a resolution is one): three primary-key maxima in one statement."""
    with unscoped("site-wide state, read for every organization"):
        return tuple(db.session.execute(_NOTICES_VERSION).one())


_NOTICES_VERSION = select(
    select(func.max(Notice.id)).scalar_subquery(),
    select(func.max(NoticeRevision.id)).scalar_subquery(),
    select(func.max(NoticeUpdate.id)).scalar_subquery(),
)


# Read by every request (the maintenance gate, the layout's banner). This process forgets it at once when
# it writes a notice; another process compares the version before using a kept window, so a window moved,
# ended or withdrawn elsewhere takes effect on its very next request. Only a window published elsewhere
# while this process kept "no window at all" waits for the lifetime (a site without maintenance pays no
# statement per request for it) (portal/site_state.py).
_windows = ProcessCache(
    "maintenance windows", (Notice, NoticeTarget, NoticeRevision), timedelta(seconds=30), _load_windows,
    version=notices_version,
)


def maintenance_windows(now: datetime) -> tuple[MaintenanceWindow, ...]:
    """Every maintenance window not over at ``now``, in order of start."""
    return tuple(w for w in _windows.get(now) if w.ends_at > now)


def current_maintenance(org_id: int | None, now: datetime | None = None) -> Notice | None:
    now = now or utcnow()
    current = [w for w in maintenance_windows(now) if w.starts_at <= now and w.concerns(org_id)]
    if not current:
        return None
    with unscoped("notices are site-wide, for every or chosen organizations"):
        return db.session.get(Notice, max(current, key=lambda w: w.ends_at).id)


def upcoming_maintenance(org_id: int | None, now: datetime | None = None) -> list[MaintenanceWindow]:
    now = now or utcnow()
    return [w for w in maintenance_windows(now) if w.starts_at > now and w.concerns(org_id)]


@dataclass(frozen=True)
class StatusUpdate:
    """One status update of an incident, as the public status page shows it."""

    created_at: datetime
    status: str
    body: str


@dataclass(frozen=True)
class StatusNotice:
    """An open incident (its status and updates, newest first) or a maintenance window (its start and end),
    as the public status page shows it: plain values, kept by the process."""

    id: int
    title: str
    body: str
    status: str | None = None
    updates: tuple[StatusUpdate, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class PublicStatus(NamedTuple):
    incidents: tuple[StatusNotice, ...]
    maintenance: tuple[StatusNotice, ...]


def _load_public_status(now: datetime, _key=None) -> PublicStatus:
    """The notices to every organization that the status page shows, in three statements."""
    with unscoped("the public status page: notices to every organization"):
        incidents = db.session.execute(
            select(Notice.id, Notice.title, Notice.body, Notice.incident_status)
            .where(Notice.kind == NoticeKind.INCIDENT, Notice.resolved_at.is_(None), Notice.all_organizations.is_(True),
                   Notice.withdrawn_at.is_(None))
            .order_by(Notice.published_at.desc(), Notice.id.desc())
        ).all()
        updates: dict[int, list[StatusUpdate]] = {}
        if incidents:
            for notice_id, created_at, status, body in db.session.execute(
                select(NoticeUpdate.notice_id, NoticeUpdate.created_at, NoticeUpdate.status, NoticeUpdate.body)
                .where(NoticeUpdate.notice_id.in_([row.id for row in incidents]))
                .order_by(NoticeUpdate.created_at.desc(), NoticeUpdate.id.desc())
            ):
                updates.setdefault(notice_id, []).append(StatusUpdate(created_at, status, body))
        maintenance = db.session.execute(
            select(Notice.id, Notice.title, Notice.body, Notice.starts_at, Notice.ends_at)
            .where(Notice.kind == NoticeKind.MAINTENANCE, Notice.ends_at > now, Notice.all_organizations.is_(True),
                   Notice.withdrawn_at.is_(None))
            .order_by(Notice.starts_at, Notice.id)
        ).all()
    return PublicStatus(
        tuple(StatusNotice(i, title, body, status, tuple(updates.get(i, ()))) for i, title, body, status in incidents),
        tuple(StatusNotice(i, title, body, starts_at=start, ends_at=end) for i, title, body, start, end in maintenance),
    )


# The public status page, opened by everyone during an incident. Always checked against the notices'
# version before it is used (one statement): a notice published, corrected, updated or withdrawn by another
# process shows on its very next request; this process forgets it at once when it writes one.
_public_status = ProcessCache(
    "public status", (Notice, NoticeUpdate, NoticeRevision), timedelta(seconds=30), _load_public_status,
    version=notices_version, check=lambda _status: True,
)


def public_status(now: datetime | None = None) -> PublicStatus:
    """(open incidents, current and upcoming maintenance) among the notices to every organization."""
    now = now or utcnow()
    status = _public_status.get(now)
    return PublicStatus(status.incidents, tuple(m for m in status.maintenance if m.ends_at > now))


def open_incidents() -> list[Notice]:
    with unscoped("incidents are site-wide"):
        return list(
            db.session.scalars(
                select(Notice)
                .where(and_(Notice.kind == NoticeKind.INCIDENT, Notice.resolved_at.is_(None),
                            Notice.withdrawn_at.is_(None)))
                .order_by(Notice.published_at.desc())
            )
        )


def check_maintenance():
    """Before each request: the maintenance page for members of the organizations concerned."""
    user = signed_in_user()
    if not user.is_authenticated or user.is_staff or request.endpoint in MAINTENANCE_ALLOWED:
        return None
    notice = current_maintenance(user.organization_id)
    if notice is None:
        return None
    response = page_or_flash("notices/maintenance.html", "notices/_maintenance_body.html", 503, notice=notice)
    response.headers["Retry-After"] = str(max(60, int((notice.ends_at - utcnow()).total_seconds())))
    return response


def maintenance_banner() -> list[MaintenanceWindow]:
    """Upcoming maintenance for the signed-in member's organization (staff see none)."""
    user = signed_in_user()
    if not user.is_authenticated or user.is_staff:
        return []
    return upcoming_maintenance(user.organization_id)


def _banner_context() -> dict:
    """The layout's banner, computed before a template renders (a template runs no query), once a request."""
    if not has_request_context():
        return {}
    if g.get("database_busy"):
        # The busy page renders without the database (portal/errors.py): no banner on it.
        return {"upcoming_maintenance_windows": []}
    if "maintenance_banner" not in g:
        g.maintenance_banner = maintenance_banner()
    return {"upcoming_maintenance_windows": g.maintenance_banner}


# --- addresses for notices by post (Art. 9-3) -------------------------------------------------


ADDRESS_HEADER = ["法人名", "郵便番号", "都道府県", "住所1", "住所2", "電話番号", "主管理者"]


def address_csv(org_ids: list[int]) -> str:
    """A CSV (UTF-8 with BOM, for Excel) of the chosen organizations' registered postal addresses."""
    with unscoped("the operator's postal list across organizations"):
        rows = db.session.execute(
            select(Organization, OrganizationProfile)
            .outerjoin(OrganizationProfile, OrganizationProfile.organization_id == Organization.id)
            .where(Organization.id.in_(org_ids))
            .order_by(Organization.name)
        ).all()
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ADDRESS_HEADER)
    for org, profile in rows:
        if profile is None:
            writer.writerow([neutralise(org.name), "", "", "", "", "", ""])
            continue
        admin = profile.primary_admin
        values = [
            org.name,
            profile.postal_code,
            profile.prefecture,
            profile.address_line1,
            profile.address_line2,
            profile.phone,
            admin.name if admin else "",
        ]
        writer.writerow([neutralise(v) for v in values])
    return out.getvalue()


REVISION_FIELD_LABELS = {
    "title": _l("件名"),
    "body": _l("本文"),
    "starts_at": _l("メンテナンス開始"),
    "ends_at": _l("メンテナンス終了"),
    "service_ends_on": _l("サービス提供の終了日"),
}


def revision_value(value: str | None, name: str) -> str:
    """A value kept in ``NoticeRevision.changes`` as the operator reads it (times in Tokyo)."""
    if not value:
        return ""
    if name in ("starts_at", "ends_at"):
        return local_datetime(datetime.fromisoformat(value))
    if name == "service_ends_on":
        return local_date(date.fromisoformat(value))
    return value


def init_app(app: Flask) -> None:
    """The notices' labels and banners (the maintenance gate is registered by portal/gates.py)."""
    app.jinja_env.globals["revision_field_labels"] = REVISION_FIELD_LABELS
    app.jinja_env.filters["revision_value"] = revision_value
    app.context_processor(_banner_context)
    app.jinja_env.globals["notice_kind_labels"] = KIND_LABELS
    app.jinja_env.globals["incident_labels"] = INCIDENT_LABELS
