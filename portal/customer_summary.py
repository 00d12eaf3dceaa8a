"""What support staff see of a customer beside its ticket: contract, seats, administrators, recent tickets
and notices. Read-only, in a fixed number of statements whatever the organization's size.

Both the support desk (tickets) and the operator's back office may show it; it lives in the core so that
neither blueprint imports the other. Staff only: the caller's view checks the role (support, operator).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from portal import seats
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.models import (
    Contract,
    Notice,
    Organization,
    OrganizationProfile,
    OrganizationStatus,
    Role,
    Termination,
    Ticket,
    User,
)
from portal.notices import visible_to
from portal.tenancy import unscoped

STATUS_LABELS = {
    OrganizationStatus.ACTIVE: _l("利用中"),
    "terminating": _l("解約手続き中"),
    OrganizationStatus.SUSPENDED: _l("利用停止中"),
    OrganizationStatus.TERMINATED: _l("契約終了"),
}
RECENT_TICKETS = 5
RECENT_NOTICES = 5


@dataclass(frozen=True)
class AdminContact:
    name: str
    email: str | None
    is_primary: bool
    is_active: bool


@dataclass(frozen=True)
class RecentTicket:
    id: int
    subject: str
    status: str
    created_at: object


@dataclass(frozen=True)
class RecentNotice:
    id: int
    kind: str
    title: str
    published_at: object


@dataclass(frozen=True)
class CustomerSummary:
    organization: Organization
    status: str  # active, suspended, terminating (a termination received or requested), terminated
    contract: Contract | None
    seats_used: int
    phone: str
    admins: list[AdminContact]
    recent_tickets: list[RecentTicket]
    open_tickets: int
    notices: list[RecentNotice]
    terminates_on: date | None

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def seats_over(self) -> int:
        return max(0, self.seats_used - self.contract.seat_limit) if self.contract else 0


def customer_summary(org_id: int) -> CustomerSummary | None:
    """The organization ``org_id`` as support needs it beside a ticket, in six statements; ``None`` if
    it does not exist."""
    # Staff read one customer's records beside its ticket: across the tenant guard on purpose.
    with unscoped("support reads any organization beside a ticket"):
        row = db.session.execute(
            select(Organization, Contract, OrganizationProfile, Termination)
            .outerjoin(Contract, Contract.organization_id == Organization.id)
            .outerjoin(OrganizationProfile, OrganizationProfile.organization_id == Organization.id)
            .outerjoin(Termination, Termination.organization_id == Organization.id)
            .where(Organization.id == org_id)
        ).first()
        if row is None:
            return None
        org, contract, profile, termination = row
        primary_id = profile.primary_admin_id if profile else None
        seats_used = seats.active_learner_count(org_id)
        admin_rows = db.session.execute(
            select(User.id, User.name, User.email, User.is_active_flag)
            .where(User.organization_id == org_id, User.role == Role.ORG_ADMIN)
            .order_by(User.name, User.id)
        ).all()
        ticket_rows = db.session.execute(
            select(Ticket.id, Ticket.subject, Ticket.status, Ticket.created_at)
            .where(Ticket.organization_id == org_id)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(RECENT_TICKETS)
        ).all()
        open_tickets = db.session.scalar(
            select(func.count(Ticket.id)).where(Ticket.organization_id == org_id, Ticket.closed_at.is_(None))
        ) or 0
        notice_rows = db.session.execute(
            select(Notice.id, Notice.kind, Notice.title, Notice.published_at)
            .where(visible_to(org_id))
            .order_by(Notice.published_at.desc(), Notice.id.desc())
            .limit(RECENT_NOTICES)
        ).all()
    status = org.status
    terminates_on = termination.end_on if termination is not None else None
    if status == OrganizationStatus.ACTIVE and termination is not None:
        status = "terminating"
    admins = [AdminContact(name or "", email, user_id == primary_id, bool(active))
              for user_id, name, email, active in admin_rows]
    admins.sort(key=lambda a: not a.is_primary)
    return CustomerSummary(
        organization=org,
        status=status,
        contract=contract,
        seats_used=seats_used,
        phone=profile.phone if profile else "",
        admins=admins,
        recent_tickets=[RecentTicket(*r) for r in ticket_rows],
        open_tickets=open_tickets,
        notices=[RecentNotice(*r) for r in notice_rows],
        terminates_on=terminates_on,
    )
