"""Item analysis from counts kept by every finish (portal/item_counts.py, #17): the counts say what the answers
say, after retakes, an unfinished attempt, a learner's deletion and migration 0028's filling; ties at a
group's boundary count for their share; the analysis costs the same statements whatever the number of
answers."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

from sqlalchemy import delete, event, select, text

from portal import item_counts
from portal.blueprints.training.deliveries import services as delivery_services
from portal.extensions import db
from portal.models import Attempt, AttemptAnswer, AttemptState, Delivery, ItemCount, Role, ScoreCount, User
from tests.conftest import csrf_token_from
from tests.training_helpers import add_course, assignment_of, deliver, take

_numbers = itertools.count()
MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0028_item_counts.py"


def _migration():
    spec = importlib.util.spec_from_file_location("migration_0028", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _delivered(world, make_user, run_in_app, *, learners: int, questions: int):
    people = [make_user(Role.LEARNER, world["org_a"], login_id=f"IC{next(_numbers)}")
              for _ in range(learners)]

    def make():
        course = add_course(organization_id=None, questions=questions)
        delivery = deliver(world["admin_a"], course.id, learner_ids=[p.id for p in people])
        return delivery.id, [assignment_of(delivery.id, p.id).id for p in people]

    delivery_id, assignments = run_in_app(make)
    return delivery_id, assignments, people


def _both(delivery_id: int):
    ids = select(Delivery.id).where(Delivery.id == delivery_id)
    return item_counts.from_counts(ids), item_counts.from_answers(ids, select(User.id))


def test_the_counts_say_what_the_answers_say_and_so_do_migration_0028s_filling_and_a_rebuild(
    world, make_user, run_in_app
):
    delivery_id, assignments, _people = _delivered(world, make_user, run_in_app, learners=4, questions=4)

    def answer():
        take(assignments[0])  # 100
        take(assignments[1], right=2)  # 50
        take(assignments[2], right=2)  # 50
        take(assignments[3], right=0)  # 0, then a retake
        take(assignments[3], right=3)  # 75
        take(assignments[1], finish=False)  # a retake answered all right but not finished: not counted
        return _both(delivery_id)

    counted, answered = run_in_app(answer)
    assert counted == answered
    scores, cells = counted
    assert scores == {100: 1, 50: 2, 0: 1, 75: 1}
    assert sum(n for n, _right in cells.values()) == 5 * 4
    assert sum(right for _n, right in cells.values()) == 4 + 2 + 2 + 0 + 3

    def refill():
        db.session.execute(delete(ItemCount))
        db.session.execute(delete(ScoreCount))
        migration = _migration()
        db.session.execute(text(migration.FILL_SCORE_COUNTS))
        db.session.execute(text(migration.FILL_ITEM_COUNTS))
        return _both(delivery_id)

    assert run_in_app(refill) == (counted, answered)

    def rebuilt():
        db.session.execute(delete(ItemCount))
        db.session.execute(delete(ScoreCount))
        item_counts.rebuild(select(Delivery.id).where(Delivery.id == delivery_id))
        return _both(delivery_id)

    assert run_in_app(rebuilt) == (counted, answered)


def test_a_deleted_learners_attempts_leave_the_counts(world, make_user, run_in_app, login_as):
    delivery_id, assignments, people = _delivered(world, make_user, run_in_app, learners=3, questions=2)
    run_in_app(lambda: [take(assignments[0]), take(assignments[1], right=1), take(assignments[1], right=0),
                        take(assignments[2], right=0)])
    admin = login_as(world["admin_a"])
    page = admin.get(f"/org/learners/{people[1].id}/delete")
    response = admin.post(f"/org/learners/{people[1].id}/delete",
                          data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 303
    (scores, cells), answered = run_in_app(lambda: _both(delivery_id))
    assert (scores, cells) == answered
    assert scores == {100: 1, 0: 1} and sum(n for n, _right in cells.values()) == 2 * 2


def test_tied_attempts_at_a_groups_boundary_count_for_their_share(world, make_user, run_in_app):
    """Eight attempts, every one answering all three questions: the upper and lower 27 % take 3 each, and
    the boundary falls among attempts with the same score. D is then the mean of D over every order of the
    tied attempts (what ranking them by the order they were saved in only happened to pick one of)."""
    delivery_id, assignments, _people = _delivered(world, make_user, run_in_app, learners=8, questions=3)
    rights = [3, 2, 2, 2, 1, 1, 1, 0]

    def answer():
        for assignment_id, right in zip(assignments, rights, strict=True):
            take(assignment_id, right=right)
        ids = select(Delivery.id).where(Delivery.id == delivery_id)
        marks = {}
        for attempt_id, score, question_id, correct in db.session.execute(
            select(Attempt.id, Attempt.score, AttemptAnswer.question_id, AttemptAnswer.correct)
            .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
            .where(Attempt.state == AttemptState.FINISHED)
        ):
            marks.setdefault((score, attempt_id), {})[question_id] = bool(correct)
        return delivery_services.item_analysis(ids), marks

    rows, marks = run_in_app(answer)
    attempts = sorted(marks, reverse=True)
    by_score = [list(group) for _score, group in itertools.groupby(attempts, key=lambda a: a[0])]
    k = 3  # ceil(27 % of 8)
    orders = [list(itertools.chain(*parts)) for parts in itertools.product(*map(itertools.permutations, by_score))]
    for row in rows:
        ds = []
        for order in orders:
            upper, lower = order[:k], order[-k:]
            ds.append(sum(marks[a][row.question_id] for a in upper) / k
                      - sum(marks[a][row.question_id] for a in lower) / k)
        assert abs(row.discrimination - sum(ds) / len(ds)) < 1e-9, (row, sum(ds) / len(ds))
        assert row.answered == 8
    assert len(rows) == 3 and sum(round(r.difficulty * 8) for r in rows) == sum(rights)


def test_the_analysis_reads_the_same_few_statements_for_2_and_12_attempts(app, world, make_user, run_in_app):
    counts = []
    for learners in (2, 12):
        delivery_id, assignments, _people = _delivered(world, make_user, run_in_app, learners=learners, questions=3)
        run_in_app(lambda assignments=assignments: [take(a, right=i % 4) for i, a in enumerate(assignments)])
        seen = []
        with app.app_context():
            engine = db.engine
        listener = lambda *_args, seen=seen: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            rows = run_in_app(lambda delivery_id=delivery_id: delivery_services.item_analysis(
                select(Delivery.id).where(Delivery.id == delivery_id)))
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert len(rows) == 3 and sum(r.answered for r in rows) == learners * 3
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
