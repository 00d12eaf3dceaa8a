"""The operator's own staff take セキュトレ too (Art. 4-2): who of them completed the current edition.

The staff take the training as learners of an internal organization of the operator (its code is
``STAFF_ORGANIZATION_CODE``), delivered like any customer's, so nothing in training changes. A staff member
(operator or support account) is matched to that organization's learner whose 受講者ID (login_id) is the
staff member's email address (an email address belongs to one account only, so it cannot be the learner's). The current
edition is the operator's shared courses of the latest fiscal year that has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, func, select

from portal.extensions import db
from portal.models import STAFF_ROLES, Assignment, AssignmentStatus, Course, Delivery, Organization, User
from portal.tenancy import unscoped


@dataclass(frozen=True)
class StaffCompletion:
    name: str
    email: str
    role: str
    # Per current course, in the order of ``current_editions()``: when it was passed, or None.
    passed_at: tuple[datetime | None, ...]

    @property
    def complete(self) -> bool:
        return bool(self.passed_at) and all(self.passed_at)


def staff_organization() -> Organization | None:
    code = current_app.config.get("STAFF_ORGANIZATION_CODE")
    if not code:
        return None
    with unscoped("the operator's own organization, by its code"):
        return db.session.scalar(select(Organization).where(Organization.code == code))


def current_editions() -> list[Course]:
    """The operator's shared courses of the latest fiscal year among them."""
    with unscoped("the operator's shared courses"):
        year = db.session.scalar(select(func.max(Course.fiscal_year)).where(Course.organization_id.is_(None)))
        if year is None:
            return []
        return list(
            db.session.scalars(
                select(Course)
                .where(Course.organization_id.is_(None), Course.fiscal_year == year)
                .order_by(Course.title, Course.id)
            )
        )


def staff_completion(org: Organization | None, courses: list[Course]) -> list[StaffCompletion]:
    """Every active staff member with, for each course, when he passed it in ``org`` (one query a course)."""
    with unscoped("staff have no organization"):
        staff = db.session.execute(
            select(User.name, User.email, User.role)
            .where(User.role.in_(list(STAFF_ROLES)), User.is_active_flag.is_(True))
            .order_by(User.role, User.name, User.id)
        ).all()
        passed: list[dict[str, datetime]] = []
        for course in courses:
            rows = {}
            if org is not None:
                rows = dict(
                    db.session.execute(
                        select(func.lower(User.login_id), func.min(Assignment.passed_at))
                        .join(Assignment, Assignment.learner_id == User.id)
                        .join(Delivery, and_(Delivery.id == Assignment.delivery_id, Delivery.course_id == course.id))
                        .where(
                            Assignment.organization_id == org.id,
                            Assignment.status == AssignmentStatus.PASSED,
                            User.login_id.is_not(None),
                        )
                        .group_by(func.lower(User.login_id))
                    ).all()
                )
            passed.append(rows)
    return [
        StaffCompletion(
            name=name,
            email=email or "",
            role=role,
            passed_at=tuple(p.get((email or "").lower()) for p in passed),
        )
        for name, email, role in staff
    ]
