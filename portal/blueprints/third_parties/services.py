"""What the third parties' screens read. The rules are the core's: approving, revoking and marking a learner
in portal/third_parties.py (learner management marks learners too), the subcontractors in portal/legal.py
(the public page lists them)."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import Role, User


def active_learners() -> list[User]:
    """The organization's active learners, by name (the tenant scope limits them to the organization)."""
    return list(
        db.session.scalars(
            select(User).where(User.role == Role.LEARNER, User.is_active_flag.is_(True)).order_by(User.name)
        )
    )
