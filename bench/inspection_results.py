"""Benchmark: the セキュレジ results pages of a 10,000-learner organization with 12 months of rounds.

Not a test. Builds the organization with the generator of the tests (bulk INSERTs: 20 departments on two
levels, 10 items, a closed round a month, 85 % submitted, 5 % in progress, tallies matching the submitted
answers: about 1.1 million answers), then requests the pages through the app as the administrator and
prints the server time (median of 7 requests) and the number of queries::

    .venv/bin/python bench/inspection_results.py       # SQLite; PostgreSQL as well when the URL is set:
    PORTAL_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/portal_x \
        .venv/bin/python bench/inspection_results.py

On PostgreSQL everything goes into a scratch schema (``bench_inspection_results``) of that database, created
and dropped by the benchmark: the database's other schemas are not touched.

The goal (#7): the results page under 300 ms server time, with a query count that does not grow with the
number of learners (``--learners 100`` prints the same counts).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, select, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.config import Config  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import InspectionAnswer, InspectionResponse, User  # noqa: E402
from portal.tenancy import tenant_scope  # noqa: E402

SCHEMA = "bench_inspection_results"


def make_app(url: str):
    workdir = tempfile.mkdtemp(prefix="portal-bench-")
    postgres = url.startswith("postgres")

    class BenchConfig(Config):
        ENV_NAME = "testing"
        SECRET_KEY = "bench-only"  # noqa: S105
        SQLALCHEMY_DATABASE_URI = url
        SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"options": f"-csearch_path={SCHEMA}"}} if postgres else {}
        WTF_CSRF_ENABLED = False
        RATELIMIT_ENABLED = False
        SESSION_COOKIE_SECURE = False

    app = create_app(BenchConfig)
    app.instance_path = workdir
    with app.app_context():
        if postgres:
            with db.engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        upgrade()
    return app


def drop_scratch(app) -> None:
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        db.engine.dispose()


def measure(app, client, url: str, runs: int = 7) -> tuple[float, int]:
    with app.app_context():
        engine = db.engine
    queries: list[int] = []

    def count(*_args):
        queries.append(1)

    times = []
    for _ in range(runs):
        queries.clear()
        event.listen(engine, "before_cursor_execute", count)
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data()
        times.append(time.perf_counter() - started)
        event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, (url, response.status_code, body[:300])
    return statistics.median(times) * 1000, len(queries)


def run(label: str, url: str, learners: int) -> None:
    from tests.inspection_results_helpers import build_organization

    app = make_app(url)
    try:
        started = time.perf_counter()
        with app.app_context():
            built = build_organization(learners, months=12, end_month=date(2026, 11, 1), code="bench")
            with db.engine.connect() as conn:
                # Bulk-loaded tables have no planner statistics until (auto)ANALYZE runs; production has them.
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
            with tenant_scope(built["org_id"]):
                session_id = db.session.get(User, built["admin_id"]).get_id()
                answers = db.session.query(InspectionAnswer.id).count()
                no_answer = db.session.scalar(
                    select(InspectionAnswer.id).join(InspectionAnswer.response)
                    .where(InspectionAnswer.value == "no", InspectionResponse.status == "submitted").limit(1)
                )
        print(f"{label}: seeded {learners} learners x 12 monthly rounds ({answers} answers) "
              f"in {time.perf_counter() - started:.1f} s")
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True
        latest = built["round_ids"][-1]
        pages = [
            ("results page (12-month trend, items, categories, departments)",
             f"/org/inspections/results/?edition={built['edition_id']}&month=2026-11"),
            ("round page (figures, first page of who has not answered)", f"/org/inspections/results/rounds/{latest}"),
            ("いいえ answers of a round (first page)", f"/org/inspections/results/rounds/{latest}/no"),
            ("corrective action form from a いいえ answer", f"/org/inspections/actions/new/{no_answer}"),
            ("corrective actions list", "/org/inspections/actions/"),
            ("figures export, 12 months (CSV)",
             f"/org/inspections/results/figures.csv?edition={built['edition_id']}&month=2026-11"),
        ]
        for name, page in pages:
            ms, queries = measure(app, client, page)
            print(f"  {name}: {ms:.0f} ms server time, {queries} queries")
    finally:
        drop_scratch(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=10_000)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="portal-bench-")
    run("SQLite", f"sqlite:///{workdir}/bench.sqlite3", args.learners)
    if os.environ.get("PORTAL_TEST_DATABASE_URL"):
        run("PostgreSQL", os.environ["PORTAL_TEST_DATABASE_URL"], args.learners)
    else:
        print("PORTAL_TEST_DATABASE_URL is not set: the PostgreSQL run is skipped.")
    print("goal: the results page under 300 ms, with a query count that does not grow with learners")


if __name__ == "__main__":
    main()
