"""The UI shell: language, time zone, navigation by role, and the audit log screens."""

from datetime import UTC, datetime

from bs4 import BeautifulSoup
from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.i18n import local_datetime
from portal.models import AuditEvent
from tests.conftest import csrf_token_from


def test_japanese_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="ja">' in page and "ログイン" in page
    token = csrf_token_from(page)
    response = client.post("/lang/en", data={"csrf_token": token, "next": "/login"})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "Log in" in page


def test_times_are_shown_in_tokyo(app):
    with app.test_request_context():
        assert local_datetime(datetime(2026, 12, 31, 15, 30, tzinfo=UTC)) == "2027/01/01 00:30"


def test_navigation_follows_the_role(world, login_as):
    def links(c, url):
        soup = BeautifulSoup(c.get(url).get_data(as_text=True), "html.parser")
        return {a["href"] for a in soup.select(".nav-links > li > a")}

    assert "/operator/audit" in links(login_as(world["operator"]), "/operator/")
    assert "/org/audit" in links(login_as(world["admin_a"]), "/org/")
    assert "/org/audit" not in links(login_as(world["manager_a"]), "/org/")
    assert links(login_as(world["learner_a"]), "/me/") == {"/me/", "/me/training/", "/me/inspections/", "/me/profile"}


def _seed_events(run_in_app, world):
    def seed():
        audit.record("test.alpha", target_type="x", target_id=1, organization_id=world["org_a"].id)
        audit.record("test.beta", target_type="x", target_id=2, organization_id=world["org_b"].id)

    run_in_app(seed)


def test_operator_audit_log_filters(world, login_as, run_in_app):
    _seed_events(run_in_app, world)
    c = login_as(world["operator"])
    page = c.get("/operator/audit?action=test.").get_data(as_text=True)
    assert "test.alpha" in page and "test.beta" in page
    page = c.get(f"/operator/audit?action=test.&organization_id={world['org_b'].id}").get_data(as_text=True)
    assert "test.alpha" not in page and "test.beta" in page


def test_org_admin_reads_only_its_own_audit_log(world, login_as, run_in_app):
    _seed_events(run_in_app, world)
    page = login_as(world["admin_a"]).get("/org/audit").get_data(as_text=True)
    assert "test.alpha" in page and "test.beta" not in page


def test_permission_denial_is_audited(world, login_as, run_in_app):
    login_as(world["learner_a"]).get("/operator/")
    denied = run_in_app(
        lambda: db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.permission_denied")).one()
    )
    assert denied.actor_id == world["learner_a"].id and denied.target_id == "operator.home"
