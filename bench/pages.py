"""Benchmark: the CPU cost of each page in process, as a share of a bare Flask view on the same app (#17).

Not a test. Seeds a temporary SQLite database (``flask demo``, then two training deliveries to everyone
through the service: the demo learner passes the first and is half-way through the second), signs in
through the login form as a learner and as the administrator, and measures each request with the Flask
test client: CPU time of this thread (``time.thread_time``, so that other processes on a busy machine
count for little), each page interleaved with a bare view (``return "ok"``) registered on the same app,
median of ``--requests`` (at least 150) of each. The bare view on the portal pays the portal's request
hooks (the unit of work's commit, the session, the security headers); a plain Flask app's bare view, also
interleaved, is printed beside it for the stricter share. Prints one table::

    .venv/bin/python bench/pages.py            # make bench-pages
    .venv/bin/python bench/pages.py --postgres # on PORTAL_TEST_DATABASE_URL (its schema is dropped)

The targets (share of the bare view): learner pages >= 6 %, anonymous pages >= 15 %, administrator >= 3 %.
A lean page (Flask-Login user, CSRF token, two ORM queries, a layout with 16 url_for and a form) is the
reference row: what a page costs in this framework before any business logic.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _database import empty_schema, scratch_postgres_url  # noqa: E402
from _reference import add_reference_views  # noqa: E402
from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.blueprints.inspections.rounds import services as round_services  # noqa: E402
from portal.blueprints.training.deliveries import services as delivery_services  # noqa: E402
from portal.blueprints.training.deliveries.services import DeliveryInput  # noqa: E402
from portal.blueprints.training.quizzes import services as quiz_services  # noqa: E402
from portal.clock import utcnow  # noqa: E402
from portal.config import TestConfig  # noqa: E402
from portal.demo import DEMO_PASSWORD as PASSWORD  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import (  # noqa: E402
    Assignment,
    Course,
    InspectionResponse,
    InspectionRound,
    Lesson,
    TargetKind,
    User,
)
from portal.tenancy import tenant_scope, unscoped  # noqa: E402

TARGETS = {"learner": 6.0, "anonymous": 15.0, "administrator": 3.0}


def make_app(database_url: str | None = None):
    """The portal on a temporary SQLite database, or on ``database_url`` (PostgreSQL: a scratch database whose
    schema is dropped and made again)."""
    workdir = tempfile.mkdtemp(prefix="portal-bench-pages-")

    class BenchConfig(TestConfig):
        TESTING = False
        SQLALCHEMY_DATABASE_URI = database_url or f"sqlite:///{workdir}/bench.sqlite3"
        RATELIMIT_ENABLED = False
        WTF_CSRF_SSL_STRICT = False
        SESSION_COOKIE_SECURE = False

    app = create_app(BenchConfig)
    app.instance_path = workdir

    add_reference_views(app)

    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        empty_schema(db.engine)
        upgrade()
    return app


def database_url(postgres: bool) -> str | None:
    """``PORTAL_TEST_DATABASE_URL`` for ``--postgres`` (exits without it), else None (SQLite)."""
    return scratch_postgres_url() if postgres else None


def seed(app) -> dict:
    """The demo data, two deliveries of the demo course, a passed one and one half-way for learner01."""
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    now = utcnow()
    with app.test_request_context(), unscoped("the benchmark seeds and reads rows directly"):
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.example.com"))
        learner = db.session.scalar(select(User).where(User.email == "learner01@demo.example.com"))
        course = db.session.scalar(select(Course).where(Course.organization_id.is_(None)).order_by(Course.id))
        with tenant_scope(admin.organization_id):
            deliveries = []
            for title in ("前期", "後期"):
                data = DeliveryInput(course=course, title=title, target_kind=TargetKind.EVERYONE, department_ids=[],
                                     learner_ids=[], starts_at=now, due_at=now + timedelta(days=14),
                                     reminder_days=[])
                deliveries.append(delivery_services.create_delivery(data, by=admin, now=now))
            db.session.flush()
            done, current = (db.session.scalar(select(Assignment).where(Assignment.delivery_id == d.id,
                                                                        Assignment.learner_id == learner.id))
                             for d in deliveries)
            finished = quiz_services.start_attempt(done, now=now)
            for question_id in finished.question_ids:
                question = quiz_services.attempt_questions(finished)[question_id]
                quiz_services.save_answer(finished, question_id, [c.id for c in question.choices if c.is_correct],
                                          now=now)
            quiz_services.finish_attempt(finished, now=now)
            attempt = quiz_services.start_attempt(current, now=now)
            question_id = attempt.question_ids[0]
            question = quiz_services.attempt_questions(attempt)[question_id]
            lesson = db.session.scalar(select(Lesson).where(Lesson.course_id == course.id).order_by(Lesson.id))
            sheet = db.session.scalar(select(InspectionResponse).join(InspectionRound)
                                      .where(InspectionResponse.respondent_id == learner.id,
                                             InspectionRound.closed_at.is_(None), InspectionResponse.subject == "self")
                                      .order_by(InspectionResponse.id.desc()))
            inspection_round = sheet.round
            world = {
                "delivery": deliveries[1].id, "done": done.id, "assignment": current.id, "attempt": attempt.id,
                "question": question_id, "choice": question.choices[0].id, "lesson": lesson.id,
                "sheet": sheet.id, "item": inspection_round.item_ids[0], "round": inspection_round.id,
                "finished": finished.id,
                "training_link": delivery_services.personal_link_secret(deliveries[1], learner.id),
                "inspection_link": round_services.personal_link_secret(inspection_round, learner.id, sheet.subject),
            }
        db.session.commit()
    return world


def signed_in(app, email: str):
    client = app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("/"), response.headers
    return client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def measure(client, bare_client, plain_client, request: Callable, n: int) -> tuple[float, float, float]:
    """Median thread CPU (ms) of ``request``, of the bare view on the portal and of a plain Flask app's,
    interleaved."""
    page, bare, plain = [], [], []
    for _ in range(n):
        for times, run in ((page, lambda: request(client)), (bare, lambda: bare_client.get("/bench/bare")),
                           (plain, lambda: plain_client.get("/"))):
            start = time.thread_time()
            run()
            times.append(time.thread_time() - start)
    return tuple(statistics.median(times) * 1000 for times in (page, bare, plain))


def requests(w: dict, token: str, admin_token: str) -> list[tuple[str, str, str, Callable]]:
    """(group, name, client, request) for every measured request; each request asserts its status."""

    def get(url, status=200):
        def run(client):
            response = client.get(url)
            assert response.status_code == status, (url, response.status_code)
        return url, run

    def post(url, data, status, htmx=False, csrf=None):
        headers = {"HX-Request": "true"} if htmx else {}

        def run(client):
            response = client.post(url, data={**data, "csrf_token": csrf or token}, headers=headers)
            assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:300])
        return url, run

    answer = {"number": "1", "question_id": str(w["question"]), "choice": str(w["choice"])}
    item = {f"value_{w['item']}": "yes", f"comment_{w['item']}": ""}
    rows = [
        ("reference", "lean page (user, CSRF, 2 queries, layout)", "learner", *get("/bench/lean")),
        ("learner", "learner home", "learner", *get("/me/")),
        ("learner", "training list", "learner", *get("/me/training/")),
        ("learner", "assignment", "learner", *get(f"/me/training/{w['assignment']}")),
        ("learner", "lesson", "learner", *get(f"/me/training/{w['assignment']}/lessons/{w['lesson']}")),
        ("learner", "question GET", "learner", *get(f"/me/training/attempts/{w['attempt']}/1")),
        ("learner", "answer POST (plain)", "learner",
         *post(f"/me/training/attempts/{w['attempt']}/answer", answer, 303)),
        ("learner", "answer POST (htmx)", "learner",
         *post(f"/me/training/attempts/{w['attempt']}/answer", answer, 200, htmx=True)),
        ("learner", "result", "learner", *get(f"/me/training/attempts/{w['finished']}/result")),
        ("learner", "certificate", "learner", *get(f"/me/training/{w['done']}/certificate")),
        ("learner", "inspection sheet GET", "learner", *get(f"/me/inspections/{w['sheet']}")),
        ("learner", "inspection answer POST (htmx)", "learner",
         *post(f"/me/inspections/{w['sheet']}/items/{w['item']}", item, 200, htmx=True)),
        ("learner", "inspection history", "learner", *get("/me/inspections/")),
        ("anonymous", "login", "anonymous", *get("/login")),
        ("anonymous", "organization sign-in /o/<code>", "anonymous", *get("/o/demo")),
        ("anonymous", "training personal link /t/<token>", "anonymous", *get(f"/t/{w['training_link']}")),
        ("anonymous", "inspection personal link /i/<token>", "anonymous", *get(f"/i/{w['inspection_link']}")),
        ("anonymous", "status page", "anonymous", *get("/status/")),
        ("administrator", "administrator home", "admin", *get("/org/")),
        ("administrator", "learners list", "admin", *get("/org/learners/")),
        ("administrator", "delivery results", "admin", *get(f"/org/training/{w['delivery']}")),
        ("administrator", "inspection results", "admin",
         *get(f"/org/inspections/results/rounds/{w['round']}")),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150, help="requests per row (at least 150 for the table)")
    parser.add_argument("--page", action="append", help="only this row (its name in the table; repeatable)")
    parser.add_argument("--postgres", action="store_true", help="use PORTAL_TEST_DATABASE_URL (its schema is dropped)")
    args = parser.parse_args()
    app = make_app(database_url(args.postgres))
    world = seed(app)
    learner = signed_in(app, "learner01@demo.example.com")
    admin = signed_in(app, "admin@demo.example.com")
    anonymous, bare_client = app.test_client(), app.test_client()
    plain = Flask("plain")
    plain.add_url_rule("/", "bare", lambda: "ok")
    plain_client = plain.test_client()
    token = _csrf(learner.get("/me/").get_data(as_text=True))
    clients = {"learner": learner, "admin": admin, "anonymous": anonymous}
    print(f"# bench/pages.py, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {platform.node()}, "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}, {'PostgreSQL' if args.postgres else 'SQLite'}, "
          f"medians of {args.requests} requests")
    print()
    print("| request | CPU per request (ms) | bare view (ms) | share of the bare view | target | met? "
          "| plain Flask app's bare view (ms) | share of that | met against it? |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |")
    for group, name, who, url, run in requests(world, token, None):
        if args.page and name not in args.page:
            continue
        client = clients[who]
        for _ in range(5):
            run(client)
        page_ms, bare_ms, plain_ms = measure(client, bare_client, plain_client, run, args.requests)
        share = 100 * bare_ms / page_ms
        target = TARGETS.get(group)
        plain_share = 100 * plain_ms / page_ms
        met, plain_met = ("" if target is None else ("yes" if value >= target else "**no**")
                          for value in (share, plain_share))
        label = f"{name} `{re.sub(r'/[A-Za-z0-9_-]{20,}', '/<token>', url)}`" if group != "reference" else name
        print(f"| {group}: {label} | {page_ms:.2f} | {bare_ms:.3f} | {share:.1f} % | "
              f"{'' if target is None else f'≥ {target:g} %'} | {met} | {plain_ms:.3f} | "
              f"{plain_share:.1f} % | {plain_met} |", flush=True)


if __name__ == "__main__":
    main()
