"""Seats (Art. 3-2): active learners count against the contract's 上限利用者数.

Going over the limit is allowed but charged per learner over it. Whoever adds learners calls
:func:`seat_check` first (to tell the administrator the number over and the estimated charge) and
:func:`record_seat_usage` after the change, so that the month's peak is kept; a periodic job also
records every organization's count hourly, so a change made elsewhere is not missed for long.

Each month's row keeps the seat limit and unit price of the contract in force that month, so raising the
limit (or renewing with other terms) later does not rewrite a past month's overage. Before its contract
starts an organization counts no seats (:mod:`portal.contracts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, func, select

from portal.clock import TOKYO, today_in_tokyo, utcnow
from portal.contracts import current_contract, not_started
from portal.extensions import db
from portal.jobs import periodic
from portal.models import Organization, OrganizationStatus, Role, SeatUsage, User
from portal.tenancy import unscoped


@dataclass(frozen=True)
class SeatCheck:
    used: int
    adding: int
    limit: int | None
    unit_price: int

    @property
    def after(self) -> int:
        return self.used + self.adding

    @property
    def over(self) -> int:
        """Learners over the limit once ``adding`` more are active (0 without a contract)."""
        if self.limit is None:
            return 0
        return max(0, self.after - self.limit)

    @property
    def newly_over(self) -> int:
        """How many of the ``adding`` learners go over the limit."""
        if self.limit is None:
            return 0
        return max(0, self.after - max(self.limit, self.used))

    @property
    def estimated_charge(self) -> int:
        """Overage charge, tax excluded, if the count stays this high (yen)."""
        return self.over * self.unit_price


def active_learners_query():
    return (
        select(User.organization_id, func.count(User.id).label("used"))
        .where(User.role == Role.LEARNER, User.is_active_flag.is_(True))
        .group_by(User.organization_id)
    )


def active_learner_count(organization_id: int) -> int:
    with unscoped("filtered by the organization's id in the statement"):
        return db.session.scalar(_active_learners(), {"organization_id": organization_id}) or 0


@cache
def _active_learners() -> Select:
    """Built once (#17): the administrator's start page counts them on every visit."""
    return select(func.count(User.id)).where(User.organization_id == bindparam("organization_id"),
                                             User.role == Role.LEARNER, User.is_active_flag.is_(True))


def seat_check(org: Organization, adding: int = 0) -> SeatCheck:
    """Seats used, the limit, and what adding ``adding`` active learners would cost over the limit."""
    contract = current_contract(org.id)
    return SeatCheck(
        used=active_learner_count(org.id),
        adding=max(0, adding),
        limit=contract.seat_limit if contract else None,
        unit_price=contract.overage_unit_price if contract else 0,
    )


def month_key(moment: datetime) -> str:
    return moment.astimezone(TOKYO).strftime("%Y-%m")


def record_seat_usage(organization_id: int, now: datetime | None = None) -> SeatUsage | None:
    """Raise this month's peak to the current count if it is higher, with the limit in force this month.

    Nothing is recorded (None) before the organization's contract starts. Flushes, never commits.
    """
    now = now or utcnow()
    today = today_in_tokyo(now)
    if not_started(organization_id, today):
        return None
    key = month_key(now)
    used = active_learner_count(organization_id)
    contract = current_contract(organization_id, today)
    with unscoped("filtered by the organization's id in the statement"):
        row = db.session.scalar(
            select(SeatUsage).where(SeatUsage.organization_id == organization_id, SeatUsage.month == key)
        )
        if row is None:
            row = SeatUsage(organization_id=organization_id, month=key, peak=used)
            db.session.add(row)
        elif used > row.peak:
            row.peak = used
        if contract is not None:
            # Only the current month follows the contract; a past month's row is never recorded again.
            row.seat_limit = contract.seat_limit
            row.overage_unit_price = contract.overage_unit_price
        db.session.flush()
    return row


@periodic("seats.record_usage", every=timedelta(hours=1))
def record_all_seat_usage(now: datetime) -> None:
    with unscoped("a worker job covers every organization"):
        org_ids = db.session.scalars(
            select(Organization.id).where(Organization.status != OrganizationStatus.TERMINATED)
        ).all()
    for org_id in org_ids:
        record_seat_usage(org_id, now)


@dataclass(frozen=True)
class OverageRow:
    organization: Organization
    peak: int
    seat_limit: int
    unit_price: int

    @property
    def over(self) -> int:
        return max(0, self.peak - self.seat_limit)

    @property
    def charge(self) -> int:
        return self.over * self.unit_price


def overage_report(month: str) -> list[OverageRow]:
    """Organizations whose peak in ``month`` ("YYYY-MM") went over the limit in force that month, largest first."""
    over = SeatUsage.peak - SeatUsage.seat_limit
    with unscoped("the operator's report across organizations"):
        rows = db.session.execute(
            select(Organization, SeatUsage.peak, SeatUsage.seat_limit, SeatUsage.overage_unit_price)
            .join(SeatUsage, SeatUsage.organization_id == Organization.id)
            .where(SeatUsage.month == month, SeatUsage.seat_limit.is_not(None), over > 0)
            .order_by(over.desc(), Organization.name)
        ).all()
    return [OverageRow(org, peak, limit, price or 0) for org, peak, limit, price in rows]


def overage_between(organization_id: int, first_month: str, last_month: str, fallback_limit: int) -> int:
    """Learners over the limit in the month from ``first_month`` to ``last_month`` that went furthest over it.

    Each month counts against the limit kept with it (``fallback_limit`` for a month recorded without one).
    """
    over = SeatUsage.peak - func.coalesce(SeatUsage.seat_limit, fallback_limit)
    with unscoped("filtered by the organization's id in the statement"):
        return max(0, db.session.scalar(
            select(func.max(over)).where(
                SeatUsage.organization_id == organization_id,
                SeatUsage.month >= first_month,
                SeatUsage.month <= last_month,
            )
        ) or 0)


def monthly_peaks(organization_id: int, limit: int = 12) -> list[SeatUsage]:
    with unscoped("filtered by the organization's id in the statement"):
        return list(
            db.session.scalars(
                select(SeatUsage)
                .where(SeatUsage.organization_id == organization_id)
                .order_by(SeatUsage.month.desc())
                .limit(limit)
            )
        )
