"""PORTAL_TRUSTED_PROXY_HOPS: the client's address behind a proxy, for limits, audit IPs and /metrics (#18)."""

from __future__ import annotations

import ipaddress

import pytest
from sqlalchemy import select
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import ConfigurationError, create_app, trust_proxies
from portal.config import TestConfig
from portal.extensions import db, limiter
from portal.models import AuditEvent
from tests.conftest import PASSWORD, login

PROXY = "10.0.0.2"  # the address gunicorn sees: the proxy's
ATTACKER = "203.0.113.5"
COLLEAGUE = "198.51.100.7"


@pytest.fixture
def behind_one_proxy(app, monkeypatch):
    """The shared app as create_app builds it with PORTAL_TRUSTED_PROXY_HOPS=1."""
    monkeypatch.setitem(app.config, "TRUSTED_PROXY_HOPS", 1)
    monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)
    trust_proxies(app)
    assert isinstance(app.wsgi_app, ProxyFix)
    return app


def client_at(app, forwarded_for: str | None):
    """A browser whose requests reach the portal through the proxy; the proxy appends the client's address."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def fail_sign_ins(client, count: int = 30):
    for i in range(count):
        assert login(client, f"nobody{i}@example.com", "not the password").status_code == 200


def last_login_ip(run_in_app) -> str:
    return run_in_app(
        lambda: db.session.scalar(
            select(AuditEvent.ip).where(AuditEvent.action == "auth.login").order_by(AuditEvent.id.desc())
        )
    )


def test_one_clients_failures_do_not_lock_out_another_behind_the_proxy(behind_one_proxy, world, run_in_app):
    attacker = client_at(behind_one_proxy, ATTACKER)
    fail_sign_ins(attacker)
    assert login(attacker, world["admin_a"].email, PASSWORD).status_code == 429

    colleague = client_at(behind_one_proxy, COLLEAGUE)
    assert login(colleague, world["admin_a"].email, PASSWORD).status_code == 303
    assert last_login_ip(run_in_app) == COLLEAGUE


def test_a_client_cannot_pick_its_address_behind_the_proxy(behind_one_proxy, world):
    # The client sends its own X-Forwarded-For; the proxy appends the real address, which is the one used.
    for i in range(30):
        spoofing = client_at(behind_one_proxy, f"192.0.2.{i}, {ATTACKER}")
        login(spoofing, f"nobody{i}@example.com", "not the password")
    again = client_at(behind_one_proxy, f"192.0.2.200, {ATTACKER}")
    assert login(again, world["admin_a"].email, PASSWORD).status_code == 429


def test_without_the_setting_x_forwarded_for_is_ignored(app, world, run_in_app):
    assert not isinstance(app.wsgi_app, ProxyFix) and app.config["TRUSTED_PROXY_HOPS"] == 0
    for i in range(30):
        login(client_at(app, f"192.0.2.{i}"), f"nobody{i}@example.com", "not the password")
    # Every request came from the proxy's address: a made-up X-Forwarded-For does not escape the limit.
    assert login(client_at(app, COLLEAGUE), world["admin_a"].email, PASSWORD).status_code == 429

    limiter.reset()
    assert login(client_at(app, COLLEAGUE), world["admin_a"].email, PASSWORD).status_code == 303
    assert last_login_ip(run_in_app) == PROXY


@pytest.mark.parametrize(("behind", "forwarded_for", "status"), [(True, COLLEAGUE, 200), (True, ATTACKER, 403),
                                                                  (False, COLLEAGUE, 403)])
def test_metrics_networks_see_the_clients_address(app, monkeypatch, behind, forwarded_for, status):
    monkeypatch.setitem(app.config, "METRICS_ALLOWED_NETWORKS_PARSED", [ipaddress.ip_network("198.51.100.0/24")])
    if behind:
        monkeypatch.setitem(app.config, "TRUSTED_PROXY_HOPS", 1)
        monkeypatch.setattr(app, "wsgi_app", app.wsgi_app)
        trust_proxies(app)
    assert client_at(app, forwarded_for).get("/metrics").status_code == status


def test_the_setting_is_read_and_checked_at_start(monkeypatch):
    monkeypatch.setenv("PORTAL_TRUSTED_PROXY_HOPS", "2")
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    assert isinstance(app.wsgi_app, ProxyFix) and app.wsgi_app.x_for == 2 and app.wsgi_app.x_host == 0
    for bad in ("-1", "two", "true", "99"):
        monkeypatch.setenv("PORTAL_TRUSTED_PROXY_HOPS", bad)
        with pytest.raises(ConfigurationError, match="PORTAL_TRUSTED_PROXY_HOPS"):
            create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    monkeypatch.delenv("PORTAL_TRUSTED_PROXY_HOPS")
    assert not isinstance(create_app(TestConfig, SQLALCHEMY_DATABASE_URI="sqlite://").wsgi_app, ProxyFix)
