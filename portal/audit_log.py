"""Reading the audit trail, for operators (every organization) and org admins (their own)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField
from wtforms.validators import Length, NumberRange, Optional

from portal.clock import TOKYO
from portal.extensions import db
from portal.forms import IntegerField
from portal.log_labels import ACTION_LABELS, action_choices
from portal.models import AuditEvent
from portal.pagination import clamp_page

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
