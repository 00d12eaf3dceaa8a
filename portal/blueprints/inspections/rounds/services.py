"""Inspection rounds (点検回): creating, launching, reminding and closing.

A round freezes its items when it is created (the edition's fixed items and the month's drawn items). At
launch one response (answer sheet) is written per person, or for the manager edition per manager and team,
with its department frozen; the tallies are written too, one row per department of the sheets and item,
all counts 0. Answering and how a submission changes the tallies: :mod:`portal.blueprints.inspections.sheets.services`.
The delivery machinery (sending window, targets, bulk email, reminders, link secrets) is :mod:`portal.sending`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, case, func, select, update

from portal import audit, sending
from portal.blueprints.inspections.items.services import edition_items
from portal.clock import add_months_to_date, this_month, today_in_tokyo, utcnow
from portal.contracts import refuse_before_start
from portal.departments import DepartmentTree
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.jobs import periodic
from portal.models import (
    SELF_SUBJECT,
    AnswerValue,
    EditionKind,
    InspectionEdition,
    InspectionItem,
    InspectionResponse,
    InspectionRound,
    InspectionTally,
    ManagerDepartment,
    Recurrence,
    ResponseStatus,
    Role,
    RoundStatus,
    TargetKind,
    User,
)
from portal.rules import NotFound, RuleViolation
from portal.tenancy import unscoped

LINK_NAMESPACE = "inspection-link"
# A round closes at its due date, so only reminders before it make sense.
REMINDER_CHOICES = [(d, label) for d, label in sending.REMINDER_CHOICES if d < 0]
ROUND_STATUS_LABELS = {
    RoundStatus.SCHEDULED: _l("予定"), RoundStatus.OPEN: _l("実施中"), RoundStatus.CLOSED: _l("終了"),
}
NOT_IN_ROUND = _l("この点検に含まれない項目への回答は受け付けられません。画面を読み込み直してください。")
RESPONSE_STATUS_LABELS = {
    ResponseStatus.NOT_STARTED: _l("未回答"), ResponseStatus.IN_PROGRESS: _l("回答中"),
    ResponseStatus.SUBMITTED: _l("提出済"),
}
ANSWER_LABELS = {AnswerValue.YES: _l("はい"), AnswerValue.NO: _l("いいえ"), AnswerValue.NOT_APPLICABLE: _l("該当なし")}


class InspectionRuleError(ValueError):
    """A rule refuses the request; the message is Japanese and shown as is."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.field = field


def team_subject(department_id: int) -> str:
    return f"team:{department_id}"


def is_manager_edition(edition: InspectionEdition) -> bool:
    return edition.kind == EditionKind.MANAGER


# --- creating ----------------------------------------------------------------------------------------------


@dataclass
class RoundInput:
    edition: InspectionEdition
    month: date
    title: str
    target_kind: str
    department_ids: list[int]
    person_ids: list[int]
    starts_at: datetime
    due_at: datetime
    reminder_days: list[int] = field(default_factory=list)
    window_start_hour: int = 9
    window_end_hour: int = 18
    business_days_only: bool = True
    recurrence: str = Recurrence.NONE


def _check(data: RoundInput, now: datetime) -> None:
    month = data.month.replace(day=1)
    if month < this_month(now):
        raise InspectionRuleError(_("過ぎた月（%(month)s）の点検は作成できません。今月以降を選んでください。",
                                    month=f"{month:%Y-%m}"), "month")
    closed = db.session.scalar(
        select(InspectionRound.id).where(InspectionRound.edition_id == data.edition.id,
                                         InspectionRound.month == month,
                                         InspectionRound.status == RoundStatus.CLOSED).limit(1)
    )
    if closed:
        raise InspectionRuleError(_("この版の%(month)sの点検はすでに締め切られています。別の月を選んでください。",
                                    month=f"{month:%Y-%m}"), "month")
    if data.due_at <= data.starts_at:
        raise InspectionRuleError(_("期限は開始日時より後にしてください。"), "due_at")
    if data.due_at <= now:
        raise InspectionRuleError(_("期限が過ぎています。これからの日時を入力してください。"), "due_at")
    if len(data.reminder_days) > sending.MAX_REMINDERS:
        raise InspectionRuleError(_("リマインドは5回までです。"), "reminder_days")
    if any(d >= 0 for d in data.reminder_days):
        raise InspectionRuleError(_("点検は期限で締め切るため、リマインドは期限より前だけ選べます。"), "reminder_days")
    if not 0 <= data.window_start_hour < data.window_end_hour <= 24:
        raise InspectionRuleError(_("送信時間帯は開始時刻を終了時刻より前にしてください。"), "window_start_hour")
    if data.recurrence not in (Recurrence.NONE, Recurrence.MONTHLY):
        raise InspectionRuleError(_("繰り返しを選び直してください。"), "recurrence")
    if data.target_kind == TargetKind.DEPARTMENTS and not data.department_ids:
        raise InspectionRuleError(_("対象の部署を選んでください。"), "department_ids")
    if data.target_kind == TargetKind.LEARNERS and not data.person_ids:
        raise InspectionRuleError(_("対象の人を選んでください。"), "learner_ids")


def create_round(data: RoundInput, *, by: User, now: datetime | None = None) -> InspectionRound:
    """A scheduled round with its items frozen; launched at once when its start has come.

    :raises InspectionRuleError: a past month, an edition and month whose round is closed, due before start
        or already past, bad reminders or window, an edition without items, nobody in the targets.
    """
    now = now or utcnow()
    _check(data, now)
    try:
        refuse_before_start(by.organization_id, data.starts_at)
    except RuleViolation as refusal:
        raise InspectionRuleError(str(refusal), "starts_at") from refusal
    month = data.month.replace(day=1)
    items = edition_items(data.edition, month)
    if not items:
        raise InspectionRuleError(_("この版には点検項目がありません。"), "edition_id")
    inspection_round = InspectionRound(
        organization_id=by.organization_id,
        edition_id=data.edition.id,
        month=month,
        title=data.title.strip() or f"{data.edition.title}（{month.year}年{month.month}月）",
        item_ids=[i.id for i in items],
        **sending.schedule_columns(data, data.person_ids),
        created_by_id=by.id,
    )
    db.session.add(inspection_round)
    db.session.flush()
    if not target_sheets(inspection_round):
        raise InspectionRuleError(
            _("対象に管理者（担当部署のある人）がいません。対象を見直してください。")
            if is_manager_edition(data.edition) else _("対象に受講者がいません。対象を見直してください。"),
            "target_kind",
        )
    audit.record("inspection.round_created", target=inspection_round, edition=data.edition.id,
                 month=f"{month:%Y-%m}", items=len(items))
    if inspection_round.starts_at <= now:
        launch_round(inspection_round, now=now)
    return inspection_round


@dataclass(frozen=True)
class Sheet:
    """One answer sheet to write at launch."""

    person_id: int
    email: str | None
    name: str
    subject: str
    department_id: int | None


def target_sheets(inspection_round: InspectionRound) -> list[Sheet]:
    """The sheets the round asks for: one per target learner about themselves, or for the manager edition
    one per manager and department the manager looks after (ManagerDepartment), within the targets."""
    if not is_manager_edition(inspection_round.edition):
        return [Sheet(pid, email, name, SELF_SUBJECT, dep)
                for pid, email, name, dep in sending.target_people(inspection_round, Role.LEARNER)]
    stmt = (
        select(User.id, User.email, User.name, ManagerDepartment.department_id)
        .join(ManagerDepartment, ManagerDepartment.user_id == User.id)
        .where(User.organization_id == inspection_round.organization_id, User.role == Role.MANAGER,
               User.is_active_flag.is_(True))
    )
    if inspection_round.target_kind == TargetKind.DEPARTMENTS:
        ids = DepartmentTree.load().with_descendants(inspection_round.target_department_ids)
        stmt = stmt.where(ManagerDepartment.department_id.in_(ids))
    elif inspection_round.target_kind == TargetKind.LEARNERS:
        stmt = stmt.where(User.id.in_(inspection_round.target_learner_ids))
    return [Sheet(pid, email, name, team_subject(dep), dep)
            for pid, email, name, dep in db.session.execute(stmt.order_by(User.id, ManagerDepartment.department_id))]


def link_key(person_id: int, subject: str) -> str:
    return f"{person_id}:{subject}"


def personal_link_secret(inspection_round: InspectionRound, person_id: int, subject: str) -> str:
    return sending.personal_link_secret(LINK_NAMESPACE, inspection_round, link_key(person_id, subject))


class _BulkEmail(sending.BulkEmail):
    def __init__(self, template: str, inspection_round: InspectionRound, **context):
        super().__init__(template, organization_id=inspection_round.organization_id,
                         link_endpoint="inspection_links.landing", inspection_round=inspection_round, **context)
        self.round = inspection_round

    def for_sheet(self, key: str, sheet: Sheet, send_at: datetime) -> dict:
        return self.row(key, person_id=sheet.person_id, email=sheet.email or "", name=sheet.name,
                        token=personal_link_secret(self.round, sheet.person_id, sheet.subject), send_at=send_at)


def _one_per_person(sheets: list[Sheet]) -> list[Sheet]:
    """A manager with several teams gets one email; its link opens the list of the manager's sheets."""
    seen, out = set(), []
    for sheet in sheets:
        if sheet.person_id not in seen and sheet.email:
            seen.add(sheet.person_id)
            out.append(sheet)
    return out


def launch_round(inspection_round: InspectionRound, *, now: datetime | None = None) -> int:
    """Write every answer sheet and the tallies, and queue the invitations; returns the number of sheets.

    Safe to call twice or from two processes: only the call that moves the round from scheduled to open
    does the work.
    """
    now = now or utcnow()
    if not sending.claim_launch(inspection_round, RoundStatus.SCHEDULED, RoundStatus.OPEN, now):
        return 0
    sheets = target_sheets(inspection_round)
    org_id = inspection_round.organization_id
    sending.insert_ignoring_duplicates(
        InspectionResponse.__table__,
        [
            {"organization_id": org_id, "round_id": inspection_round.id, "respondent_id": s.person_id,
             "subject": s.subject, "department_id": s.department_id,
             "link_hash": sending.link_digest(personal_link_secret(inspection_round, s.person_id, s.subject)),
             "status": ResponseStatus.NOT_STARTED}
            for s in sheets
        ],
        ["round_id", "respondent_id", "subject"],
    )
    departments = sorted({s.department_id for s in sheets}, key=lambda d: (d is None, d or 0))
    if departments:
        db.session.execute(
            InspectionTally.__table__.insert(),
            [{"organization_id": org_id, "round_id": inspection_round.id, "department_id": dep, "item_id": item_id,
              "yes_count": 0, "no_count": 0, "na_count": 0}
             for dep in departments for item_id in inspection_round.item_ids],
        )
    email = _BulkEmail("inspection_invitation", inspection_round)
    send_at = sending.next_send_time(inspection_round, now)
    sending.queue_rows([email.for_sheet(f"inspection:{inspection_round.id}:invitation:{s.person_id}", s, send_at)
                        for s in _one_per_person(sheets)])
    if inspection_round.recurrence in sending.RECURRENCE_MONTHS:
        schedule_next_round(inspection_round)
    audit.record("inspection.round_launched", target=inspection_round, sheets=len(sheets))
    return len(sheets)


def schedule_next_round(inspection_round: InspectionRound) -> InspectionRound | None:
    """The next month's round of a recurring round, with that month's drawn items (once: the unique
    ``previous_round_id`` guards it)."""
    if db.session.scalar(select(InspectionRound.id).where(InspectionRound.previous_round_id == inspection_round.id)):
        return None
    months = sending.RECURRENCE_MONTHS[Recurrence(inspection_round.recurrence)]
    month = add_months_to_date(inspection_round.month, months)
    items = edition_items(inspection_round.edition, month)
    following = InspectionRound(
        organization_id=inspection_round.organization_id,
        edition_id=inspection_round.edition_id,
        month=month,
        title=f"{inspection_round.edition.title}（{month.year}年{month.month}月）",
        item_ids=[i.id for i in items] or list(inspection_round.item_ids),
        **sending.next_round_columns(inspection_round, months),
    )
    db.session.add(following)
    db.session.flush()
    audit.record("inspection.round_scheduled", target=following, previous=inspection_round.id,
                 month=f"{month:%Y-%m}")
    return following


def close_round(inspection_round: InspectionRound, *, now: datetime | None = None, automatic: bool = False) -> None:
    """Close the round: answers become final, reminders stop. Closing twice changes nothing."""
    if inspection_round.status == RoundStatus.CLOSED:
        return
    inspection_round.status = RoundStatus.CLOSED
    inspection_round.closed_at = now or utcnow()
    db.session.flush()
    if automatic:
        audit.record("inspection.round_closed", target=inspection_round, actor=None, automatic=True)
    else:
        audit.record("inspection.round_closed", target=inspection_round)


# --- reminders ---------------------------------------------------------------------------------------------


def _unsubmitted_sheets(inspection_round: InspectionRound, *, not_reminded_on: date | None = None) -> list[Sheet]:
    stmt = (
        select(User.id, User.email, User.name, InspectionResponse.subject, InspectionResponse.department_id)
        .join(InspectionResponse, InspectionResponse.respondent_id == User.id)
        .where(InspectionResponse.round_id == inspection_round.id,
               InspectionResponse.status != ResponseStatus.SUBMITTED, User.is_active_flag.is_(True))
        .order_by(User.id, InspectionResponse.subject)
    )
    if not_reminded_on is not None:
        stmt = stmt.where(InspectionResponse.last_manual_reminder_on.is_(None)
                          | (InspectionResponse.last_manual_reminder_on != not_reminded_on))
    return [Sheet(*row) for row in db.session.execute(stmt)]


def send_due_reminders(inspection_round: InspectionRound, now: datetime) -> int:
    """Queue the scheduled reminders whose time has come, to everyone with a sheet not submitted."""

    def send(number: int, overdue: bool) -> int:
        email = _BulkEmail("inspection_reminder", inspection_round, overdue=overdue)
        send_at = sending.next_send_time(inspection_round, now)
        rows = [email.for_sheet(f"inspection:{inspection_round.id}:reminder:{number}:{s.person_id}", s, send_at)
                for s in _one_per_person(_unsubmitted_sheets(inspection_round))]
        sending.queue_rows(rows)
        audit.record("inspection.reminder_sent", target=inspection_round, number=number, emails=len(rows), actor=None)
        return len(rows)

    return sending.send_due_reminders(inspection_round, now, send)


def remind_now(inspection_round: InspectionRound, *, now: datetime | None = None) -> int:
    """The administrator's one-click reminder to everyone who has not submitted; once per person per day."""
    now = now or utcnow()
    today = today_in_tokyo(now)
    if inspection_round.status != RoundStatus.OPEN or now >= inspection_round.due_at:
        raise InspectionRuleError(_("実施中の点検にだけリマインドを送れます。"))
    sheets = _unsubmitted_sheets(inspection_round, not_reminded_on=today)
    email = _BulkEmail("inspection_reminder", inspection_round, overdue=False)
    send_at = sending.next_send_time(inspection_round, now)
    rows = [email.for_sheet(f"inspection:{inspection_round.id}:manual:{today.isoformat()}:{s.person_id}", s, send_at)
            for s in _one_per_person(sheets)]
    sending.queue_rows(rows)
    db.session.execute(
        update(InspectionResponse)
        .where(InspectionResponse.round_id == inspection_round.id,
               InspectionResponse.status != ResponseStatus.SUBMITTED,
               InspectionResponse.last_manual_reminder_on.is_(None)
               | (InspectionResponse.last_manual_reminder_on != today))
        .values(last_manual_reminder_on=today)
        .execution_options(synchronize_session=False)
    )
    audit.record("inspection.reminder_manual", target=inspection_round, emails=len(rows))
    return len(rows)


@periodic("inspections.rounds", every=timedelta(minutes=1))
def run_rounds(now: datetime) -> None:
    """Launch the rounds whose start has come (recurring ones schedule the next month), send the reminders
    that are due and close the rounds past their due date. Safe to run twice."""
    with unscoped("a worker job covers every organization"):
        for inspection_round in db.session.scalars(
            select(InspectionRound).where(InspectionRound.status == RoundStatus.SCHEDULED,
                                          InspectionRound.starts_at <= now)
        ).all():
            launch_round(inspection_round, now=now)
        for inspection_round in db.session.scalars(
            select(InspectionRound).where(InspectionRound.status == RoundStatus.OPEN)
        ).all():
            if inspection_round.due_at <= now:
                close_round(inspection_round, now=now, automatic=True)
            elif inspection_round.reminders_sent < len(inspection_round.reminder_days or []):
                send_due_reminders(inspection_round, now)


# --- the administrator's lists -------------------------------------------------------------------------------


def round_list() -> list[InspectionRound]:
    return list(db.session.scalars(
        select(InspectionRound).order_by(InspectionRound.month.desc(), InspectionRound.starts_at.desc(),
                                         InspectionRound.id.desc())
    ))


def status_counts(round_ids: list[int], department_ids: set[int] | None = None) -> dict[int, dict[str, int]]:
    """Per round, sheets by status (one query); ``department_ids`` narrows it for a manager."""
    counts: dict[int, dict[str, int]] = {}
    if not round_ids:
        return counts
    stmt = (select(InspectionResponse.round_id, InspectionResponse.status, func.count())
            .where(InspectionResponse.round_id.in_(round_ids))
            .group_by(InspectionResponse.round_id, InspectionResponse.status))
    if department_ids is not None:
        stmt = stmt.where(InspectionResponse.department_id.in_(department_ids or [0]))
    for round_id, status, n in db.session.execute(stmt):
        counts.setdefault(round_id, {})[status] = n
    return counts


@dataclass(frozen=True)
class DepartmentCounts:
    department_id: int | None
    name: str
    not_started: int
    in_progress: int
    submitted: int

    @property
    def total(self) -> int:
        return self.not_started + self.in_progress + self.submitted


def department_counts(inspection_round: InspectionRound, tree: DepartmentTree,
                      department_ids: set[int] | None = None) -> tuple[list[DepartmentCounts], DepartmentCounts]:
    """Sheets by status and department, and the total, in one query."""

    def count(status):
        return func.sum(case((InspectionResponse.status == status, 1), else_=0))

    stmt = (select(InspectionResponse.department_id, count(ResponseStatus.NOT_STARTED),
                   count(ResponseStatus.IN_PROGRESS), count(ResponseStatus.SUBMITTED))
            .where(InspectionResponse.round_id == inspection_round.id)
            .group_by(InspectionResponse.department_id))
    if department_ids is not None:
        stmt = stmt.where(InspectionResponse.department_id.in_(department_ids or [0]))
    rows = [DepartmentCounts(dep, tree.path(dep) if dep else _("（部署なし）"), a or 0, b or 0, c or 0)
            for dep, a, b, c in db.session.execute(stmt)]
    rows.sort(key=lambda r: r.name)
    total = DepartmentCounts(None, _("合計"), sum(r.not_started for r in rows), sum(r.in_progress for r in rows),
                             sum(r.submitted for r in rows))
    return rows, total


def get_round(round_id: int) -> InspectionRound:
    """The round ``round_id`` of the current organization. :raises NotFound: another's (never reveal it exists)."""
    inspection_round = db.session.scalar(_round_by_id(), {"id": round_id})
    if inspection_round is None:
        raise NotFound
    return inspection_round


@cache
def _round_by_id() -> Select:
    """Built once (#17): every page of a round reads it first."""
    return select(InspectionRound).where(InspectionRound.id == bindparam("id"))


class RoundItem(NamedTuple):
    """An item of a round as its pages show it (columns, not the ORM object: #17)."""

    id: int
    category: str
    text: str
    why: str


def round_items(inspection_round: InspectionRound) -> list[RoundItem]:
    """The round's items in the frozen order (one query)."""
    ids = list(inspection_round.item_ids or [])
    found = {row[0]: RoundItem(*row) for row in db.session.execute(_items_by_id(), {"ids": ids})}
    return [found[i] for i in ids if i in found]


@cache
def _items_by_id() -> Select:
    """Built once (#17: building a statement cost as much as running it on a sheet's page)."""
    return (select(InspectionItem.id, InspectionItem.category, InspectionItem.text, InspectionItem.why)
            .where(InspectionItem.id.in_(bindparam("ids", expanding=True))))
