"""Benchmark: the results pages of a 10,000-learner organization with 12 monthly deliveries.

Not a test. Seeds a fresh database (deliveries launched through the service; attempts and answers
bulk-inserted: 70 % of learners finished, most passed), then requests the pages through the app as the
organization's administrator and prints the server time (median of 5 requests) and the queries run::

    .venv/bin/python bench/results_page.py
    PORTAL_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench \\
        .venv/bin/python bench/results_page.py

The goal (#6): the results page under 300 ms, with a query count that does not grow with learners.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from _training_setup import make_app, seed
from sqlalchemy import event, insert, select, text, update

from portal import item_counts
from portal.blueprints.training.courses.services import bank_questions
from portal.blueprints.training.deliveries.services import DeliveryInput, create_delivery
from portal.extensions import db
from portal.models import Assignment, Attempt, AttemptAnswer, Course, Delivery, User
from portal.tenancy import tenant_scope, unscoped


def seed_results(app, org_id: int, admin_id: int, course_id: int, rounds: int) -> list[int]:
    rng = random.Random(6)
    delivery_ids = []
    with app.test_request_context(), tenant_scope(org_id):
        admin = db.session.get(User, admin_id)
        course = db.session.get(Course, course_id)
        questions = bank_questions(course)
        right = {q.id: sorted(c.id for c in q.choices if c.is_correct) for q in questions}
        wrong = {q.id: [next(c.id for c in q.choices if not c.is_correct)] for q in questions}
        for month in range(rounds):
            start = datetime(2026, 4, 1, tzinfo=UTC) + timedelta(days=30 * month)
            data = DeliveryInput(course=course, title=f"月次研修 {month + 1}月", target_kind="everyone",
                                 department_ids=[], learner_ids=[], starts_at=start, due_at=start + timedelta(days=14),
                                 reminder_days=[])
            delivery = create_delivery(data, by=admin, now=start)
            assignments = db.session.execute(
                select(Assignment.id, Assignment.learner_id).where(Assignment.delivery_id == delivery.id)
            ).all()
            attempts, answers, passed_ids, failed_ids = [], [], [], []
            for assignment_id, learner_id in assignments:
                if rng.random() > 0.7:
                    continue
                ability = rng.random()
                drawn = rng.sample(questions, 10)
                marks = [rng.random() < 0.55 + 0.45 * ability for _ in drawn]
                score = 10 * sum(marks)
                attempts.append({"organization_id": org_id, "assignment_id": assignment_id, "learner_id": learner_id,
                                 "number": 1, "state": "finished", "question_ids": [q.id for q in drawn],
                                 "choice_order": {}, "started_at": start, "finished_at": start, "score": score,
                                 "passed": score == 100, "late": False})
                (passed_ids if score == 100 else failed_ids).append(assignment_id)
                answers.append((assignment_id, drawn, marks))
            db.session.execute(insert(Attempt), attempts)
            if db.engine.dialect.name == "postgresql":
                # Without statistics for the rows just written the planner joins them back row by row
                # (beyond the request's statement timeout at 20,000 learners).
                db.session.execute(text("ANALYZE assignments, attempts"))
            attempt_ids = dict(db.session.execute(
                select(Attempt.assignment_id, Attempt.id).join(Assignment, Assignment.id == Attempt.assignment_id)
                .where(Assignment.delivery_id == delivery.id)).all())
            rows = [{"organization_id": org_id, "attempt_id": attempt_ids[a], "question_id": q.id,
                     "choice_ids": right[q.id] if ok else wrong[q.id], "correct": ok, "answered_at": start}
                    for a, drawn, marks in answers for q, ok in zip(drawn, marks, strict=True)]
            for chunk in range(0, len(rows), 5000):
                db.session.execute(insert(AttemptAnswer), rows[chunk:chunk + 5000])
            for ids, status in ((passed_ids, "passed"), (failed_ids, "failed")):
                for chunk in range(0, len(ids), 5000):
                    db.session.execute(update(Assignment).where(Assignment.id.in_(ids[chunk:chunk + 5000]))
                                       .values(status=status, attempts_count=1)
                                       .execution_options(synchronize_session=False))
            db.session.commit()
            delivery_ids.append(delivery.id)
        # The rows were written in bulk, without the finish that keeps item analysis' counts.
        with unscoped("the benchmark counts its own organization's deliveries"):
            item_counts.rebuild(select(Delivery.id).where(Delivery.id.in_(delivery_ids)))
        db.session.commit()
    return delivery_ids


def measure(app, client, url: str) -> tuple[float, int]:
    with app.app_context():
        engine = db.engine
    queries = []

    def count(*_args):
        queries.append(1)

    times = []
    for _ in range(5):
        queries.clear()
        event.listen(engine, "before_cursor_execute", count)
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data()
        times.append(time.perf_counter() - started)
        event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, (url, response.status_code, body[:300])
    return statistics.median(times) * 1000, len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    app, url = make_app()
    org_id, admin_id, course_id = seed(app, args.learners)
    started = time.perf_counter()
    delivery_ids = seed_results(app, org_id, admin_id, course_id, args.rounds)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # Bulk-loaded tables have no planner statistics until autovacuum's ANALYZE runs; a production
            # database has them, so the benchmark measures with them.
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    print(f"database: {url.split(':', 1)[0]}; seeded {args.learners} learners x {args.rounds} deliveries "
          f"in {time.perf_counter() - started:.1f} s")
    client = app.test_client()
    with client.session_transaction() as session, app.app_context(), tenant_scope(org_id):
        admin = db.session.get(User, admin_id)
        session["_user_id"] = admin.get_id()
        session["_fresh"] = True
    with app.app_context(), tenant_scope(org_id):
        latest = db.session.scalar(select(Delivery.id).where(Delivery.id == delivery_ids[-1]))
    for label, page in [("results page of one delivery", f"/org/training/{latest}"),
                        ("item analysis of one delivery", f"/org/training/{latest}/items"),
                        ("course results (12 deliveries)", f"/org/training/courses/{course_id}"),
                        ("course item analysis on request (12 deliveries)",
                         f"/org/training/courses/{course_id}?analysis=1"),
                        ("delivery list", "/org/training/")]:
        ms, queries = measure(app, client, page)
        print(f"{label}: {ms:.0f} ms server time, {queries} queries")
    print("goal: the results page of a delivery under 300 ms")


if __name__ == "__main__":
    main()
