"""Fixtures: the app on a real database (SQLite file, or PostgreSQL with PORTAL_TEST_BACKEND=postgres),
a test client, creators for organizations and users, and a signed-in client per role."""

from __future__ import annotations

import itertools
import os
import re
import time

import pytest
from flask_migrate import upgrade
from hypothesis import settings
from sqlalchemy import select, text

from portal import create_app, site_state
from portal.config import TestConfig
from portal.extensions import db, limiter
from portal.models import STAFF_ROLES, AuditEvent, Organization, Role, User, utcnow
from portal.passwords import hash_password
from portal.tenancy import unscoped
from tests import clock as suite_clock

# Hypothesis: `make test` draws the same examples on every run (a failure on main reproduces on the next run);
# `make fuzz` (HYPOTHESIS_PROFILE=fuzz) draws new ones, PORTAL_FUZZ_SCALE (10) times as many of each test.
settings.register_profile("ci", max_examples=100, derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("fuzz", max_examples=100 * int(os.environ.get("PORTAL_FUZZ_SCALE") or 10),
                          derandomize=False, database=None, print_blob=True, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# A test whose outcome cannot depend on the database (it reads the source, the catalogs, static files, or
# pure functions) runs in the SQLite pass only: the PostgreSQL pass is the longest of `make test`.
BACKEND_INDEPENDENT = pytest.mark.skipif(os.environ.get("PORTAL_TEST_BACKEND") == "postgres",
                                         reason="backend-independent: runs in the SQLite pass")

PASSWORD = "correct horse battery staple 2026"
# Staff made by ``make_user`` are enrolled in two-factor sign-in with this secret; ``login`` passes
# the second step with ``totp_code()``.
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
_counter = itertools.count(1)
_HASH_CACHE: dict[str, str] = {}


def pytest_configure(config):
    config.portal_now = suite_clock.start(os.environ.get("PORTAL_TEST_NOW"))


def pytest_report_header(config):
    if config.portal_now is None:
        return "clock: the machine's (set PORTAL_TEST_NOW to run the suite at another moment)"
    return f"clock: moved to {config.portal_now.astimezone(suite_clock.TOKYO):%Y-%m-%d %H:%M} JST (PORTAL_TEST_NOW)"


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
            # A commit does not wait for its WAL to reach the disk (in this process and in the portal
            # processes the tests start): the suite commits tens of thousands of times, and a test database
            # has nothing to lose in a power cut. Commits stay atomic and visible at once.
            name = conn.scalar(text("SELECT current_database()"))
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        db.engine.dispose()


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
    from tests import database_state

    yield
    # Empty the tables that hold rows, or put back a module's shared rows (tests/database_state.py). DELETE,
    # not TRUNCATE: on PostgreSQL a TRUNCATE of every table costs a second or more per test (each table's
    # files are recreated), a DELETE of a few rows a few milliseconds.
    database_state.after_test(app)
    limiter.reset()
    # The rows went without the ORM, so the per-process caches of site-wide state did not see them go.
    site_state.forget_all()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def run_in_app(app):
    """``run_in_app(fn)`` calls ``fn()`` in an app context across all tenants and commits."""
    return app_runner(app)


def app_runner(app):
    def run(fn):
        with app.app_context(), unscoped("a test's setup and checks span organizations"):
            result = fn()
            # Keep what fn returned readable after the context closes.
            db.session().expire_on_commit = False
            db.session.commit()
            return result

    return run


def _detach(obj):
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


def reloaded(app, objects: dict) -> dict:
    """``objects`` again, each ORM object read anew from the database (detached, like the creators')."""
    import copy

    with app.app_context(), unscoped("reloads rows of any organization"):
        return {
            key: _detach(db.session.get(type(value), value.id)) if isinstance(value, db.Model) else copy.copy(value)
            for key, value in objects.items()
        }


@pytest.fixture
def make_org(app):
    return org_maker(app)


def org_maker(app):
    def make(name: str | None = None, **fields) -> Organization:
        n = next(_counter)
        with app.app_context(), unscoped("creates an organization"):
            org = Organization(name=name or f"テスト株式会社{n}", code=fields.pop("code", f"org{n:04d}"), **fields)
            db.session.add(org)
            db.session.commit()
            return _detach(org)

    return make


@pytest.fixture
def make_user(app):
    return user_maker(app)


def user_maker(app):
    def make(role: Role | str = Role.LEARNER, org: Organization | None = None, **fields) -> User:
        n = next(_counter)
        password = fields.pop("password", PASSWORD)
        # Staff must use a second factor: enrolled with TOTP_SECRET unless the test says mfa=False.
        enrolled = fields.pop("mfa", str(role) in STAFF_ROLES)
        if password not in _HASH_CACHE:
            with app.app_context():
                _HASH_CACHE[password] = hash_password(password)
        with app.app_context(), unscoped("creates a user of any organization, or staff"):
            if enrolled:
                from portal import mfa

                fields.setdefault("totp_secret_encrypted", mfa.encrypt_secret(TOTP_SECRET))
                fields.setdefault("mfa_enabled_at", utcnow())
                fields.setdefault("recovery_code_hashes", [])
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


def totp_code(secret: str = TOTP_SECRET, offset: int = 0) -> str:
    import pyotp

    return pyotp.TOTP(secret).at(int(time.time()) + 30 * offset)


def login(client, email: str, password: str = PASSWORD):
    """Sign in as a browser would; a user with a second factor also passes the second step."""
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    if response.status_code == 303 and response.headers["Location"].endswith("/login/two-factor"):
        response = pass_second_step(client, email)
    return response


def pass_second_step(client, email: str, secret: str = TOTP_SECRET):
    """Post the current TOTP code at the second step. Tests sign the same person in many times within
    one 30-second step, which the replay guard refuses: so the user's last used step is forgotten first."""
    from sqlalchemy import update

    with client.application.app_context(), unscoped("resets the user's last TOTP step directly"):
        db.session.execute(update(User).where(User.email == email.lower()).values(totp_last_step=None))
        db.session.commit()
    token = csrf_token_from(client.get("/login/two-factor").get_data(as_text=True))
    return client.post("/login/two-factor", data={"code": totp_code(secret), "csrf_token": token})


@pytest.fixture
def login_as(app):
    """A new test client signed in as ``user``."""
    return signer(app)


def signer(app):
    def sign_in(user: User):
        c = app.test_client()
        response = login(c, user.email)
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return c

    return sign_in


def client_like(signed_in):
    """A new test client with ``signed_in``'s cookies: the same session, without sharing what a test then
    does to it (a language, a flash message, signing out)."""
    c = signed_in.application.test_client()
    c._cookies = dict(signed_in._cookies)  # Werkzeug's jar: (domain, path, name) -> an immutable Cookie
    return c


def _backoffice_world(app, org_a, admin_a) -> dict:
    """org_a's contract, registered profile (admin_a primary), one invoice and a notice to org_a only."""
    from datetime import date

    from portal.models import Contract, Invoice, Notice, NoticeTarget, OrganizationProfile

    with app.app_context(), unscoped("sets up org_a's back-office rows directly"):
        db.session.add(
            Contract(
                organization_id=org_a.id, plan_name="スタンダード", starts_on=date(2026, 4, 1),
                ends_on=date(2027, 3, 31), seat_limit=100, annual_fee=300_000, overage_unit_price=3_000,
            )
        )
        db.session.add(
            OrganizationProfile(
                organization_id=org_a.id, primary_admin_id=admin_a.id, postal_code="101-0062", prefecture="東京都",
                address_line1="千代田区神田駿河台1-1", phone="03-1234-5678", registered_at=utcnow(),
            )
        )
        invoice = Invoice(
            organization_id=org_a.id, number="INV-202604-000001", recipient_name=org_a.name, plan_name="スタンダード",
            period_start=date(2026, 4, 1), period_end=date(2027, 3, 31), base_amount=300_000, seat_limit=100,
            overage_seats=0, overage_unit_price=3_000, overage_amount=0, subtotal=300_000, tax_rate=10,
            tax_amount=30_000, total=330_000, issuer_name="株式会社ワークストラスト",
            registration_number="T1234567890123", bank_account="テスト銀行", issued_on=date(2026, 4, 1),
            due_on=date(2026, 4, 30),
        )
        db.session.add(invoice)
        notice = Notice(kind="general", title="org_a だけへのお知らせ", body="本文", all_organizations=False)
        db.session.add(notice)
        db.session.flush()
        db.session.add(NoticeTarget(notice_id=notice.id, organization_id=org_a.id))
        db.session.commit()
        return {"invoice_a": _detach(invoice), "notice_a": _detach(notice)}


@pytest.fixture
def world(app):
    """Two organizations with their people, and the staff: enough for every access rule.

    Fresh for each test, but built through the creators once: later tests get the same rows copied in
    (tests/database_state.py, ``rows_once``), about a fifth of the building's cost."""
    from tests import database_state

    return database_state.rows_once(app, "world", lambda: build_world(app), lambda w: reloaded(app, w))


def build_world(app) -> dict:
    make_org, make_user = org_maker(app), user_maker(app)
    org_a = make_org("株式会社エー")
    org_b = make_org("株式会社ビー")
    people = {
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
    people.update(_backoffice_world(app, org_a, people["admin_a"]))
    return people


# --- support desk (tickets) -------------------------------------------------------------------------

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def make_ticket(app):
    """``make_ticket(requester, ...)`` opens a ticket through the service, as the requester would.

    Returns a small record (``id``, ``message_id``, ``attachment_ids``); ``files`` are
    ``(name, content_type, bytes)`` and are stored like real uploads.
    """
    return ticket_maker(app)


def ticket_maker(app):
    from types import SimpleNamespace

    from portal.blueprints.tickets import services
    from portal.blueprints.tickets.files import CheckedFile
    from portal.tenancy import tenant_scope

    def make(requester: User, *, category="question", subject="ログインできません", body="教えてください。",
             files=(), now=None):
        with app.app_context(), tenant_scope(requester.organization_id):
            user = db.session.get(User, requester.id)
            ticket = services.open_ticket(
                user, category, subject, body, [CheckedFile(n, t, d) for n, t, d in files], now=now
            )
            message = ticket.messages[0]
            record = SimpleNamespace(
                id=ticket.id, message_id=message.id, attachment_ids=[a.id for a in message.attachments]
            )
            db.session.commit()
            return record

    return make


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


@pytest.fixture
def mailbox(app, smtp):
    """``mailbox(to)``: run the worker once (real SMTP to the ``smtp`` server) and return the plain-text
    bodies of every message that reached ``to`` so far, oldest first."""
    from portal.worker import Worker

    def read(to: str) -> list[str]:
        with app.app_context():
            Worker().run_once()
        return [
            m.get_body(preferencelist=("plain",)).get_content()
            for m in smtp.received()
            if to.lower() in str(m["To"]).lower()
        ]

    return read


def audit_events(run_in_app, action: str) -> list[dict]:
    """The audit events of ``action``, oldest first: target, actor and details in one dict each."""
    return run_in_app(lambda: [
        {"target_id": e.target_id, "actor_id": e.actor_id, **(e.details or {})}
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    ])
