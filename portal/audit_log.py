"""Reading the audit trail, for operators (every organization) and org admins (their own).

An event names its target by class and id (``User 3``); :func:`target_labels` turns a page of them into what
people read (受講者 山田太郎 (learner01), 点検回 従業員版（2026年11月）), one statement per kind of target on
the page, whatever its length. The request's tenant scope applies to those statements as to any other: an
organization's log resolves its own rows only, and a target that is gone (or out of reach) keeps its class
name and id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField
from wtforms.validators import Length, NumberRange, Optional

from portal.clock import TOKYO
from portal.extensions import db
from portal.forms import IntegerField
from portal.i18n import lazy_gettext as _l
from portal.ids import parse_id
from portal.log_labels import ACTION_LABELS, action_choices
from portal.models import (
    AuditEvent,
    CorrectiveAction,
    Course,
    Delivery,
    Department,
    InspectionEdition,
    InspectionRound,
    Notice,
    Organization,
    Role,
    Ticket,
    User,
)
from portal.pagination import clamp_page
from portal.tenancy import ALL_TENANTS, current_scope

PER_PAGE = 50


class AuditFilterForm(FlaskForm):
    """The filters (GET, no CSRF). 操作 is chosen from the known actions; a code in the query string that is
    not one of them (an old link) still filters, by prefix as it always did, and is offered as itself."""

    action = SelectField(_l("操作"), validate_choice=False, validators=[Optional(), Length(max=64)])
    organization_id = IntegerField(_l("組織ID"), validators=[Optional(), NumberRange(min=1)])
    date_from = DateField(_l("開始日"), validators=[Optional()])
    date_to = DateField(_l("終了日"), validators=[Optional()])

    def __init__(self, *args, with_organization: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.action.data = (self.action.data or "").strip()
        self.action.choices = action_choices(self.action.data)
        if not with_organization:
            del self.organization_id


def _tokyo_midnight_utc(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=TOKYO)


def audit_page(form: AuditFilterForm, page: int):
    """One page of events, newest first, filtered by what validated in ``form``."""
    form.validate()
    stmt = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if form.action.data and not form.action.errors:
        if form.action.data in ACTION_LABELS:
            stmt = stmt.where(AuditEvent.action == form.action.data)
        else:
            stmt = stmt.where(AuditEvent.action.startswith(form.action.data, autoescape=True))
    org_field = getattr(form, "organization_id", None)
    if org_field is not None and org_field.data and not org_field.errors:
        stmt = stmt.where(AuditEvent.organization_id == org_field.data)
    if form.date_from.data and not form.date_from.errors:
        stmt = stmt.where(AuditEvent.created_at >= _tokyo_midnight_utc(form.date_from.data))
    if form.date_to.data and not form.date_to.errors:
        stmt = stmt.where(AuditEvent.created_at < _tokyo_midnight_utc(form.date_to.data + timedelta(days=1)))
    return db.paginate(stmt, page=clamp_page(page), per_page=PER_PAGE, error_out=False)


# --- 対象: what the target of an event is called -----------------------------------------------------------

ROLE_LABELS = {Role.LEARNER: _l("受講者"), Role.MANAGER: _l("マネージャー"), Role.ORG_ADMIN: _l("管理者"),
               Role.OPERATOR: _l("運営"), Role.SUPPORT: _l("サポート担当")}


def _user_label(user: User) -> str:
    name = user.name or user.email or ""
    login = f" ({user.login_id})" if user.login_id else ""
    return f"{ROLE_LABELS.get(user.role, '')} {name}{login}".strip()


@dataclass(frozen=True)
class _Kind:
    model: type
    label: Callable[[Any], str]
    # Rows outside the tenant guard (the operator's notices) are named in the operator's log only; an
    # organization's own log never reads them (organizations: its own only, see TargetLabels).
    staff_only: bool = False


def _titled(kind) -> Callable[[Any], str]:
    return lambda row: f"{kind} {row.title}"


_KINDS: dict[str, _Kind] = {
    "User": _Kind(User, _user_label),
    "InspectionRound": _Kind(InspectionRound, _titled(_l("点検回"))),
    "InspectionEdition": _Kind(InspectionEdition, _titled(_l("点検の版"))),
    "CorrectiveAction": _Kind(CorrectiveAction, _titled(_l("是正処置"))),
    "Delivery": _Kind(Delivery, _titled(_l("配信"))),
    "Course": _Kind(Course, _titled(_l("講座"))),
    "Department": _Kind(Department, lambda d: f"{_l('部署')} {d.name}"),
    "Ticket": _Kind(Ticket, lambda t: f"{_l('お問い合わせ')} {t.subject}"),
    "Notice": _Kind(Notice, _titled(_l("お知らせ")), staff_only=True),
    "Organization": _Kind(Organization, lambda o: f"{_l('組織')} {o.name}"),
}


class TargetLabels:
    """The 対象 of a page of events as people read them: ``labels(event)``.

    Reading them costs one statement per kind of target on the page (at most ``len(_KINDS)``), made here,
    before the page renders. A target that is gone, out of the request's reach or of a kind without a label
    is shown by its class name and id.
    """

    def __init__(self, events: Iterable[AuditEvent]):
        wanted: dict[str, set[int]] = defaultdict(set)
        for event in events:
            number = parse_id(event.target_id)
            if event.target_type in _KINDS and number is not None:
                wanted[event.target_type].add(number)
        scope = current_scope()
        self.labels: dict[tuple[str, str], str] = {}
        for type_name, ids in wanted.items():
            kind = _KINDS[type_name]
            if kind.model is Organization and scope is not ALL_TENANTS:
                ids &= {scope}  # an organization's own log names that organization only
            elif kind.staff_only and scope is not ALL_TENANTS:
                continue
            if not ids:
                continue
            for row in db.session.scalars(select(kind.model).where(kind.model.id.in_(sorted(ids)))):
                self.labels[(type_name, str(row.id))] = kind.label(row)

    def __call__(self, event: AuditEvent) -> str:
        if not event.target_type:
            return ""
        found = self.labels.get((event.target_type, event.target_id or ""))
        return found or f"{event.target_type} {event.target_id or ''}".strip()
