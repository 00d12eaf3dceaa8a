"""Sending to learners on a schedule: what a training delivery and an inspection round share.

Both carry the columns of :class:`portal.models.sending.SendingSchedule`; this module reads only those.

- **Sending window**: email is queued with ``next_attempt_at`` inside the window (hours in Tokyo, business
  days only when asked), so the worker holds it until the window opens.
- **Bulk email**: a template is rendered once with placeholders, and each person's name and personal link
  are substituted in; the rows go into the outbox with one INSERT per 2,000 (duplicates by idempotency key
  are ignored, so a repeated launch queues nothing twice).
- **Personal links** are derived, not stored: ``HMAC(SECRET_KEY, namespace, schedule id, salt, key)``; only
  their SHA-256 is kept. The namespace keeps a training link and an inspection link apart even when the ids
  and salts coincide. Rotating the secret key ends every link.
- **Reminders**: days relative to the due date, each sent once, in time order.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta

from flask import current_app
from markupsafe import escape
from sqlalchemy import select, update

from portal.bulk import insert_on_conflict
from portal.business_calendar import is_business_day
from portal.clock import TOKYO, add_months, utcnow
from portal.departments import DepartmentTree
from portal.extensions import db
from portal.models import OutboxMessage, OutboxStatus, Recurrence, Role, TargetKind, User
from portal.outbox import external_url, render_email

MAX_REMINDERS = 5
REMINDER_CHOICES = [(-7, "期限の7日前"), (-3, "期限の3日前"), (-1, "期限の前日"), (1, "期限の翌日（期限切れ）"),
                    (3, "期限の3日後"), (7, "期限の7日後")]
RECURRENCE_MONTHS = {Recurrence.MONTHLY: 1, Recurrence.QUARTERLY: 3}
NAME_PLACEHOLDER = "ZZLEARNERNAMEZZ"
TOKEN_PLACEHOLDER = "ZZPERSONALTOKENZZ"  # noqa: S105 - a placeholder, not a secret


# --- personal links --------------------------------------------------------------------------------------


def schedule_columns(data, person_ids: list[int]) -> dict:
    """The :class:`~portal.models.sending.SendingSchedule` columns from a delivery's or a round's input
    (``target_kind``, ``department_ids``, times, reminders, window, recurrence)."""
    return {
        "target_kind": data.target_kind,
        "target_department_ids": sorted(set(data.department_ids)) if data.target_kind == TargetKind.DEPARTMENTS
        else [],
        "target_learner_ids": sorted(set(person_ids)) if data.target_kind == TargetKind.LEARNERS else [],
        "starts_at": data.starts_at,
        "due_at": data.due_at,
        "reminder_days": sorted(set(data.reminder_days)),
        "window_start_hour": data.window_start_hour,
        "window_end_hour": data.window_end_hour,
        "business_days_only": data.business_days_only,
        "recurrence": data.recurrence,
    }


def next_round_columns(schedule, months: int) -> dict:
    """The :class:`~portal.models.sending.SendingSchedule` columns of a recurring delivery's or round's next
    round: the same people, reminders and window, its times ``months`` later, its number one more."""
    return {
        "target_kind": schedule.target_kind,
        "target_department_ids": list(schedule.target_department_ids),
        "target_learner_ids": list(schedule.target_learner_ids),
        "starts_at": add_months(schedule.starts_at, months),
        "due_at": add_months(schedule.due_at, months),
        "reminder_days": list(schedule.reminder_days),
        "window_start_hour": schedule.window_start_hour,
        "window_end_hour": schedule.window_end_hour,
        "business_days_only": schedule.business_days_only,
        "recurrence": schedule.recurrence,
        "round_no": schedule.round_no + 1,
        "previous_round_id": schedule.id,
        "created_by_id": schedule.created_by_id,
    }


def claim_launch(schedule, scheduled: str, launched: str, now: datetime) -> bool:
    """Move ``schedule`` (a delivery or a round) from ``scheduled`` to ``launched`` in one UPDATE; True for the
    one caller that moved it, so a launch runs once even when two workers or a retry call it together."""
    model = type(schedule)
    moved = db.session.execute(
        update(model)
        .where(model.id == schedule.id, model.status == scheduled)
        .values(status=launched, launched_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        return False
    db.session.refresh(schedule)
    return True


def personal_link_secret(namespace: str, schedule, key: int | str) -> str:
    """The secret of one personal link: ``namespace`` (``training-link``, ``inspection-link``) keeps the
    links of different kinds of schedule apart; ``key`` names the person (and, where a person has several
    sheets, the sheet)."""
    secret = current_app.config["SECRET_KEY"].encode()
    message = f"{namespace}:{schedule.id}:{schedule.link_salt}:{key}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:40]


def link_digest(raw: str) -> str:
    """What is stored of a personal link: its SHA-256."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


# --- the sending window and the calendar -------------------------------------------------------------------


def next_send_time(schedule, moment: datetime) -> datetime:
    """``moment`` when it lies inside the schedule's sending window, else the window's next opening."""
    local = moment.astimezone(TOKYO)
    opens = time(schedule.window_start_hour)
    closes = time(schedule.window_end_hour) if schedule.window_end_hour < 24 else time(23, 59, 59)
    for _day in range(3660):
        day_ok = is_business_day(local.date()) if schedule.business_days_only else True
        if day_ok and local.time() < closes:
            return max(local, datetime.combine(local.date(), opens, tzinfo=TOKYO)).astimezone(moment.tzinfo)
        local = datetime.combine(local.date() + timedelta(days=1), opens, tzinfo=TOKYO)
    raise ValueError("no sending window within ten years")


# --- targets -----------------------------------------------------------------------------------------------


def target_people(schedule, role: Role | str = Role.LEARNER) -> list[tuple[int, str | None, str, int | None]]:
    """(id, email, name, department id) of the active users with ``role`` the schedule is for: everyone,
    the chosen departments with their sub-departments, or the chosen people."""
    stmt = select(User.id, User.email, User.name, User.department_id).where(
        User.organization_id == schedule.organization_id, User.role == str(role), User.is_active_flag.is_(True)
    )
    if schedule.target_kind == TargetKind.DEPARTMENTS:
        ids = DepartmentTree.load().with_descendants(schedule.target_department_ids)
        stmt = stmt.where(User.department_id.in_(ids))
    elif schedule.target_kind == TargetKind.LEARNERS:
        stmt = stmt.where(User.id.in_(schedule.target_learner_ids))
    return [tuple(row) for row in db.session.execute(stmt.order_by(User.id))]


# --- bulk writing and email ----------------------------------------------------------------------------------


def _insert_ignoring_duplicates(table, rows: list[dict], keys: Sequence[str]) -> None:
    """INSERT ``rows`` 2,000 at a time; a row whose ``keys`` already exist is skipped (both databases)."""
    if not rows:
        return
    stmt = insert_on_conflict(table).on_conflict_do_nothing(index_elements=list(keys))
    for start in range(0, len(rows), 2000):
        db.session.execute(stmt, rows[start : start + 2000])


insert_ignoring_duplicates = _insert_ignoring_duplicates


class BulkEmail:
    """An email template rendered once, with each person's name and personal link substituted in.

    ``link_endpoint`` is the landing page of the personal links (it takes a ``token``); the templates
    receive ``learner_name``, ``link`` and ``context``. ``topic`` names what the emails belong to
    (:func:`portal.outbox.topic_counts`).
    """

    def __init__(self, template: str, *, organization_id: int, link_endpoint: str, topic: str | None = None,
                 **context):
        link = external_url(link_endpoint, token=TOKEN_PLACEHOLDER)
        self.template = template
        self.organization_id = organization_id
        self.topic = topic
        self.subject, self.text, self.html = render_email(
            template, current_app.config["BABEL_DEFAULT_LOCALE"], learner_name=NAME_PLACEHOLDER, link=link,
            **context,
        )

    def row(self, key: str, *, person_id: int, email: str, name: str, token: str, send_at: datetime) -> dict:
        """An outbox row for one person (``key`` is the idempotency key)."""
        return {
            "idempotency_key": key,
            "template": self.template,
            "to_address": email,
            "subject": self.subject.replace(NAME_PLACEHOLDER, name),
            "body_text": self.text.replace(NAME_PLACEHOLDER, name).replace(TOKEN_PLACEHOLDER, token),
            "body_html": self.html.replace(NAME_PLACEHOLDER, str(escape(name))).replace(TOKEN_PLACEHOLDER, token),
            "organization_id": self.organization_id,
            "user_id": person_id,
            "topic": self.topic,
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": send_at,
            "created_at": utcnow(),
        }


def queue_rows(rows: list[dict]) -> int:
    """Put outbox rows built by :class:`BulkEmail` into the outbox; returns how many were given."""
    _insert_ignoring_duplicates(OutboxMessage.__table__, rows, ["idempotency_key"])
    return len(rows)


# --- reminders -----------------------------------------------------------------------------------------------


def reminder_times(schedule) -> list[datetime]:
    return [schedule.due_at + timedelta(days=d) for d in sorted(schedule.reminder_days or [])]


def send_due_reminders(schedule, now: datetime, send: Callable[[int, bool], int]) -> int:
    """Call ``send(number, overdue)`` for each reminder whose time has come and that has not gone out yet
    (in time order, each once), counting it on ``schedule.reminders_sent``; returns the emails queued."""
    times = reminder_times(schedule)
    queued = 0
    while schedule.reminders_sent < len(times) and times[schedule.reminders_sent] <= now:
        number = schedule.reminders_sent + 1
        queued += send(number, now > schedule.due_at)
        schedule.reminders_sent = number
        db.session.flush()
    return queued
