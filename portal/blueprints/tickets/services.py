"""The support desk's rules: opening and answering tickets, the promise clock, queues and reports.

Functions here validate, write rows and history events, record audit events and queue email, then
flush; the request (or the worker, for periodic jobs) commits.
"""

from __future__ import annotations

import hashlib
import secrets
import statistics
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.orm import joinedload, selectinload

from portal import audit
from portal.accounts import normalize_email
from portal.blueprints.tickets import files
from portal.blueprints.tickets.reply_address import reply_address
from portal.business_calendar import PROMISE, Break, add_business_time, business_time_between, is_business_time
from portal.clock import TOKYO, today_in_tokyo, utcnow
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.ids import parse_id
from portal.jobs import periodic
from portal.models import (
    ACTIVE_STATUSES,
    CannedReply,
    ContactRequest,
    DeskBreak,
    Organization,
    Role,
    Ticket,
    TicketAttachment,
    TicketCategory,
    TicketEvent,
    TicketMessage,
    TicketStatus,
    User,
)
from portal.outbox import external_url, queue_email
from portal.pagination import clamp_page
from portal.rules import RuleViolation
from portal.staff_alerts import queue_staff_alert
from portal.tenancy import unscoped

PROMISE_MINUTES = int(PROMISE.total_seconds() // 60)


class TicketRuleError(Exception):
    """The action is not allowed in the ticket's present state; ``str(error)`` says why (Japanese)."""

    status = 409


# --- the calendar -----------------------------------------------------------------------------------


def load_breaks() -> list[Break]:
    rows = db.session.scalars(select(DeskBreak).order_by(DeskBreak.first_day))
    return [Break(row.first_day, row.last_day) for row in rows]


def _start_clock(ticket: Ticket, now: datetime, budget_minutes: int, breaks: list[Break]) -> None:
    ticket.sla_started_at = now
    ticket.sla_budget_minutes = budget_minutes
    _compute_due(ticket, breaks)


def _compute_due(ticket: Ticket, breaks: list[Break]) -> None:
    ticket.sla_due_at = add_business_time(
        ticket.sla_started_at, timedelta(minutes=max(ticket.sla_budget_minutes, 0)), breaks
    )
    if ticket.first_answered_at is None:
        ticket.first_answer_due_at = ticket.sla_due_at


def _remaining_minutes(ticket: Ticket, now: datetime, breaks: list[Break]) -> int:
    used = business_time_between(ticket.sla_started_at, now, breaks)
    return ticket.sla_budget_minutes - int(used.total_seconds() // 60)


def _pause_clock(ticket: Ticket, now: datetime, breaks: list[Break]) -> None:
    """Waiting for the customer: keep what is left of the budget, owe nothing until they answer."""
    if ticket.sla_started_at is None:
        return
    ticket.sla_budget_minutes = _remaining_minutes(ticket, now, breaks)
    ticket.sla_started_at = None
    ticket.sla_due_at = None


def _stop_clock(ticket: Ticket) -> None:
    ticket.sla_started_at = None
    ticket.sla_budget_minutes = None
    ticket.sla_due_at = None


def recompute_due_times() -> int:
    """After the operator changed the breaks: every running clock gets its due time again."""
    breaks = load_breaks()
    tickets = db.session.scalars(select(Ticket).where(Ticket.sla_started_at.is_not(None))).all()
    for ticket in tickets:
        _compute_due(ticket, breaks)
    db.session.flush()
    return len(tickets)


def add_break(name: str, first_day, last_day, actor: User) -> DeskBreak:
    """A new closed period; every running promise clock moves accordingly."""
    item = DeskBreak(name=name, first_day=first_day, last_day=last_day)
    db.session.add(item)
    db.session.flush()
    audit.record("tickets.break_added", target=item, actor=actor, name=name,
                 first_day=first_day.isoformat(), last_day=last_day.isoformat())
    recompute_due_times()
    return item


def remove_break(item: DeskBreak, actor: User) -> None:
    audit.record("tickets.break_removed", target=item, actor=actor, name=item.name,
                 first_day=item.first_day.isoformat(), last_day=item.last_day.isoformat())
    db.session.delete(item)
    db.session.flush()
    recompute_due_times()


# --- history ----------------------------------------------------------------------------------------


def _log(ticket: Ticket, kind: str, actor: User | None, now: datetime, **details) -> TicketEvent:
    event = TicketEvent(
        ticket=ticket,
        organization_id=ticket.organization_id,
        actor_id=actor.id if actor else None,
        kind=kind,
        details=details,
        created_at=now,
    )
    db.session.add(event)
    ticket.updated_at = now
    audit.record(f"ticket.{kind}", target=ticket, actor=actor, **details)
    return event


# --- the customer's side ----------------------------------------------------------------------------


def categories_for(user: User) -> list[TicketCategory]:
    """Learners may only ask questions; org admins and managers use every category."""
    if user.role == Role.LEARNER:
        return [TicketCategory.QUESTION]
    return list(TicketCategory)


def may_open_tickets(user: User) -> bool:
    if user.role in (Role.ORG_ADMIN, Role.MANAGER):
        return True
    return user.role == Role.LEARNER and bool(user.organization and user.organization.learners_may_ask)


def open_ticket(
    requester: User,
    category: str,
    subject: str,
    body: str,
    attachments: list[files.CheckedFile] = (),
    now: datetime | None = None,
) -> Ticket:
    """Open a ticket for the requester's organization, start the promise clock and tell the desk.

    An emergency (緊急) out of business hours also goes to the on-call address at once.
    """
    now = now or utcnow()
    if category not in {str(c) for c in categories_for(requester)}:
        raise TicketRuleError(_("この種類のお問い合わせは送信できません。"))
    ticket = Ticket(organization_id=requester.organization_id, requester_id=requester.id)
    return _receive(ticket, requester, category, subject, body, attachments, now)


def _receive(
    ticket: Ticket,
    author: User | None,
    category: str,
    subject: str,
    body: str,
    attachments: list[files.CheckedFile],
    now: datetime,
    **log_details,
) -> Ticket:
    """Open ``ticket`` (its requester or contact sender already set): the first message, the promise
    clock, the desk's alert and, for an emergency out of business hours, the on-call alert."""
    breaks = load_breaks()
    ticket.category = category
    ticket.subject = subject.strip()
    ticket.status = TicketStatus.NEW
    ticket.created_at = now
    ticket.updated_at = now
    db.session.add(ticket)
    _start_clock(ticket, now, PROMISE_MINUTES, breaks)
    message = _add_message(ticket, author, body, attachments, now, from_staff=False, internal=False)
    db.session.flush()
    _log(ticket, "created", author, now, category=category, **log_details)
    context = {"ticket": ticket, "message": message, "url": external_url("tickets.show", ticket_id=ticket.id)}
    queue_staff_alert(
        "SUPPORT_EMAIL",
        "tickets_new",
        idempotency_key=f"ticket-{ticket.id}-new",
        organization_id=ticket.organization_id,
        reply_to=reply_address(ticket.id),
        **context,
    )
    if ticket.is_emergency and not is_business_time(now, breaks):
        reached = queue_staff_alert(
            "ONCALL_EMAIL",
            "tickets_emergency",
            idempotency_key=f"ticket-{ticket.id}-oncall",
            organization_id=ticket.organization_id,
            reply_to=reply_address(ticket.id),
            **context,
        )
        # The history says what happened: staff must not believe on-call was reached when it was not.
        _log(ticket, "oncall_notified" if reached else "oncall_not_notified", None, now)
    db.session.flush()
    return ticket


def oncall_outcome(ticket: Ticket) -> str | None:
    """Whether on-call was reached for this ticket: the kind of its on-call event, None when none was due."""
    return db.session.scalar(
        select(TicketEvent.kind).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(("oncall_notified", "oncall_not_notified"))
        )
    )


def _refuse_if_finished(ticket: Ticket) -> None:
    if ticket.merged_into_id is not None:
        raise TicketRuleError(
            _(
                "このお問い合わせは #%(target)d に統合されました。続きは #%(target)d でお送りください。",
                target=ticket.merged_into_id,
            )
        )
    if ticket.status == TicketStatus.CLOSED:
        raise TicketRuleError(
            _("このお問い合わせは完了しています。続けてご相談の場合は、新しいお問い合わせを作成してください。")
        )


def customer_reply(
    ticket: Ticket,
    author: User,
    body: str,
    attachments: list[files.CheckedFile] = (),
    now: datetime | None = None,
    email_digest: str | None = None,
) -> TicketMessage:
    """The customer writes again. A resolved or waiting ticket reopens and an answer is owed again.
    ``email_digest``: the message arrived by email (mail_in.py), the same email is added once.

    :raises TicketRuleError: the ticket is closed or merged into another.
    """
    now = now or utcnow()
    _refuse_if_finished(ticket)
    breaks = load_breaks()
    message = _add_message(ticket, author, body, attachments, now, from_staff=False, internal=False,
                           email_digest=email_digest)
    previous = ticket.status
    if previous in (TicketStatus.WAITING, TicketStatus.RESOLVED):
        ticket.status = TicketStatus.OPEN
        ticket.resolved_at = None
        _log(ticket, "reopened" if previous == TicketStatus.RESOLVED else "status", author, now,
             old=previous, new=TicketStatus.OPEN)
    if ticket.sla_started_at is None:
        # A paused clock resumes with what was left; after an answer a new promise starts.
        budget = ticket.sla_budget_minutes if ticket.sla_budget_minutes is not None else PROMISE_MINUTES
        _start_clock(ticket, now, budget, breaks)
    db.session.flush()
    _log(ticket, "customer_reply", author, now, message_id=message.id)
    queue_email(
        "tickets_reply_staff",
        _desk_address(ticket),
        idempotency_key=f"ticket-message-{message.id}-staff",
        organization_id=ticket.organization_id,
        reply_to=reply_address(ticket.id),
        ticket=ticket,
        message=message,
        url=external_url("tickets.show", ticket_id=ticket.id),
    )
    db.session.flush()
    return message


def _desk_address(ticket: Ticket) -> str:
    """The assignee's address, else the support address. Staff have no organization, so a customer's
    request (scoped to their organization) cannot see them: look them up across tenants, deliberately."""
    if ticket.assignee_id is not None:
        with unscoped("the assignee is staff, outside a customer's scope"):
            assignee = db.session.get(User, ticket.assignee_id)
        if assignee is not None and assignee.email and assignee.is_active:
            return assignee.email
    return current_app.config["SUPPORT_EMAIL"]


def close_by_customer(ticket: Ticket, actor: User, now: datetime | None = None) -> None:
    """:raises TicketRuleError: already closed or merged."""
    now = now or utcnow()
    _refuse_if_finished(ticket)
    _set_status(ticket, TicketStatus.CLOSED, actor, now, load_breaks())
    db.session.flush()


def rate(ticket: Ticket, actor: User, rating: int, comment: str = "", now: datetime | None = None) -> None:
    """Rate the answer once, after the ticket was resolved.

    :raises TicketRuleError: not resolved yet, merged, or already rated.
    """
    now = now or utcnow()
    if ticket.merged_into_id is not None or ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        raise TicketRuleError(_("評価は、お問い合わせが解決したあとにお願いします。"))
    if ticket.rating is not None:
        raise TicketRuleError(_("このお問い合わせはすでに評価済みです。ご協力ありがとうございました。"))
    if not 1 <= rating <= 5:
        raise TicketRuleError(_("評価は1から5で選んでください。"))
    ticket.rating = rating
    ticket.rating_comment = comment.strip() or None
    ticket.rated_at = now
    _log(ticket, "rated", actor, now, rating=rating)
    db.session.flush()


# --- the staff's side -------------------------------------------------------------------------------


def staff_reply(
    ticket: Ticket,
    author: User,
    body: str,
    attachments: list[files.CheckedFile] = (),
    internal: bool = False,
    next_status: str | None = None,
    now: datetime | None = None,
    email_digest: str | None = None,
) -> TicketMessage:
    """An answer to the customer, or an internal note (``internal``) that the customer never sees.

    An answer stops the promise clock (the first one is measured against the promise) and moves the
    ticket to ``next_status`` (waiting for the customer unless said otherwise).

    :raises TicketRuleError: the ticket is closed or merged.
    """
    now = now or utcnow()
    _refuse_if_finished(ticket)
    breaks = load_breaks()
    message = _add_message(ticket, author, body, attachments, now, from_staff=True, internal=internal,
                           email_digest=email_digest)
    db.session.flush()
    if internal:
        _log(ticket, "note", author, now, message_id=message.id)
        db.session.flush()
        return message
    if ticket.first_answered_at is None:
        if ticket.sla_started_at is not None:
            remaining = _remaining_minutes(ticket, now, breaks)
        else:
            remaining = ticket.sla_budget_minutes if ticket.sla_budget_minutes is not None else PROMISE_MINUTES
        ticket.first_answered_at = now
        ticket.first_answer_business_minutes = PROMISE_MINUTES - remaining
        ticket.first_answer_met = remaining >= 0
    _stop_clock(ticket)
    if ticket.assignee_id is None:
        ticket.assignee_id = author.id
        _log(ticket, "assigned", author, now, assignee_id=author.id)
    _log(ticket, "staff_reply", author, now, message_id=message.id)
    target = TicketStatus(next_status) if next_status else TicketStatus.WAITING
    if target != ticket.status:
        _set_status(ticket, target, author, now, breaks)
    if ticket.contact_email:
        # A contact-form sender may have no account (or cannot sign in): the answer itself goes by email.
        queue_email(
            "tickets_reply_contact",
            ticket.contact_email,
            idempotency_key=f"ticket-message-{message.id}-contact",
            organization_id=ticket.organization_id,
            ticket=ticket,
            message=message,
            contact_url=external_url("contact.form"),
        )
    elif ticket.requester and ticket.requester.email:
        queue_email(
            "tickets_reply_customer",
            ticket.requester.email,
            idempotency_key=f"ticket-message-{message.id}-customer",
            organization_id=ticket.organization_id,
            user_id=ticket.requester_id,
            locale=ticket.requester.locale,
            reply_to=reply_address(ticket.id),
            reply_by_email=reply_address(ticket.id) is not None,
            ticket=ticket,
            message=message,
            url=external_url("tickets.show", ticket_id=ticket.id),
        )
    db.session.flush()
    return message


def change_status(ticket: Ticket, status: str, actor: User, now: datetime | None = None) -> None:
    """Staff move a ticket. Waiting pauses the promise clock; back to open resumes it.

    :raises TicketRuleError: the ticket was merged, or the state is not one staff may set.
    """
    now = now or utcnow()
    if ticket.merged_into_id is not None:
        raise TicketRuleError(_("統合済みのお問い合わせは変更できません。"))
    if status not in {s.value for s in TicketStatus} or status == TicketStatus.NEW:
        raise TicketRuleError(_("この状態には変更できません。"))
    if status == ticket.status:
        return
    _set_status(ticket, TicketStatus(status), actor, now, load_breaks())
    db.session.flush()


def _set_status(ticket: Ticket, status: TicketStatus, actor: User, now: datetime, breaks: list[Break]) -> None:
    old = ticket.status
    ticket.status = status
    if status == TicketStatus.WAITING:
        _pause_clock(ticket, now, breaks)
    elif status == TicketStatus.OPEN:
        if ticket.sla_started_at is None and ticket.sla_budget_minutes is not None:
            _start_clock(ticket, now, ticket.sla_budget_minutes, breaks)
    elif status == TicketStatus.RESOLVED:
        _stop_clock(ticket)
        ticket.resolved_at = now
    elif status == TicketStatus.CLOSED:
        _stop_clock(ticket)
        ticket.closed_at = now
    kind = "reopened" if old in (TicketStatus.RESOLVED, TicketStatus.CLOSED) and status in ACTIVE_STATUSES else "status"
    _log(ticket, kind, actor, now, old=str(old), new=str(status))


def assign(ticket: Ticket, assignee: User | None, actor: User, now: datetime | None = None) -> None:
    """:raises TicketRuleError: the assignee is not active support staff."""
    now = now or utcnow()
    if assignee is not None and not (assignee.is_staff and assignee.is_active):
        raise TicketRuleError(_("担当者にはサポート担当者を選んでください。"))
    new_id = assignee.id if assignee else None
    if ticket.assignee_id == new_id:
        return
    ticket.assignee_id = new_id
    ticket.assignee = assignee
    _log(ticket, "assigned", actor, now, assignee_id=new_id)
    db.session.flush()


def merge(duplicate: Ticket, target: Ticket, actor: User, now: datetime | None = None) -> None:
    """Close ``duplicate`` as merged into ``target`` (same organization); its messages stay readable.

    :raises TicketRuleError: the same ticket, another organization's, or a target that is itself merged.
    """
    now = now or utcnow()
    if duplicate.id == target.id:
        raise TicketRuleError(_("同じお問い合わせには統合できません。"))
    if duplicate.organization_id != target.organization_id:
        raise TicketRuleError(_("別の組織のお問い合わせには統合できません。"))
    if duplicate.merged_into_id is not None:
        raise TicketRuleError(_("このお問い合わせはすでに統合済みです。"))
    if target.merged_into_id is not None:
        raise TicketRuleError(_("統合先のお問い合わせは、すでに別のお問い合わせに統合されています。"))
    duplicate.merged_into_id = target.id
    duplicate.status = TicketStatus.CLOSED
    duplicate.closed_at = now
    _stop_clock(duplicate)
    _log(duplicate, "merged_into", actor, now, target_id=target.id)
    _log(target, "merged_from", actor, now, source_id=duplicate.id)
    db.session.flush()


def _add_message(
    ticket: Ticket,
    author: User | None,
    body: str,
    attachments,
    now: datetime,
    *,
    from_staff: bool,
    internal: bool,
    email_digest: str | None = None,
) -> TicketMessage:
    message = TicketMessage(
        ticket=ticket,
        organization_id=ticket.organization_id,
        author_id=author.id if author else None,
        from_staff=from_staff,
        internal=internal,
        body=body.strip(),
        created_at=now,
        email_digest=email_digest,
    )
    db.session.add(message)
    for checked in attachments:
        message.attachments.append(
            TicketAttachment(
                organization_id=ticket.organization_id,
                ticket=ticket,
                filename=checked.filename,
                stored_name=files.store(checked),
                content_type=checked.content_type,
                size=len(checked.data),
                created_at=now,
            )
        )
    return message


# --- queues -----------------------------------------------------------------------------------------

QUEUES = {
    "active": _l("未完了"),
    "new": _l("新規"),
    "mine": _l("自分の担当"),
    "unassigned": _l("未割り当て"),
    "waiting": _l("お客様の返答待ち"),
    "due_today": _l("本日期限"),
    "overdue": _l("期限超過"),
    "done": _l("解決・完了"),
}


@dataclass
class QueueFilters:
    queue: str = "active"
    category: str | None = None
    organization_id: int | None = None
    text: str | None = None
    page: int = 1


def _queue_condition(queue: str, user: User, now: datetime):
    end_of_today = datetime.combine(today_in_tokyo(now) + timedelta(days=1), time.min, tzinfo=TOKYO)
    active = Ticket.status.in_([str(s) for s in ACTIVE_STATUSES])
    return {
        "active": active,
        "new": Ticket.status == TicketStatus.NEW,
        "mine": and_(Ticket.assignee_id == user.id, active),
        "unassigned": and_(Ticket.assignee_id.is_(None), active),
        "waiting": Ticket.status == TicketStatus.WAITING,
        "due_today": and_(Ticket.sla_due_at >= now, Ticket.sla_due_at < end_of_today),
        "overdue": Ticket.sla_due_at < now,
        "done": Ticket.status.in_([TicketStatus.RESOLVED, TicketStatus.CLOSED]),
    }[queue]


def _filter_conditions(filters: QueueFilters) -> list:
    conditions = []
    if filters.category:
        conditions.append(Ticket.category == filters.category)
    if filters.organization_id:
        conditions.append(Ticket.organization_id == filters.organization_id)
    if filters.text:
        pattern = filters.text.strip()
        ticket_id = parse_id(pattern.lstrip("#"))
        if ticket_id is not None:
            conditions.append(Ticket.id == ticket_id)
        else:
            conditions.append(Ticket.subject.contains(pattern, autoescape=True))
    return conditions


def queue_counts(filters: QueueFilters, user: User, now: datetime) -> dict[str, int]:
    """How many tickets each queue holds under the filters, in one query."""
    columns = [
        func.coalesce(func.sum(case((_queue_condition(q, user, now), 1), else_=0)), 0).label(q) for q in QUEUES
    ]
    row = db.session.execute(select(*columns).select_from(Ticket).where(*_filter_conditions(filters))).one()
    return {q: int(row._mapping[q]) for q in QUEUES}


def queue_page(filters: QueueFilters, user: User, now: datetime, per_page: int = 50):
    """One page of a queue, emergencies first, then by due time; people and organizations loaded eagerly."""
    urgent = case(
        (and_(Ticket.category == TicketCategory.EMERGENCY, Ticket.status.in_([str(s) for s in ACTIVE_STATUSES])), 0),
        else_=1,
    )
    stmt = (
        select(Ticket)
        .options(joinedload(Ticket.organization), joinedload(Ticket.requester), joinedload(Ticket.assignee))
        .where(_queue_condition(filters.queue, user, now), *_filter_conditions(filters))
        .order_by(urgent, Ticket.sla_due_at.is_(None), Ticket.sla_due_at, Ticket.created_at.desc(), Ticket.id.desc())
    )
    return db.paginate(stmt, page=clamp_page(filters.page), per_page=per_page, error_out=False)


# The customer list's ``?status=``: "active" (not resolved yet: 新規・対応中・返答待ち) or one status.
CUSTOMER_FILTERS = ("active", *(str(s) for s in TicketStatus))


def customer_tickets(user: User, status: str = ""):
    """The tickets a customer sees: the whole organization's, or a learner's own questions; ``status`` one of
    :data:`CUSTOMER_FILTERS` narrows them (anything else: every ticket)."""
    stmt = select(Ticket).options(joinedload(Ticket.requester)).order_by(Ticket.updated_at.desc(), Ticket.id.desc())
    if user.role == Role.LEARNER:
        stmt = stmt.where(Ticket.requester_id == user.id)
    if status == "active":
        stmt = stmt.where(Ticket.status.in_([str(s) for s in ACTIVE_STATUSES]))
    elif status in CUSTOMER_FILTERS:
        stmt = stmt.where(Ticket.status == status)
    return db.session.scalars(stmt).unique().all()


def load_ticket_for_view(ticket_id: int, *, staff: bool) -> Ticket | None:
    """The ticket with its messages (internal notes only for staff) and attachments."""
    return db.session.scalar(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .options(
            joinedload(Ticket.organization),
            joinedload(Ticket.requester),
            joinedload(Ticket.assignee),
            selectinload(Ticket.messages).selectinload(TicketMessage.attachments),
            selectinload(Ticket.messages).joinedload(TicketMessage.author),
            selectinload(Ticket.events).joinedload(TicketEvent.actor) if staff else selectinload(Ticket.events),
        )
    )


def staff_users() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.role.in_([Role.SUPPORT, Role.OPERATOR]), User.is_active_flag.is_(True))
            .order_by(User.name)
        )
    )


def organizations() -> list[Organization]:
    return list(db.session.scalars(select(Organization).order_by(Organization.name)))


def canned_replies() -> list[CannedReply]:
    return list(db.session.scalars(select(CannedReply).order_by(CannedReply.title)))


# --- warnings before and at the due time ------------------------------------------------------------


@periodic("tickets.due_warnings", every=timedelta(minutes=5))
def send_due_warnings(now: datetime) -> int:
    """Warn the desk once before an answer is due and once when it is overdue; returns the tickets warned about.

    The idempotency key holds the due time, so a re-run warns nobody twice, and a new promise (after
    the customer writes again) warns again. Runs across all tenants.
    """
    # The desk works for every organization; say so here rather than rely on the caller's scope.
    with unscoped("a worker job covers every organization"):
        return _send_due_warnings(now)


def _send_due_warnings(now: datetime) -> int:
    breaks = load_breaks()
    warn_before = timedelta(minutes=current_app.config["TICKET_WARN_BEFORE_MINUTES"])
    tickets = db.session.scalars(
        select(Ticket)
        .options(joinedload(Ticket.assignee), joinedload(Ticket.organization))
        .where(Ticket.sla_due_at.is_not(None), Ticket.status.in_([str(s) for s in ACTIVE_STATUSES]))
    ).all()
    warned = 0
    for ticket in tickets:
        due = ticket.sla_due_at
        if now >= due:
            template, kind = "tickets_overdue", "overdue"
        elif business_time_between(now, due, breaks) <= warn_before:
            template, kind = "tickets_due_soon", "due_soon"
        else:
            continue
        to = _desk_address(ticket)
        key = f"ticket-{ticket.id}-{kind}-{due:%Y%m%dT%H%M}"
        queue_email(
            template,
            to,
            idempotency_key=key,
            organization_id=ticket.organization_id,
            reply_to=reply_address(ticket.id),
            ticket=ticket,
            url=external_url("tickets.show", ticket_id=ticket.id),
        )
        warned += 1
    db.session.flush()
    return warned


# --- reports ----------------------------------------------------------------------------------------


@dataclass
class MonthReport:
    year: int
    month: int
    total: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    within_promise: int = 0
    missed: int = 0
    average_first_answer_minutes: float | None = None
    median_first_answer_minutes: float | None = None
    rated: int = 0
    average_rating: float | None = None
    ratings: dict[int, int] = field(default_factory=dict)

    @property
    def within_promise_share(self) -> float | None:
        judged = self.within_promise + self.missed
        return None if judged == 0 else self.within_promise / judged


def month_report(year: int, month: int, now: datetime | None = None) -> MonthReport:
    """Tickets received in a (Tokyo) month: by category, first answers against the promise, ratings.

    A ticket not answered yet counts as missed once its first answer is overdue, and is not judged
    before that. Tickets merged into another are left out (the other one counts).
    """
    now = now or utcnow()
    start = datetime(year, month, 1, tzinfo=TOKYO)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=TOKYO)
    tickets = db.session.scalars(
        select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end, Ticket.merged_into_id.is_(None))
    ).all()
    report = MonthReport(year=year, month=month, total=len(tickets))
    report.by_category = {str(c): 0 for c in TicketCategory}
    minutes = []
    for t in tickets:
        report.by_category[t.category] = report.by_category.get(t.category, 0) + 1
        if t.first_answered_at is not None:
            report.answered += 1
            minutes.append(t.first_answer_business_minutes or 0)
            if t.first_answer_met:
                report.within_promise += 1
            else:
                report.missed += 1
        elif t.first_answer_due_at is not None and t.first_answer_due_at < now:
            report.missed += 1
        if t.rating is not None:
            report.rated += 1
            report.ratings[t.rating] = report.ratings.get(t.rating, 0) + 1
    if minutes:
        report.average_first_answer_minutes = statistics.fmean(minutes)
        report.median_first_answer_minutes = statistics.median(minutes)
    if report.rated:
        report.average_rating = sum(k * v for k, v in report.ratings.items()) / report.rated
    return report


# --- incidents (Art. 11) ------------------------------------------------------------------------


def incident_notices_for(ticket: Ticket) -> list:
    """The operator's incident notices that ``ticket``'s organization receives, newest first."""
    from portal.models import Notice, NoticeKind
    from portal.notices import visible_to

    return list(
        db.session.scalars(
            select(Notice)
            .where(Notice.kind == NoticeKind.INCIDENT, visible_to(ticket.organization_id))
            .order_by(Notice.published_at.desc())
            .limit(50)
        )
    )


def link_incident(ticket: Ticket, notice_id: int, actor: User, now: datetime | None = None) -> None:
    """Link a 事故・障害報告 ticket to the incident notice that answers it, so the customer can follow it.

    :raises TicketRuleError: not an incident report, or not an incident notice this organization receives.
    """
    now = now or utcnow()
    if ticket.category != TicketCategory.INCIDENT:
        raise TicketRuleError(_l("障害のお知らせに紐づけられるのは「事故・障害報告」のお問い合わせだけです。"))
    notice = next((n for n in incident_notices_for(ticket) if n.id == notice_id), None)
    if notice is None:
        raise TicketRuleError(_l("この組織に届いている障害のお知らせから選んでください。"))
    if ticket.incident_notice_id == notice.id:
        return
    ticket.incident_notice_id = notice.id
    _log(ticket, "notice_linked", actor, now, notice_id=notice.id, title=notice.title)
    db.session.flush()


# --- the public contact form (Art. 10-2) ------------------------------------------------------------

# What a visitor may choose: 導入サポート and 事故・障害報告 belong to signed-in customers' tickets.
CONTACT_CATEGORIES = (TicketCategory.QUESTION, TicketCategory.REQUEST, TicketCategory.BUG, TicketCategory.EMERGENCY)


@dataclass
class DeskHours:
    """What the contact page says about the desk right now."""

    open_now: bool
    next_opening: datetime
    breaks: list[DeskBreak]


def desk_hours(now: datetime | None = None) -> DeskHours:
    """Whether the desk is open, its next opening (now itself when open) and the breaks still to come."""
    now = now or utcnow()
    rows = list(db.session.scalars(
        select(DeskBreak).where(DeskBreak.last_day >= today_in_tokyo(now)).order_by(DeskBreak.first_day)
    ))
    breaks = [Break(row.first_day, row.last_day) for row in rows]
    return DeskHours(
        open_now=is_business_time(now, breaks),
        next_opening=add_business_time(now, timedelta(0), breaks),
        breaks=rows,
    )


def _contact_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class ContactData:
    name: str
    company: str
    email: str
    category: str
    subject: str
    body: str


@unscoped("an anonymous visitor: no organization; the pending request, outbox and audit are global")
def submit_contact(data: ContactData, ip: str | None, now: datetime | None = None) -> ContactRequest:
    """Keep the message and email a single-use confirmation link to the address given.

    The same answer for every address, known or not: nothing here looks the address up.

    :raises RuleViolation: a category the form should have refused.
    """
    now = now or utcnow()
    if data.category not in {str(c) for c in CONTACT_CATEGORIES}:
        raise RuleViolation(_("お問い合わせの種類を選び直してください。"))
    ttl: timedelta = current_app.config["CONTACT_CONFIRM_TTL"]
    raw = secrets.token_urlsafe(32)
    pending = ContactRequest(
        name=data.name.strip(),
        company=(data.company or "").strip(),
        email=normalize_email(data.email),
        category=data.category,
        subject=data.subject.strip(),
        body=data.body.strip(),
        ip=ip,
        confirm_token_hash=_contact_digest(raw),
        confirm_expires_at=now + ttl,
        created_at=now,
    )
    db.session.add(pending)
    db.session.flush()
    audit.record("contact.submitted", target=pending, category=pending.category)
    queue_email(
        "contact_confirm",
        pending.email,
        idempotency_key=f"contact_confirm:{pending.id}",
        pending=pending,
        confirm_url=external_url("contact.confirm", token=raw),
        hours=int(ttl.total_seconds() // 3600),
    )
    db.session.flush()
    return pending


class ContactLinkInvalid(Exception):
    """The confirmation link is unknown, already used, or expired (``expired`` says which of the last)."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@unscoped("an anonymous visitor: the pending request is not tenant-owned")
def contact_request_for_link(raw: str, now: datetime | None = None) -> ContactRequest:
    """The pending request a live link belongs to. :raises ContactLinkInvalid:"""
    if not raw or len(raw) > 200:
        raise ContactLinkInvalid
    pending = db.session.scalar(select(ContactRequest).where(ContactRequest.confirm_token_hash == _contact_digest(raw)))
    if pending is None:
        raise ContactLinkInvalid
    if pending.confirm_expires_at <= (now or utcnow()):
        raise ContactLinkInvalid(expired=True)
    return pending


def _known_customer(email: str) -> User | None:
    """The active customer account with this (now confirmed) address, if any; staff accounts never match."""
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None or user.organization_id is None or user.is_staff or not user.is_active:
        return None
    return user


@dataclass
class ContactReceipt:
    """What the sender is told once their message reached the desk."""

    ticket_id: int
    due_at: datetime
    oncall: str | None


@unscoped("the sender's organization, if any, is only known from the confirmed address")
def confirm_contact(raw: str, now: datetime | None = None) -> ContactReceipt:
    """The sender proved the address: the request becomes a ticket at the desk, once.

    The ticket belongs to the organization of an active customer account with that address (and names
    that account as requester); otherwise it has no organization and only staff see it. Either way the
    answers are emailed to the address.

    :raises ContactLinkInvalid: unknown, expired, or used (also by a concurrent request).
    """
    now = now or utcnow()
    pending = contact_request_for_link(raw, now)
    # Deleting the row by its hash is what uses the link: of two racing requests only one deletes it.
    result = db.session.execute(
        delete(ContactRequest)
        .where(ContactRequest.id == pending.id, ContactRequest.confirm_token_hash == _contact_digest(raw))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ContactLinkInvalid
    db.session.expunge(pending)
    customer = _known_customer(pending.email)
    ticket = Ticket(
        organization_id=customer.organization_id if customer else None,
        requester_id=customer.id if customer else None,
        contact_name=pending.name,
        contact_company=pending.company,
        contact_email=pending.email,
    )
    _receive(ticket, customer, pending.category, pending.subject, pending.body, [], now,
             via="contact_form", matched=customer is not None)
    _log(ticket, "contact_confirmed", None, now)
    db.session.flush()
    return ContactReceipt(ticket.id, ticket.sla_due_at, oncall_outcome(ticket))


@periodic("contact.purge_unconfirmed", every=timedelta(hours=6))
def purge_unconfirmed_contacts(now: datetime) -> int:
    """Delete contact requests whose link expired long ago: their sender never confirmed the address."""
    cutoff = now - current_app.config["CONTACT_UNCONFIRMED_RETENTION"]
    result = db.session.execute(delete(ContactRequest).where(ContactRequest.confirm_expires_at < cutoff))
    if result.rowcount:
        audit.record("contact.unconfirmed_purged", count=result.rowcount)
    db.session.flush()
    return result.rowcount
