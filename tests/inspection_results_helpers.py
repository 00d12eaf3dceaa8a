"""Rounds, responses, answers and tallies for the results tests, written directly with the models.

They keep the contract of the rounds code (parts 3-4 of #7): launching writes one tally row per distinct
response department × round item; the counts cover submitted responses only and move by delta at each
submission. :func:`build_organization` bulk-builds an organization with N learners and twelve months of
rounds (for the query-count test and the benchmark).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select

from portal.demo.inspection_history import generate_history
from portal.extensions import db
from portal.models import (
    Department,
    EditionItem,
    InspectionAnswer,
    InspectionEdition,
    InspectionItem,
    InspectionResponse,
    InspectionRound,
    InspectionTally,
    Organization,
    ResponseStatus,
    Role,
    RoundStatus,
    User,
    utcnow,
)
from portal.tenancy import tenant_scope


def make_items(organization_id: int, texts: Iterable[tuple[str, str]]) -> list[InspectionItem]:
    """The organization's own items from (category, text) pairs, in order."""
    items = [InspectionItem(organization_id=organization_id, category=category, text=text, why="理由", position=n)
             for n, (category, text) in enumerate(texts)]
    db.session.add_all(items)
    db.session.flush()
    return items


def make_edition(organization_id: int, items: list[InspectionItem], title: str = "自社点検") -> InspectionEdition:
    edition = InspectionEdition(organization_id=organization_id, kind="custom", title=title, drawn_count=0)
    db.session.add(edition)
    db.session.flush()
    db.session.add_all([EditionItem(edition_id=edition.id, item_id=i.id, position=n) for n, i in enumerate(items)])
    db.session.flush()
    db.session.refresh(edition)
    return edition


def make_round(organization_id: int, edition_id: int, month: date, item_ids: list[int], *,
               status: str = RoundStatus.CLOSED, title: str | None = None) -> InspectionRound:
    starts = datetime(month.year, month.month, 1, tzinfo=UTC)
    inspection_round = InspectionRound(
        organization_id=organization_id, edition_id=edition_id, month=month, item_ids=list(item_ids),
        title=title or f"点検 {month:%Y-%m}", status=status, starts_at=starts, due_at=starts + timedelta(days=14),
        launched_at=starts,
    )
    db.session.add(inspection_round)
    db.session.flush()
    return inspection_round


def launch(inspection_round: InspectionRound,
           people: Iterable[User | tuple[int, int | None]]) -> dict[int, InspectionResponse]:
    """Responses (未回答) for ``people`` and the zeroed tally rows, as launching does; by respondent id."""
    pairs = [(p.id, p.department_id) if isinstance(p, User) else p for p in people]
    responses = {}
    for user_id, department_id in pairs:
        response = InspectionResponse(
            organization_id=inspection_round.organization_id, round_id=inspection_round.id, respondent_id=user_id,
            department_id=department_id, link_hash=hashlib.sha256(secrets.token_bytes(16)).hexdigest(),
        )
        db.session.add(response)
        responses[user_id] = response
    for department_id in {d for _u, d in pairs}:
        for item_id in inspection_round.item_ids:
            db.session.add(InspectionTally(organization_id=inspection_round.organization_id,
                                           round_id=inspection_round.id, department_id=department_id, item_id=item_id,
                                           yes_count=0, no_count=0, na_count=0))
    db.session.flush()
    return responses


def _answer(response: InspectionResponse, answers: dict) -> list[InspectionAnswer]:
    rows = []
    for item_id, value in answers.items():
        value, comment = value if isinstance(value, tuple) else (value, "理由があります。" if value == "no" else "")
        answer = InspectionAnswer(organization_id=response.organization_id, response_id=response.id,
                                  round_id=response.round_id, item_id=item_id, value=value, comment=comment)
        db.session.add(answer)
        rows.append(answer)
    db.session.flush()
    return rows


def save(response: InspectionResponse, answers: dict) -> list[InspectionAnswer]:
    """Answers saved but not submitted (回答中): the tallies do not move."""
    rows = _answer(response, answers)
    response.status = ResponseStatus.IN_PROGRESS
    response.updated_at = utcnow()
    db.session.flush()
    return rows


def submit(response: InspectionResponse, answers: dict) -> list[InspectionAnswer]:
    """Answers ({item id: "yes" | "no" | "na" | (value, comment)}) submitted: the tallies move by delta."""
    rows = _answer(response, answers)
    response.status = ResponseStatus.SUBMITTED
    response.submitted_at = response.updated_at = utcnow()
    for answer in rows:
        tally = db.session.scalar(select(InspectionTally).where(
            InspectionTally.round_id == response.round_id, InspectionTally.item_id == answer.item_id,
            InspectionTally.department_id.is_(None) if response.department_id is None
            else InspectionTally.department_id == response.department_id,
        ))
        column = {"yes": "yes_count", "no": "no_count", "na": "na_count"}[answer.value]
        setattr(tally, column, getattr(tally, column) + 1)
    db.session.flush()
    return rows


def department_tree(organization_id: int) -> dict[str, Department]:
    """営業部 > 第一課 > 一係, 営業部 > 第二課, 総務部: three levels."""
    sales = Department(organization_id=organization_id, name="営業部", depth=1)
    general = Department(organization_id=organization_id, name="総務部", depth=1)
    db.session.add_all([sales, general])
    db.session.flush()
    first = Department(organization_id=organization_id, name="第一課", depth=2, parent_id=sales.id)
    second = Department(organization_id=organization_id, name="第二課", depth=2, parent_id=sales.id)
    db.session.add_all([first, second])
    db.session.flush()
    unit = Department(organization_id=organization_id, name="一係", depth=3, parent_id=first.id)
    db.session.add(unit)
    db.session.flush()
    return {"sales": sales, "general": general, "first": first, "second": second, "unit": unit}


def build_organization(learners: int, *, months: int = 12, end_month: date | None = None, code: str | None = None,
                       items: int = 10) -> dict:
    """An organization with an administrator, 20 departments (two levels), ``learners`` learners (bulk
    INSERT), an edition of ``items`` own items and ``months`` months of closed rounds ending with
    ``end_month`` (generated by :func:`generate_history`). Call in an app context; commits."""
    from portal.blueprints.inspections.results.services import month_window
    from portal.clock import this_month

    end_month = end_month or this_month()
    org = Organization(name=f"点検ベンチ株式会社{code or ''}", code=code or f"ib{secrets.token_hex(3)}")
    db.session.add(org)
    db.session.flush()
    with tenant_scope(org.id):
        admin = User(role=Role.ORG_ADMIN, organization_id=org.id, email=f"admin@{org.code}.example", name="管理者")
        db.session.add(admin)
        parents = [Department(organization_id=org.id, name=f"第{i + 1}本部", depth=1) for i in range(4)]
        db.session.add_all(parents)
        db.session.flush()
        children = [Department(organization_id=org.id, name=f"第{i + 1}部", depth=2, parent_id=parents[i % 4].id)
                    for i in range(16)]
        db.session.add_all(children)
        db.session.flush()
        departments = [d.id for d in parents + children]
        db.session.execute(insert(User), [
            {"role": Role.LEARNER, "organization_id": org.id, "email": f"l{i:05d}@{org.code}.example",
             "name": f"受講者 {i:05d}", "login_id": f"{i:06d}", "department_id": departments[i % len(departments)],
             "session_token": f"{org.code}{i}", "is_active_flag": True}
            for i in range(learners)
        ])
        people = db.session.execute(
            select(User.id, User.department_id).where(User.role == Role.LEARNER).order_by(User.id)
        ).all()
        categories = ["入退管理", "情報の保管", "PCの利用", "電子メールの利用", "携帯機器"]
        own = make_items(org.id, [(categories[i % len(categories)], f"点検項目その{i + 1}") for i in range(items)])
        edition = make_edition(org.id, own)
        round_ids = generate_history(org.id, edition, [tuple(p) for p in people], month_window(end_month, months))
        result = {"org_id": org.id, "admin_id": admin.id, "edition_id": edition.id, "round_ids": round_ids,
                  "item_ids": [i.id for i in own]}
    db.session.commit()
    return result
