"""/healthz (load balancers) and /metrics (Prometheus): what they report and who may read them."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from portal import ConfigurationError, create_app
from portal.blueprints.monitoring import services
from portal.config import TestConfig
from portal.extensions import db
from portal.models import OutboxMessage, Role, utcnow
from portal.tenancy import unscoped
from tests.test_mail_worker import queue, run_worker


def test_healthz_is_503_until_a_worker_has_run_then_200(app, client, smtp):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "fail"
    assert response.json["checks"]["database"] == "ok"
    assert "no worker has ever run" in response.json["problems"]

    run_worker(app)
    response = client.get("/healthz")
    assert response.status_code == 200, response.json
    assert response.json == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "outbox": {"pending": 0, "oldest_pending_seconds": None, "oldest_due_seconds": None},
            "worker": {"last_heartbeat_seconds": response.json["checks"]["worker"]["last_heartbeat_seconds"]},
        },
        "problems": [],
    }
    assert response.json["checks"]["worker"]["last_heartbeat_seconds"] < 60
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_healthz_reports_the_backlog_without_personal_data_and_fails_when_mail_is_stuck(app, client, smtp):
    run_worker(app)
    queue(app, 2, to="hanako@example.com")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["checks"]["outbox"]["pending"] == 2
    assert response.json["checks"]["outbox"]["oldest_pending_seconds"] is not None
    body = response.get_data(as_text=True)
    assert "hanako" not in body and "example.com" not in body

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        long_ago = utcnow() - timedelta(hours=2)
        db.session.execute(update(OutboxMessage).values(next_attempt_at=long_ago, created_at=long_ago))
        db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["outbox"]["oldest_due_seconds"] >= 7200 - 5
    assert any("email has waited" in p for p in response.json["problems"])


def test_healthz_fails_when_the_worker_is_silent(app, client, smtp):
    run_worker(app, at=utcnow() - timedelta(minutes=10))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["worker"]["last_heartbeat_seconds"] >= 590


def test_healthz_says_503_when_the_database_does_not_answer(app, client, monkeypatch):
    monkeypatch.setattr(services, "text", lambda _sql: text("SELECT * FROM no_such_table_for_healthz"))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "fail"
    assert response.json["problems"] == ["database unreachable"]


def _sample(body: str, prefix: str) -> float:
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{prefix} not in the scrape")


def test_metrics_for_the_operator_in_prometheus_format(app, make_user, login_as, smtp):
    operator = make_user(Role.OPERATOR)
    c = login_as(operator)
    queue(app, 3)
    run_worker(app, at=utcnow() + timedelta(seconds=1))
    queue(app, 2, key_prefix="later")
    c.get("/healthz")
    response = c.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    body = response.get_data(as_text=True)
    assert _sample(body, 'portal_outbox_messages{status="sent"}') == 3
    assert _sample(body, 'portal_outbox_messages{status="pending"}') == 2
    assert _sample(body, 'portal_outbox_messages{status="dead"}') == 0
    assert _sample(body, "portal_outbox_oldest_pending_age_seconds") >= 0
    assert _sample(body, "portal_outbox_oldest_due_age_seconds") >= 0
    assert 0 <= _sample(body, "portal_worker_last_heartbeat_age_seconds") < 60
    assert _sample(body, 'portal_request_duration_seconds_count{endpoint="monitoring.healthz",method="GET"}') >= 1
    assert 'portal_request_duration_seconds_bucket{endpoint="monitoring.healthz",le="0.2",method="GET"}' in body
    # /healthz runs its statements (SELECT 1, outbox figures, heartbeat): counted per request.
    assert _sample(body, 'portal_request_db_statements_sum{endpoint="monitoring.healthz",method="GET"}') >= 3


@pytest.mark.parametrize(
    ("networks", "address", "status"),
    [
        ([], "127.0.0.1", 403),
        (["10.0.0.0/8"], "10.20.30.40", 200),
        (["10.0.0.0/8"], "192.168.1.2", 403),
        (["127.0.0.1/32", "::1/128"], "::1", 200),
        (["127.0.0.1/32"], "not-an-address", 403),
    ],
)
def test_metrics_for_a_configured_network_without_signing_in(app, client, monkeypatch, networks, address, status):
    monkeypatch.setitem(app.config, "METRICS_ALLOWED_NETWORKS_PARSED", [ipaddress.ip_network(n) for n in networks])
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == status
    if status == 403:
        assert "portal_" not in response.get_data(as_text=True)


def test_metrics_refused_to_every_other_role(app, make_org, make_user, login_as):
    org = make_org()
    for role in (Role.LEARNER, Role.ORG_ADMIN, Role.SUPPORT):
        c = login_as(make_user(role, org if role != Role.SUPPORT else None))
        assert c.get("/metrics").status_code == 403


def test_allowed_networks_are_parsed_from_the_environment_and_checked_at_start(monkeypatch):
    monkeypatch.setenv("PORTAL_METRICS_ALLOWED_NETWORKS", "10.0.0.0/8, 2001:db8::/32")
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    assert [str(n) for n in app.config["METRICS_ALLOWED_NETWORKS_PARSED"]] == ["10.0.0.0/8", "2001:db8::/32"]
    monkeypatch.setenv("PORTAL_METRICS_ALLOWED_NETWORKS", '["10.0.0.0/8", "not-a-network"]')
    with pytest.raises(ConfigurationError, match="PORTAL_METRICS_ALLOWED_NETWORKS"):
        create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
