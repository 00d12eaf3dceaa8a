"""Building editions, rounds and answers for the inspection round tests, through the services."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from portal.blueprints.inspections.items import services as item_services
from portal.blueprints.inspections.rounds import services as rounds
from portal.blueprints.inspections.sheets import services as sheets
from portal.clock import this_month
from portal.extensions import db
from portal.models import (
    SELF_SUBJECT,
    InspectionEdition,
    InspectionItem,
    InspectionResponse,
    InspectionRound,
    InspectionTally,
    Recurrence,
    TargetKind,
    User,
    utcnow,
)
from portal.tenancy import tenant_scope, unscoped


def add_edition(organization_id: int, *, items: int = 3, kind: str = "employee", title: str = "テスト版",
                drawn: int = 0, categories: int = 0) -> tuple[int, list[int]]:
    """An organization's edition with ``items`` fixed items (and ``categories`` more categories with one
    item each to draw from); returns its id and the fixed item ids."""
    with tenant_scope(organization_id):
        fixed = [InspectionItem(organization_id=organization_id, category="PCの利用", text=f"項目{i + 1}",
                                why=f"理由{i + 1}", position=i) for i in range(items)]
        extra = [InspectionItem(organization_id=organization_id, category=f"分類{c}", text=f"抽選{c}", why="理由",
                                position=c) for c in range(categories)]
        db.session.add_all(fixed + extra)
        db.session.flush()
        edition = item_services.save_edition(None, title=title, kind=kind, description="", drawn_count=drawn,
                                             item_ids=[i.id for i in fixed], organization_id=organization_id)
        return edition.id, [i.id for i in fixed]


def open_round(admin: User, edition_id: int, *, person_ids=None, department_ids=None, month=None,
               starts_in=timedelta(0), due_in=timedelta(days=10), reminder_days=(), recurrence=Recurrence.NONE,
               now=None, title: str = "") -> InspectionRound:
    now = now or utcnow()
    with tenant_scope(admin.organization_id):
        kind = (TargetKind.LEARNERS if person_ids else TargetKind.DEPARTMENTS if department_ids
                else TargetKind.EVERYONE)
        data = rounds.RoundInput(
            edition=db.session.get(InspectionEdition, edition_id), month=month or this_month(now),
            title=title, target_kind=kind, department_ids=list(department_ids or []),
            person_ids=list(person_ids or []), starts_at=now + starts_in, due_at=now + due_in,
            reminder_days=list(reminder_days), recurrence=recurrence, window_start_hour=0, window_end_hour=24,
            business_days_only=False,
        )
        return rounds.create_round(data, by=db.session.get(User, admin.id), now=now)


def response_of(round_id: int, person_id: int, subject: str = SELF_SUBJECT) -> InspectionResponse:
    with unscoped("the test reads and writes rows directly"):
        return db.session.scalar(select(InspectionResponse).where(
            InspectionResponse.round_id == round_id, InspectionResponse.respondent_id == person_id,
            InspectionResponse.subject == subject))


def link_for(round_id: int, person_id: int, subject: str = SELF_SUBJECT) -> str:
    with unscoped("the test reads and writes rows directly"):
        return rounds.personal_link_secret(db.session.get(InspectionRound, round_id), person_id, subject)


def tallies(round_id: int) -> dict[tuple[int | None, int], tuple[int, int, int]]:
    """(department, item) -> (yes, no, na)."""
    with unscoped("the test reads and writes rows directly"):
        return {(t.department_id, t.item_id): (t.yes_count, t.no_count, t.na_count)
                for t in db.session.scalars(select(InspectionTally).where(InspectionTally.round_id == round_id))}


def answer_all(response_id: int, values: dict[int, str], *, submit: bool = True, comment: str = "理由あり",
               now=None) -> None:
    with unscoped("the test reads and writes rows directly"):
        response = db.session.get(InspectionResponse, response_id)
        sheets.save_answers(response, {i: sheets.AnswerInput(v, comment if v == "no" else "")
                                       for i, v in values.items()}, submit=submit, now=now)
