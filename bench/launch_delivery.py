"""Benchmark: launch a delivery of the demo course to 10,000 learners (assignments and emails queued).

Not a test. Runs the same service as the delivery form against a fresh database and prints seconds::

    .venv/bin/python bench/launch_delivery.py
    PORTAL_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench \\
        .venv/bin/python bench/launch_delivery.py

The goal (#6): under 10 seconds for 10,000 learners.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from _training_setup import make_app, seed
from sqlalchemy import func, select

from portal.blueprints.training.deliveries.services import DeliveryInput, create_delivery
from portal.extensions import db
from portal.models import Assignment, Course, OutboxMessage, User, utcnow
from portal.tenancy import tenant_scope


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    args = parser.parse_args()
    app, url = make_app()
    org_id, admin_id, course_id = seed(app, args.learners)
    with app.test_request_context(), tenant_scope(org_id):
        admin = db.session.get(User, admin_id)
        course = db.session.get(Course, course_id)
        now = utcnow()
        data = DeliveryInput(course=course, title="", target_kind="everyone", department_ids=[], learner_ids=[],
                             starts_at=now, due_at=now + timedelta(days=14), reminder_days=[-3, 1])
        started = time.perf_counter()
        create_delivery(data, by=admin, now=now)
        db.session.commit()
        seconds = time.perf_counter() - started
        assignments = db.session.scalar(select(func.count()).select_from(Assignment))
        emails = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    print(f"database: {url.split(':', 1)[0]}; {assignments} assignments and {emails} emails queued "
          f"in {seconds:.2f} s (goal < 10 s)")


if __name__ == "__main__":
    main()
