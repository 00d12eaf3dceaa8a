"""The counts behind item analysis, kept in step with every finished attempt (#17).

:class:`~portal.models.ScoreCount` holds how many attempts of a delivery finished with each score,
:class:`~portal.models.ItemCount` their answers by question and score (how many, how many right). A finish
adds its attempt (:func:`count_finished`, two upserts); deleting a learner takes theirs away first
(:func:`forget_learner`: the database deletes the attempts with the learner, without telling anyone); an
organization's data deletion deletes the counts with every other tenant table. Migration 0028 filled them
from the attempts finished before; :func:`rebuild` counts deliveries again from their answers (rows written
in bulk, without the finish); ``flask demo --scale`` counts as it generates.

So an analysis over a year of deliveries reads a few thousand rows (:func:`from_counts`) instead of every
answer: the course-wide analysis at 20,000 learners × 12 deliveries read 1.68 million answers, 1.1 to 1.3 s on
PostgreSQL. For part of the learners (a manager's departments) :func:`from_answers` computes the same two
tables from the answers themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import and_, bindparam, case, delete, func, insert, select, update

from portal.bulk import insert_on_conflict
from portal.extensions import db
from portal.models import Assignment, Attempt, AttemptAnswer, AttemptState, ItemCount, ScoreCount

# (question id, attempt score) -> (answers, right answers)
Cells = dict[tuple[int, int], tuple[int, int]]


def count_finished(organization_id: int, delivery_id: int, score: int, marks: Iterable[tuple[int, bool]]) -> None:
    """Add one finished attempt: its score, and each of its questions (id, answered right)."""
    scores, items = _upserts(db.session.get_bind().dialect.name)
    db.session.execute(scores, {"organization_id": organization_id, "delivery_id": delivery_id, "score": score,
                                "attempts": 1})
    # In the order of the questions, so that two finishes lock the rows they share in the same order (on
    # PostgreSQL the score's row, locked first, already makes them wait for each other).
    rows = [{"organization_id": organization_id, "delivery_id": delivery_id, "question_id": question_id,
             "score": score, "answered": 1, "correct": int(right)} for question_id, right in sorted(marks)]
    if rows:
        db.session.execute(items, rows)


@cache
def _upserts(dialect: str):
    """The two INSERTs that add to a row already there, built once per database (building them cost more than
    running them)."""
    score_table, item_table = ScoreCount.__table__, ItemCount.__table__
    scores = insert_on_conflict(score_table, dialect)
    items = insert_on_conflict(item_table, dialect)
    return (
        scores.on_conflict_do_update(
            index_elements=["delivery_id", "score"],
            set_={"attempts": score_table.c.attempts + 1},
            where=score_table.c.organization_id == scores.excluded.organization_id,
        ),
        items.on_conflict_do_update(
            index_elements=["delivery_id", "question_id", "score"],
            set_={"answered": item_table.c.answered + 1, "correct": item_table.c.correct + items.excluded.correct},
            where=item_table.c.organization_id == items.excluded.organization_id,
        ),
    )


def _attempts_by(*columns, where):
    """Finished attempts matching ``where``, counted by ``columns`` (of Attempt and Assignment)."""
    return (select(*columns, func.count()).join(Assignment, Assignment.id == Attempt.assignment_id)
            .where(Attempt.state == AttemptState.FINISHED, Attempt.score.is_not(None), where).group_by(*columns))


def _answers_by(*columns, where):
    """The answers of the finished attempts matching ``where``, counted (how many, how many right) by
    ``columns`` (of AttemptAnswer, Attempt and Assignment)."""
    return (select(*columns, func.count(), func.sum(case((AttemptAnswer.correct.is_(True), 1), else_=0)))
            .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
            .join(Assignment, Assignment.id == Attempt.assignment_id)
            .where(Attempt.state == AttemptState.FINISHED, Attempt.score.is_not(None), where).group_by(*columns))


# What a row of each table is counted by.
_SCORE_KEY = (Attempt.organization_id, Assignment.delivery_id, Attempt.score)
_ITEM_KEY = (Attempt.organization_id, Assignment.delivery_id, AttemptAnswer.question_id, Attempt.score)


def forget_learner(learner_id: int) -> None:
    """Take a learner's finished attempts out of the counts, before the learner (and with them, by the
    database's cascade, their attempts) is deleted."""
    theirs = Attempt.learner_id == learner_id
    scores = db.session.execute(_attempts_by(*_SCORE_KEY, where=theirs)).all()
    if not scores:
        return
    items = db.session.execute(_answers_by(*_ITEM_KEY, where=theirs)).all()
    # One UPDATE per table, run for every key (Core tables: the ORM's bulk UPDATE would want primary keys).
    # Through the session, so that the tenancy guard narrows them to the scope's organization as well.
    score_table, item_table = ScoreCount.__table__, ItemCount.__table__
    db.session.execute(
        update(score_table)
        .where(score_table.c.organization_id == bindparam("o"), score_table.c.delivery_id == bindparam("d"),
               score_table.c.score == bindparam("s"))
        .values(attempts=score_table.c.attempts - bindparam("n")),
        [{"o": o, "d": d, "s": s, "n": n} for o, d, s, n in scores],
    )
    if items:
        db.session.execute(
            update(item_table)
            .where(item_table.c.organization_id == bindparam("o"), item_table.c.delivery_id == bindparam("d"),
                   item_table.c.question_id == bindparam("q"), item_table.c.score == bindparam("s"))
            .values(answered=item_table.c.answered - bindparam("n"), correct=item_table.c.correct - bindparam("c")),
            [{"o": o, "d": d, "q": q, "s": s, "n": n, "c": c or 0} for o, d, q, s, n, c in items],
        )


def rebuild(delivery_ids_stmt) -> None:
    """Count the deliveries ``delivery_ids_stmt`` selects again, from their attempts and answers: for rows
    written in bulk without the finish (a benchmark's seed), or counts that a restore left behind. Runs
    across organizations (``unscoped``): the tenancy guard refuses an ``INSERT … SELECT`` inside one's scope."""
    db.session.execute(delete(ScoreCount).where(ScoreCount.delivery_id.in_(delivery_ids_stmt)))
    db.session.execute(delete(ItemCount).where(ItemCount.delivery_id.in_(delivery_ids_stmt)))
    theirs = Assignment.delivery_id.in_(delivery_ids_stmt)
    db.session.execute(insert(ScoreCount).from_select(
        ["organization_id", "delivery_id", "score", "attempts"], _attempts_by(*_SCORE_KEY, where=theirs)))
    db.session.execute(insert(ItemCount).from_select(
        ["organization_id", "delivery_id", "question_id", "score", "answered", "correct"],
        _answers_by(*_ITEM_KEY, where=theirs)))


def from_counts(delivery_ids_stmt) -> tuple[dict[int, int], Cells]:
    """(attempts by score, answers by question and score) of the deliveries ``delivery_ids_stmt`` selects,
    from the counts: two small aggregates."""
    scores = db.session.execute(
        select(ScoreCount.score, func.sum(ScoreCount.attempts))
        .where(ScoreCount.delivery_id.in_(delivery_ids_stmt)).group_by(ScoreCount.score)
    ).all()
    cells = db.session.execute(
        select(ItemCount.question_id, ItemCount.score, func.sum(ItemCount.answered), func.sum(ItemCount.correct))
        .where(ItemCount.delivery_id.in_(delivery_ids_stmt)).group_by(ItemCount.question_id, ItemCount.score)
    ).all()
    return _tables(scores, cells)


def from_answers(delivery_ids_stmt, learners) -> tuple[dict[int, int], Cells]:
    """The same two tables for the finished attempts of ``learners`` only (a select of user ids), read from
    the attempts and their answers."""
    theirs = and_(Assignment.delivery_id.in_(delivery_ids_stmt), Assignment.learner_id.in_(learners))
    scores = db.session.execute(_attempts_by(Attempt.score, where=theirs)).all()
    cells = db.session.execute(_answers_by(AttemptAnswer.question_id, Attempt.score, where=theirs)).all()
    return _tables(scores, cells)


def _tables(scores, cells) -> tuple[dict[int, int], Cells]:
    return ({score: int(n) for score, n in scores if n},
            {(question_id, score): (int(n), int(right or 0)) for question_id, score, n, right in cells if n})
