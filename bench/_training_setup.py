"""Shared setup for the training benchmarks: a fresh database, one organization, N learners, the demo course."""

from __future__ import annotations

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _database import empty_schema  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from portal import create_app  # noqa: E402
from portal.config import Config  # noqa: E402
from portal.demo.courses import seed_demo_course  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import Department, Organization, Role, User  # noqa: E402
from portal.tenancy import unscoped  # noqa: E402


def make_app():
    workdir = tempfile.mkdtemp(prefix="portal-bench-")
    url = os.environ.get("PORTAL_BENCH_DATABASE_URL") or f"sqlite:///{workdir}/bench.sqlite3"

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
        empty_schema(db.engine)
        upgrade()
    return app, url


def seed(app, learners: int) -> tuple[int, int, int]:
    """(organization id, admin id, course id) with ``learners`` learners in 20 departments."""
    with app.app_context(), unscoped("the benchmark seeds and reads rows directly"):
        org = Organization(name="ベンチマーク株式会社", code="bench")
        db.session.add(org)
        db.session.flush()
        admin = User(role=Role.ORG_ADMIN, organization_id=org.id, email="admin@bench.example", name="管理者")
        departments = [Department(organization_id=org.id, name=f"第{i + 1}部", depth=1) for i in range(20)]
        db.session.add(admin)
        db.session.add_all(departments)
        db.session.flush()
        db.session.execute(
            insert(User),
            [
                {"role": Role.LEARNER, "organization_id": org.id, "email": f"learner{i:05d}@bench.example",
                 "name": f"受講者 {i:05d}", "login_id": f"{i:06d}", "department_id": departments[i % 20].id,
                 "session_token": f"t{i}", "is_active_flag": True}
                for i in range(learners)
            ],
        )
        course, _created = seed_demo_course()
        db.session.commit()
        return org.id, admin.id, course.id
