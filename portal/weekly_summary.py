"""The weekly summary to each organization's administrators, Monday morning in Tokyo.

It lists the open training deliveries (assigned, passed, completion, and how many are overdue: not passed
after the due date) and the inspection rounds open or closed during the past week (sheets submitted and the
遵守率, はい / (はい + いいえ), of the answers submitted so far). An administrator turns it off on their
organization's home page (:func:`set_preference`).

The job runs every half hour; from Monday 8:00 (Tokyo) each active organization's summary of the week is
queued once. An organization gets its first summary on the first Monday at least a day after it started
(one that started on Sunday has nothing to summarise on Monday morning). A ``weekly_summaries`` row per
organization and week is the claim, written in the same transaction as the emails: a second worker, a
restart or a re-run finds it and queues nothing again. A worker that was down on Monday sends the week's
summary when it comes back, later that week.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.clock import TOKYO
from portal.extensions import db
from portal.jobs import periodic
from portal.models import (
    Assignment,
    AssignmentStatus,
    Delivery,
    DeliveryStatus,
    InspectionResponse,
    InspectionRound,
    InspectionTally,
    Organization,
    OrganizationStatus,
    ResponseStatus,
    Role,
    RoundStatus,
    User,
    WeeklySummary,
)
from portal.outbox import external_url, queue_email
from portal.tenancy import tenant_scope, unscoped

SEND_HOUR = 8  # Monday, Tokyo
# An organization younger than this at the week's send time waits for the next Monday.
FIRST_SUMMARY_AFTER = timedelta(days=1)


def summary_week(now: datetime) -> date | None:
    """The Monday (Tokyo) of the week whose summary is due at ``now``; None on Monday before 8:00."""
    local = now.astimezone(TOKYO)
    monday = local.date() - timedelta(days=local.weekday())
    if local < send_time(monday):
        return None
    return monday


def send_time(week: date) -> datetime:
    """When ``week``'s summary is due: its Monday at 8:00 in Tokyo."""
    return datetime.combine(week, time(SEND_HOUR), tzinfo=TOKYO)


@dataclass(frozen=True)
class DeliveryLine:
    title: str
    due_at: datetime
    assigned: int
    passed: int
    overdue: int

    @property
    def completion(self) -> float:
        return self.passed / self.assigned if self.assigned else 0.0


@dataclass(frozen=True)
class RoundLine:
    title: str
    due_at: datetime
    is_open: bool
    sheets: int
    submitted: int
    yes: int
    no: int

    @property
    def compliance(self) -> float | None:
        """はい / (はい + いいえ) of the submitted answers; None before any."""
        return self.yes / (self.yes + self.no) if self.yes + self.no else None


@dataclass
class Summary:
    deliveries: list[DeliveryLine] = field(default_factory=list)
    rounds: list[RoundLine] = field(default_factory=list)

    @property
    def overdue(self) -> int:
        return sum(d.overdue for d in self.deliveries)

    def __bool__(self) -> bool:
        return bool(self.deliveries or self.rounds)


def organization_summary(now: datetime) -> Summary:
    """The figures of the summary for the organization in scope, in three queries."""
    summary = Summary()
    passed = Assignment.status == AssignmentStatus.PASSED
    for title, due_at, assigned, n_passed in db.session.execute(
        select(Delivery.title, Delivery.due_at, func.count(Assignment.id), func.sum(case((passed, 1), else_=0)))
        .outerjoin(Assignment, Assignment.delivery_id == Delivery.id)
        .where(Delivery.status == DeliveryStatus.LAUNCHED)
        .group_by(Delivery.id, Delivery.title, Delivery.due_at)
        .order_by(Delivery.due_at, Delivery.id)
    ):
        n_passed = n_passed or 0
        summary.deliveries.append(
            DeliveryLine(title, due_at, assigned, n_passed, assigned - n_passed if due_at < now else 0)
        )
    week_ago = now - timedelta(days=7)
    recent = or_(InspectionRound.status == RoundStatus.OPEN,
                 (InspectionRound.status == RoundStatus.CLOSED) & (InspectionRound.closed_at >= week_ago))
    rounds = db.session.execute(
        select(InspectionRound.id, InspectionRound.title, InspectionRound.due_at, InspectionRound.status,
               func.count(InspectionResponse.id),
               func.sum(case((InspectionResponse.status == ResponseStatus.SUBMITTED, 1), else_=0)))
        .outerjoin(InspectionResponse, InspectionResponse.round_id == InspectionRound.id)
        .where(recent)
        .group_by(InspectionRound.id, InspectionRound.title, InspectionRound.due_at, InspectionRound.status)
        .order_by(InspectionRound.due_at, InspectionRound.id)
    ).all()
    tallies = {
        round_id: (yes or 0, no or 0)
        for round_id, yes, no in db.session.execute(
            select(InspectionTally.round_id, func.sum(InspectionTally.yes_count), func.sum(InspectionTally.no_count))
            .where(InspectionTally.round_id.in_([r[0] for r in rounds]))
            .group_by(InspectionTally.round_id)
        )
    } if rounds else {}
    for round_id, title, due_at, status, sheets, submitted in rounds:
        yes, no = tallies.get(round_id, (0, 0))
        summary.rounds.append(RoundLine(title, due_at, status == RoundStatus.OPEN, sheets, submitted or 0, yes, no))
    return summary


def _claim(organization_id: int, week: date, now: datetime) -> WeeklySummary | None:
    row = WeeklySummary(organization_id=organization_id, week_of=week, recipients=0, created_at=now)
    try:
        # Another worker may claim the same week first; the savepoint keeps the job's transaction.
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return None
    return row


def send_summary(organization: Organization, week: date, now: datetime) -> int:
    """Queue ``week``'s summary of ``organization`` (inside its scope) to each active administrator with an
    email address who wants it; returns how many. Nothing when the week's summary is queued already, or
    when nothing is open (no delivery running, no inspection round open or just closed)."""
    claim = _claim(organization.id, week, now)
    if claim is None:
        return 0
    summary = organization_summary(now)
    if not summary:
        return 0
    admins = db.session.execute(
        select(User.id, User.email, User.name, User.locale)
        .where(User.role == Role.ORG_ADMIN, User.is_active_flag.is_(True), User.email.is_not(None),
               User.wants_weekly_summary.is_(True))
        .order_by(User.id)
    ).all()
    for user_id, email, name, locale in admins:
        queue_email(
            "weekly_summary", email,
            idempotency_key=f"weekly_summary:{organization.id}:{week.isoformat()}:{user_id}",
            organization_id=organization.id, user_id=user_id, locale=locale,
            admin_name=name, organization=organization, week=week, summary=summary, now=now,
            training_url=external_url("training.index"), inspections_url=external_url("inspections.index"),
            settings_url=external_url("org.home") + "#mail-settings",
        )
    claim.recipients = len(admins)
    db.session.flush()
    return len(admins)


@periodic("weekly_summary.send", every=timedelta(minutes=30))
def send_weekly_summaries(now: datetime) -> int:
    """From Monday 8:00 (Tokyo), each active organization's summary of the week, once; returns the emails."""
    week = summary_week(now)
    if week is None:
        return 0
    # Every organization is looked at; each one's summary is read and written in its own scope.
    with unscoped("a worker job covers every organization"):
        due = db.session.scalars(
            select(Organization)
            .where(Organization.status == OrganizationStatus.ACTIVE,
                   Organization.created_at < send_time(week) - FIRST_SUMMARY_AFTER,
                   ~exists().where(WeeklySummary.organization_id == Organization.id, WeeklySummary.week_of == week))
            .order_by(Organization.id)
        ).all()
    queued = 0
    for organization in due:
        with tenant_scope(organization.id):
            queued += send_summary(organization, week, now)
    return queued


def set_preference(user: User, wanted: bool) -> None:
    """Whether ``user`` (an organization's administrator) receives the weekly summary; audited."""
    if user.wants_weekly_summary == wanted:
        return
    user.wants_weekly_summary = wanted
    db.session.flush()
    audit.record("account.weekly_summary_changed", target=user, wanted=wanted)
