"""Fixtures: the app on a real database (SQLite file, or PostgreSQL with PORTAL_TEST_BACKEND=postgres),
a test client, creators for organizations and users, and a signed-in client per role."""

from __future__ import annotations

import itertools
import os
import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db, limiter
from portal.models import Organization, Role, User
from portal.passwords import hash_password
from portal.tenancy import unscoped

PASSWORD = "correct horse battery staple 2026"
_counter = itertools.count(1)
_HASH_CACHE: dict[str, str] = {}


def _database_url(tmp_path_factory) -> str:
    if os.environ.get("PORTAL_TEST_BACKEND") == "postgres":
        url = os.environ.get("PORTAL_TEST_DATABASE_URL")
        if not url:
            pytest.exit("PORTAL_TEST_BACKEND=postgres needs PORTAL_TEST_DATABASE_URL", returncode=2)
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "portal.sqlite3")


def _reset_schema() -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=_database_url(tmp_path_factory),
        BASE_URL="http://portal.test",
    )
    app.instance_path = str(instance)
    with app.app_context():
        _reset_schema()
        upgrade()
    return app


@pytest.fixture(autouse=True)
def _clean_state(app):
    yield
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(text(f'DELETE FROM "{table}"'))  # noqa: S608 - table names from our metadata
        db.engine.dispose()
    limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def run_in_app(app):
    """``run_in_app(fn)`` calls ``fn()`` in an app context across all tenants and commits."""

    def run(fn):
        with app.app_context(), unscoped():
            result = fn()
            db.session.commit()
            return result

    return run


def _detach(obj):
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


@pytest.fixture
def make_org(app):
    def make(name: str | None = None, **fields) -> Organization:
        n = next(_counter)
        with app.app_context(), unscoped():
            org = Organization(name=name or f"テスト株式会社{n}", code=fields.pop("code", f"org{n:04d}"), **fields)
            db.session.add(org)
            db.session.commit()
            return _detach(org)

    return make


@pytest.fixture
def make_user(app):
    def make(role: Role | str = Role.LEARNER, org: Organization | None = None, **fields) -> User:
        n = next(_counter)
        password = fields.pop("password", PASSWORD)
        if password not in _HASH_CACHE:
            with app.app_context():
                _HASH_CACHE[password] = hash_password(password)
        with app.app_context(), unscoped():
            user = User(
                role=str(role),
                organization_id=org.id if org else None,
                email=fields.pop("email", f"user{n}@example.com"),
                name=fields.pop("name", f"利用者 {n}"),
                password_hash=_HASH_CACHE[password],
                **fields,
            )
            db.session.add(user)
            db.session.commit()
            return _detach(user)

    return make


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def csrf(client):
    """The CSRF token of ``client``'s session, taken from a page as a browser would."""

    def token(url: str = "/login", c=None) -> str:
        return csrf_token_from((c or client).get(url).get_data(as_text=True))

    return token


def login(client, email: str, password: str = PASSWORD):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def login_as(app):
    """A new test client signed in as ``user``."""

    def sign_in(user: User):
        c = app.test_client()
        response = login(c, user.email)
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return c

    return sign_in


@pytest.fixture
def world(make_org, make_user):
    """Two organizations with their people, and the staff: enough for every access rule."""
    org_a = make_org("株式会社エー")
    org_b = make_org("株式会社ビー")
    return {
        "org_a": org_a,
        "org_b": org_b,
        "operator": make_user(Role.OPERATOR, name="運営 太郎"),
        "support": make_user(Role.SUPPORT, name="サポート 花子"),
        "admin_a": make_user(Role.ORG_ADMIN, org_a, name="管理 A"),
        "manager_a": make_user(Role.MANAGER, org_a, name="課長 A"),
        "learner_a": make_user(Role.LEARNER, org_a, name="受講 A", login_id="A001"),
        "admin_b": make_user(Role.ORG_ADMIN, org_b, name="管理 B"),
        "learner_b": make_user(Role.LEARNER, org_b, name="受講 B", login_id="B001"),
    }


@pytest.fixture
def smtp(app):
    """A real SMTP server on a free port; the app's MAIL_SERVER/MAIL_PORT point at it during the test."""
    from tests.smtp_server import SmtpServer

    server = SmtpServer().start()
    saved = {key: app.config[key] for key in ("MAIL_SERVER", "MAIL_PORT", "MAIL_TIMEOUT")}
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_TIMEOUT=5)
    yield server
    server.stop()
    app.config.update(saved)
