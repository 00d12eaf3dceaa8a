"""Benchmark: import 10,000 learners from a Shift_JIS (CP932) CSV, preview then confirm.

Not a test. Runs the same service functions as the web views against a fresh database and prints
the seconds each step takes::

    .venv/bin/python bench/import_learners.py                 # SQLite in a temporary folder
    PORTAL_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench \\
        .venv/bin/python bench/import_learners.py             # PostgreSQL (the database must exist)

The goal (#5): 10,000 rows imported in under 10 seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _database import empty_schema  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from portal import create_app  # noqa: E402
from portal.blueprints.learners import imports  # noqa: E402
from portal.config import Config  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Organization, Role, User  # noqa: E402
from portal.tenancy import tenant_scope, unscoped  # noqa: E402

EMPLOYMENT = ["正社員", "契約社員", "派遣社員", "パート・アルバイト", "その他"]


def make_csv(rows: int, suffix: str = "") -> bytes:
    lines = ["受講者ID,氏名,メールアドレス,部署,雇用形態,初期パスワード"]
    for i in range(rows):
        department = f"第{i % 8 + 1}事業部/営業{i % 5 + 1}部/第{i % 3 + 1}課"
        if i % 2:
            email, password = f"learner{i:05d}@example.co.jp", ""
        else:  # no email: an initial password, as administrators usually hand out (a few distinct ones)
            email, password = "", f"shoki-pass-{i % 4}"
        lines.append(f"{i:06d},受講者 {i:05d}{suffix},{email},{department},{EMPLOYMENT[i % 5]},{password}")
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="portal-bench-")
    url = os.environ.get("PORTAL_BENCH_DATABASE_URL") or f"sqlite:///{workdir}/bench.sqlite3"

    class BenchConfig(Config):
        ENV_NAME = "testing"
        SECRET_KEY = "bench-only"  # noqa: S105
        SQLALCHEMY_DATABASE_URI = url

    app = create_app(BenchConfig)
    app.instance_path = workdir
    with app.app_context():
        empty_schema(db.engine)
        upgrade()
        with unscoped("the benchmark seeds and reads rows directly"):
            org = Organization(name="ベンチマーク株式会社", code="bench")
            db.session.add(org)
            db.session.flush()
            admin = User(role=Role.ORG_ADMIN, organization_id=org.id, email="admin@bench.example", name="管理者")
            db.session.add(admin)
            db.session.commit()
            org_id, admin_id = org.id, admin.id

    data = make_csv(args.rows)
    print(f"{args.rows} rows, {len(data) / 1_000_000:.1f} MB CP932, database: {url.split(':', 1)[0]}")
    run(app, org_id, admin_id, data, "first import (all new)")
    run(app, org_id, admin_id, make_csv(args.rows, suffix="改"), "second import (every name changed)")


def run(app, org_id: int, admin_id: int, data: bytes, label: str) -> None:
    with app.app_context(), tenant_scope(org_id):
        admin = db.session.get(User, admin_id)
        started = time.perf_counter()
        result = imports.read_csv(data, max_bytes=app.config["LEARNER_IMPORT_MAX_BYTES"])
        batch = imports.create_batch(result, filename="bench.csv", sync=False, invite=False, by=admin)
        db.session.commit()
        plan = imports.plan_import(batch.rows["rows"], batch.rows["columns"], sync=False, organization_id=org_id)
        preview = time.perf_counter() - started
        assert not result.errors and not plan.errors, (result.errors[:3], plan.errors[:3])

        started = time.perf_counter()
        organization = db.session.get(Organization, org_id)
        applied = imports.apply_import(batch, organization)
        db.session.commit()
        confirm = time.perf_counter() - started
        count = db.session.scalar(select(func.count(User.id)).where(User.role == Role.LEARNER))

    print(f"{label}:")
    print(f"  preview (read, normalise, hash initial passwords, keep batch, plan): {preview:.2f} s")
    print(f"  confirm (replan; {len(applied.creates)} created, {len(applied.updates)} updated, "
          f"{len(applied.new_departments)} departments; commit): {confirm:.2f} s")
    print(f"  total: {preview + confirm:.2f} s, {count} learners in the organization (goal: under 10 s)")


if __name__ == "__main__":
    main()
