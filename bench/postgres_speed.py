"""Benchmark: the three PostgreSQL targets of #17 item 5, each printed with the machine's load.

Not a test. Each part runs against the PostgreSQL database given (which must exist; its ``public`` schema is
dropped and rebuilt, unless ``--reuse`` finds the part's data there already)::

    .venv/bin/python bench/postgres_speed.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/pgspeed_bench            # all three
    .venv/bin/python bench/postgres_speed.py --database-url ... --part items --reuse
    .venv/bin/python bench/postgres_speed.py --database-url ... --part import
    .venv/bin/python bench/postgres_speed.py --database-url ... --part demo --scale 50

* ``items``: the item analysis (per question: how many answered, the share right, discrimination) of one
  delivery and of a course's 12 deliveries, at 20,000 learners × 12 monthly deliveries: PostgreSQL's own
  execution time (``EXPLAIN (ANALYZE, BUFFERS)``, median of 5) and the page's server and CPU time. Goal: under
  300 ms.
* ``import``: the first CSV import of 10,000 rows (preview, then confirm), then a re-import. Goal: under 10 s.
* ``demo``: ``flask demo`` then ``flask demo --scale N`` (N=50: 100,000 learners). Goal: under 5 minutes.

Wall times on a shared machine say little: each figure comes with the CPU time of this process and the load
average, and the database's own times where it gives them.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _database import empty_schema  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.config import Config  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Delivery, Organization, User  # noqa: E402
from portal.tenancy import tenant_scope, unscoped  # noqa: E402


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def make_app(url: str, *, fresh: bool):
    workdir = tempfile.mkdtemp(prefix="portal-bench-")

    class BenchConfig(Config):
        ENV_NAME = "testing"
        SECRET_KEY = "bench-only"  # noqa: S105
        SQLALCHEMY_DATABASE_URI = url
        WTF_CSRF_ENABLED = False
        RATELIMIT_ENABLED = False
        WTF_CSRF_SSL_STRICT = False
        SESSION_COOKIE_SECURE = False

    app = create_app(BenchConfig)
    app.instance_path = workdir
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            raise SystemExit("this benchmark is for PostgreSQL: give --database-url postgresql+psycopg://...")
        if fresh:
            empty_schema(db.engine)
        upgrade()
    return app


def vacuum_analyze(app) -> None:
    """What autovacuum does to bulk-loaded tables in production: statistics, and the visibility map that lets
    an index-only scan skip the table."""
    with app.app_context(), db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")


# --- item analysis ----------------------------------------------------------------------------------------


def part_items(url: str, *, learners: int, rounds: int, reuse: bool) -> None:
    from _training_setup import seed
    from results_page import seed_results

    app = make_app(url, fresh=False)
    with app.app_context(), unscoped("the benchmark reads its own rows"):
        org_id = db.session.scalar(select(Organization.id).where(Organization.code == "bench"))
        found = org_id is not None and db.session.scalar(
            select(func.count(Delivery.id)).where(Delivery.organization_id == org_id)) == rounds
    if not (reuse and found):
        app = make_app(url, fresh=True)
        started = time.perf_counter()
        org_id, admin_id, course_id = seed(app, learners)
        seed_results(app, org_id, admin_id, course_id, rounds)
        print(f"seeded {learners} learners x {rounds} deliveries in {time.perf_counter() - started:.0f} s ({load()})")
    vacuum_analyze(app)
    with app.app_context(), unscoped("the benchmark reads its own rows"):
        admin_id = db.session.scalar(select(User.id).where(User.email == "admin@bench.example"))
        course_id = db.session.scalar(select(Delivery.course_id).where(Delivery.organization_id == org_id).limit(1))
        latest = db.session.scalar(select(func.max(Delivery.id)).where(Delivery.organization_id == org_id))
        answers = db.session.scalar(text("SELECT count(*) FROM attempt_answers"))
        indexes = db.session.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'attempt_answers' "
                                          "ORDER BY indexname")).all()
    print(f"item analysis at {learners} learners x {rounds} deliveries ({answers:,} answers; indexes on "
          f"attempt_answers: {', '.join(indexes)})")

    from portal.blueprints.training.deliveries import services

    for label, deliveries in [("one delivery", select(Delivery.id).where(Delivery.id == latest)),
                              (f"the course's {rounds} deliveries", services.deliveries_of_course(course_id))]:
        statements = []

        def capture(_conn, _cursor, statement, parameters, _context, _many, into=statements):
            into.append((statement, parameters))

        with app.test_request_context(), tenant_scope(org_id):
            event.listen(db.engine, "before_cursor_execute", capture)
            try:
                services.item_analysis(deliveries)
            finally:
                event.remove(db.engine, "before_cursor_execute", capture)
            # Every aggregate the analysis ran (from the counts: attempts by score, answers by question and
            # score), timed one after the other and added up.
            aggregates = [(s, p) for s, p in statements if "GROUP BY" in s]
            times, plans = [], []
            for _ in range(5):
                total, plans = 0.0, []
                for statement, parameters in aggregates:
                    plan = db.session.connection().exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).scalars().all()
                    total += float(re.search(r"Execution Time: ([\d.]+)", plan[-1]).group(1))
                    plans.append(plan)
                times.append(total)
            # The statements themselves (no EXPLAIN): the CPU of the backend that ran them, less sensitive to
            # the machine's load than a time.
            backend = db.session.scalar(text("SELECT pg_backend_pid()"))
            before = _backend_cpu(backend)
            for _ in range(5):
                for statement, parameters in aggregates:
                    db.session.connection().exec_driver_sql(statement, parameters).all()
            cpu = (_backend_cpu(backend) - before) / 5 if before is not None else None
            db.session.rollback()
        print(f"  {label}: PostgreSQL execution of its {len(aggregates)} aggregates {statistics.median(times):.1f} ms "
              f"(median of 5: {', '.join(f'{t:.1f}' for t in times)}), CPU of the backend "
              f"{'?' if cpu is None else f'{cpu * 1000:.0f}'} ms (mean of 5) ({load()})")
        for plan in plans:
            for line in plan:
                if re.search(r"Scan|Join|Aggregate|Nested Loop|Sort|Buffers|WindowAgg|Gather", line):
                    print("    " + line)

    client = app.test_client()
    with client.session_transaction() as session, app.app_context(), tenant_scope(org_id):
        session["_user_id"] = db.session.get(User, admin_id).get_id()
        session["_fresh"] = True
    pages = [("item analysis of one delivery", f"/org/training/{latest}/items"),
             (f"course item analysis ({rounds} deliveries)", f"/org/training/courses/{course_id}?analysis=1")]
    for label, page in pages:
        wall, cpu = [], []
        for _ in range(5):
            started, started_cpu = time.perf_counter(), time.thread_time()
            response = client.get(page)
            response.get_data()
            cpu.append(time.thread_time() - started_cpu)
            wall.append(time.perf_counter() - started)
            assert response.status_code == 200, (page, response.status_code)
        print(f"  page {label}: server time {statistics.median(wall) * 1000:.0f} ms, CPU of the thread "
              f"{statistics.median(cpu) * 1000:.0f} ms (medians of 5) ({load()})")


# --- CSV import -------------------------------------------------------------------------------------------


def part_import(url: str, *, rows: int) -> None:
    from import_learners import make_csv

    from portal.blueprints.learners import imports
    from portal.models import Role

    app = make_app(url, fresh=True)
    with app.app_context(), unscoped("the benchmark seeds and reads rows directly"):
        org = Organization(name="ベンチマーク株式会社", code="bench")
        db.session.add(org)
        db.session.flush()
        admin = User(role=Role.ORG_ADMIN, organization_id=org.id, email="admin@bench.example", name="管理者")
        db.session.add(admin)
        db.session.commit()
        org_id, admin_id = org.id, admin.id
    print(f"CSV import of {rows} rows (CP932), PostgreSQL")
    for label, data in [("first import (all new)", make_csv(rows)),
                        ("re-import (every name changed)", make_csv(rows, suffix="改"))]:
        with app.app_context(), tenant_scope(org_id):
            admin = db.session.get(User, admin_id)
            backend = db.session.scalar(text("SELECT pg_backend_pid()"))
            started, cpu, server = time.perf_counter(), time.process_time(), _backend_cpu(backend)
            result = imports.read_csv(data, max_bytes=app.config["LEARNER_IMPORT_MAX_BYTES"])
            batch = imports.create_batch(result, filename="bench.csv", sync=False, invite=False, by=admin)
            db.session.commit()
            plan = imports.plan_import(batch.rows["rows"], batch.rows["columns"], sync=False, organization_id=org_id)
            preview, preview_cpu = time.perf_counter() - started, time.process_time() - cpu
            preview_server = _backend_cpu(backend) - server
            assert not result.errors and not plan.errors, (result.errors[:3], plan.errors[:3])
            started, cpu, server = time.perf_counter(), time.process_time(), _backend_cpu(backend)
            applied = imports.apply_import(batch, db.session.get(Organization, org_id))
            db.session.commit()
            confirm, confirm_cpu = time.perf_counter() - started, time.process_time() - cpu
            confirm_server = _backend_cpu(backend) - server
            same = db.session.scalar(text("SELECT pg_backend_pid()")) == backend
        print(f"  {label}: preview {preview:.2f} s (CPU {preview_cpu:.2f} s here, {preview_server:.2f} s in "
              f"PostgreSQL), confirm {confirm:.2f} s (CPU {confirm_cpu:.2f} s here, {confirm_server:.2f} s in "
              f"PostgreSQL; {len(applied.creates)} created, {len(applied.updates)} updated, "
              f"{len(applied.new_departments)} departments), total {preview + confirm:.2f} s"
              f"{'' if same else ' (the connection changed: PostgreSQL CPU incomplete)'} ({load()})")


# --- demo --scale -----------------------------------------------------------------------------------------


def part_demo(url: str, *, scale: int) -> None:
    from portal.demo import basic
    from portal.demo.scale import seed_scale

    app = make_app(url, fresh=True)
    with app.app_context():
        basic.seed(echo=lambda _line: None)
        backend = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.commit()
        server_cpu = _backend_cpu(backend)
        print(f"flask demo --scale {scale} on PostgreSQL ({load()} at the start)")
        peak = [max(os.getloadavg())]
        done = threading.Event()

        def watch():
            while not done.wait(15):
                peak[0] = max(peak[0], os.getloadavg()[0])

        threading.Thread(target=watch, daemon=True).start()
        started, cpu = time.perf_counter(), time.process_time()
        report = seed_scale(scale, echo=lambda line: print("  " + line))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        done.set()
        same = db.session.scalar(text("SELECT pg_backend_pid()")) == backend
        db.session.commit()
    end_cpu = _backend_cpu(backend) if same else None
    used = end_cpu - server_cpu if server_cpu is not None and end_cpu is not None else None
    print(f"  total {wall:.0f} s wall, CPU of this process {cpu:.0f} s"
          + (f", of its PostgreSQL backend {used:.0f} s" if used is not None else "")
          + f"; {report.counts.get('learners', 0):,} learners, {report.counts.get('answers', 0):,} answers, "
          f"{report.counts.get('inspection answers', 0):,} inspection answers ({load()}, highest 1-minute "
          f"load seen {peak[0]:.1f}); goal: under 300 s")


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds used so far by the PostgreSQL backend ``pid``, when the server runs on this machine."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--part", choices=["items", "import", "demo", "all"], default="all")
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=50)
    parser.add_argument("--reuse", action="store_true", help="items: keep the seeded data found in the database")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, {load()}")
    if args.part in ("items", "all"):
        part_items(args.database_url, learners=args.learners, rounds=args.rounds, reuse=args.reuse)
    if args.part in ("import", "all"):
        part_import(args.database_url, rows=args.rows)
    if args.part in ("demo", "all"):
        part_demo(args.database_url, scale=args.scale)


if __name__ == "__main__":
    main()
