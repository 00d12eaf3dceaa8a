"""A history of closed monthly rounds with submitted answers and matching tallies, written in bulk (COPY on
PostgreSQL, :mod:`portal.bulk`): for ``flask demo`` (a year of the demo company) and for the benchmark (10,000
people).

It keeps the contract of the rounds code: tally rows exist for every department of a response × item of
the round, and count the submitted responses only. Figures are drawn from a seeded random generator, so
the same call gives the same history. One fixed item is kept weak (about 60 % はい) so that the results
page shows an item failing month after month.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from portal.blueprints.inspections.items.services import edition_items
from portal.bulk import copy_dicts, copy_rows
from portal.clock import TOKYO, shift_month
from portal.extensions import db
from portal.models import (
    AnswerValue,
    InspectionAnswer,
    InspectionEdition,
    InspectionResponse,
    InspectionRound,
    InspectionTally,
    ResponseStatus,
    RoundStatus,
)

NO_COMMENTS = [
    "席を外すときにロックを忘れることがありました。",
    "急いでいて確認を省略してしまいました。",
    "ルールを知りませんでした。次回から守ります。",
    "共用の場所に置いたままにしていました。",
    "手順が分かりにくく、後回しにしていました。",
]


ANSWER_COLUMNS = ["organization_id", "response_id", "round_id", "item_id", "value", "comment", "answered_at"]


def _tokyo(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TOKYO).astimezone(UTC)


def _bulk(model, rows: list[dict]) -> None:
    copy_dicts(model.__table__, rows)  # COPY on PostgreSQL: a year of 20,000 people is millions of answers


def generate_history(organization_id: int, edition: InspectionEdition, people: Sequence[tuple[int, int | None]],
                     months: Sequence[date], *, seed: int = 7, submitted_share: float = 0.85,
                     in_progress_share: float = 0.05) -> list[int]:
    """One closed round of ``edition`` per month in ``months`` for ``people`` ((user id, department id)),
    with answers, response statuses and tallies; returns the round ids. Call inside the organization's
    tenant scope; the caller commits."""
    rng = random.Random(seed)
    round_ids = []
    weak_item = edition.fixed[1].item_id if len(edition.fixed) > 1 else None
    base: dict[int, float] = {}
    for n, month in enumerate(sorted(months)):
        items = [item.id for item in edition_items(edition, month)]
        for item_id in items:
            base.setdefault(item_id, 0.6 if item_id == weak_item else rng.uniform(0.82, 0.97))
        starts, due = _tokyo(month, 9), _tokyo(month + timedelta(days=14), 18)
        inspection_round = InspectionRound(
            organization_id=organization_id, edition_id=edition.id, month=month,
            title=f"{edition.title} {month.year}年{month.month}月", item_ids=items, status=RoundStatus.CLOSED,
            closed_at=due, starts_at=starts, due_at=due, launched_at=starts, reminder_days=[],
        )
        db.session.add(inspection_round)
        db.session.flush()
        round_ids.append(inspection_round.id)
        statuses = {}
        for user_id, _department in people:
            draw = rng.random()
            statuses[user_id] = (ResponseStatus.SUBMITTED if draw < submitted_share else
                                 ResponseStatus.IN_PROGRESS if draw < submitted_share + in_progress_share else
                                 ResponseStatus.NOT_STARTED)
        salt = f"history:{inspection_round.id}:{inspection_round.link_salt}:"
        _bulk(InspectionResponse, [
            {"organization_id": organization_id, "round_id": inspection_round.id, "respondent_id": user_id,
             "subject": "self", "department_id": department_id, "status": statuses[user_id],
             "link_hash": hashlib.sha256(f"{salt}{user_id}".encode()).hexdigest(),
             "submitted_at": due - timedelta(days=2) if statuses[user_id] == ResponseStatus.SUBMITTED else None,
             "updated_at": due - timedelta(days=2) if statuses[user_id] != ResponseStatus.NOT_STARTED else None}
            for user_id, department_id in people
        ])
        responses = db.session.execute(
            select(InspectionResponse.id, InspectionResponse.respondent_id, InspectionResponse.department_id)
            .where(InspectionResponse.round_id == inspection_round.id).order_by(InspectionResponse.id)
        ).all()
        answers, counts = [], Counter()
        answered_at = due - timedelta(days=2)
        improvement = 0.01 * n
        for response_id, user_id, department_id in responses:
            status = statuses[user_id]
            if status == ResponseStatus.NOT_STARTED:
                continue
            asked = items if status == ResponseStatus.SUBMITTED else items[: len(items) // 2]
            for item_id in asked:
                p = min(base[item_id] + (improvement if item_id != weak_item else 0), 0.99)
                draw = rng.random()
                value = AnswerValue.YES if draw < p else (AnswerValue.NO if draw < p + (1 - p) * 0.85
                                                          else AnswerValue.NOT_APPLICABLE)
                answers.append((organization_id, response_id, inspection_round.id, item_id, value,
                                rng.choice(NO_COMMENTS) if value == AnswerValue.NO else "", answered_at))
                if status == ResponseStatus.SUBMITTED:
                    counts[(department_id, item_id, value)] += 1
        copy_rows(InspectionAnswer.__table__, ANSWER_COLUMNS, answers)  # millions of rows at scale: tuples
        departments = sorted({d for _r, _u, d in responses}, key=lambda d: (d is None, d or 0))
        _bulk(InspectionTally, [
            {"organization_id": organization_id, "round_id": inspection_round.id, "department_id": department_id,
             "item_id": item_id, "yes_count": counts[(department_id, item_id, AnswerValue.YES)],
             "no_count": counts[(department_id, item_id, AnswerValue.NO)],
             "na_count": counts[(department_id, item_id, AnswerValue.NOT_APPLICABLE)]}
            for department_id in departments for item_id in items
        ])
    db.session.flush()
    return round_ids


def months_before(month: date, count: int) -> list[date]:
    """The ``count`` months before ``month`` (not including it), oldest first."""
    return [shift_month(month, -n) for n in range(count, 0, -1)]


def seed_demo_history(organization_id: int, edition: InspectionEdition, people: Sequence[tuple[int, int | None]],
                      this_month: date) -> int:
    """The twelve months before ``this_month`` for the demo company, skipping months that already have a
    round of ``edition`` (so running ``flask demo`` again adds nothing). Returns the rounds added."""
    existing = set(db.session.scalars(
        select(InspectionRound.month).where(InspectionRound.edition_id == edition.id)
    ))
    missing = [m for m in months_before(this_month, 12) if m not in existing]
    if not missing or not people:
        return 0
    return len(generate_history(organization_id, edition, people, missing, seed=2026))
