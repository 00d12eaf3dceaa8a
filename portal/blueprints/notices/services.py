"""What the notice views need beside the rules, which are the core's ``portal/notices.py`` (publishing,
corrections, withdrawal, who reads what, maintenance windows): the layout's banner, the maintenance gate,
the status page and the support desk use those too."""

from __future__ import annotations

from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from portal.extensions import db
from portal.models import Organization


def organization_choices() -> list[SelectChoice]:
    """Every organization by name, for a notice's chosen audience and the addresses for post."""
    rows = db.session.execute(select(Organization.id, Organization.name).order_by(Organization.name)).all()
    return [SelectChoice(org_id, name) for org_id, name in rows]
