"""Every route x every kind of user. A route without an entry here makes the suite fail.

Statuses: 200 ok, 302 sent to the login page (signed out), 303 redirected after an action or to the
start page, 403 another role, 404 another organization's object (never revealed).
"""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.models import MailSuppression, OutboxMessage
from tests.conftest import csrf_token_from

ROLES = ("anon", "learner_a", "manager_a", "admin_a", "admin_b", "support", "operator")
STAFF = ("support", "operator")


def only(*allowed: str, ok: int = 200) -> dict[str, int]:
    """``ok`` for the roles named, 302 (to login) for the anonymous, 403 for everyone else."""
    return {role: ok if role in allowed else (302 if role == "anon" else 403) for role in ROLES}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


# endpoint -> (method, url or callable(world) -> url, expected status by role)
ROUTES: dict[str, tuple[str, object, dict[str, int]]] = {
    "main.index": ("GET", "/", {**everyone(302)}),
    "main.set_language": ("POST", "/lang/en", everyone(303)),
    "auth.login": ("GET", "/login", {**everyone(303), "anon": 200}),
    "auth.logout": ("POST", "/logout", {**everyone(303), "anon": 302}),
    "auth.forgot_password": ("GET", "/password/forgot", everyone(200)),
    "auth.reset_password": ("GET", "/password/reset/not-a-real-token", everyone(404)),
    "auth.change_password": ("GET", "/password/change", {**everyone(200), "anon": 302}),
    "operator.home": ("GET", "/operator/", only("operator")),
    "operator.audit_log": ("GET", "/operator/audit", only("operator")),
    "org.home": ("GET", "/org/", only("admin_a", "admin_b", "manager_a")),
    "org.audit_log": ("GET", "/org/audit", only("admin_a", "admin_b")),
    "me.home": ("GET", "/me/", only("learner_a")),
    "tickets.desk": ("GET", "/tickets/desk", only(*STAFF)),
    # --- mail: the delivery log (operators: everything; org admins: their people's messages) ---
    "mail.messages": ("GET", "/mail/", only("operator", "admin_a", "admin_b")),
    "mail.message": ("GET", lambda w: f"/mail/{w['outbox_a']}", {**only("operator", "admin_a"), "admin_b": 404}),
    "mail.retry": ("POST", lambda w: f"/mail/{w['outbox_a']}/retry", only("operator", ok=303)),
    "mail.suppressions": ("GET", "/mail/suppressions", only("operator")),
    "mail.lift_suppression": (
        "POST",
        lambda w: f"/mail/suppressions/{w['suppression']}/lift",
        only("operator", ok=303),
    ),
}


def test_every_route_has_an_entry(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert endpoints - set(ROUTES) == set(), "add these routes to tests/test_access.py ROUTES"
    assert set(ROUTES) - endpoints == set(), "these ROUTES entries name routes that no longer exist"


def _mail_objects(world) -> tuple[int, int]:
    message = OutboxMessage(
        idempotency_key="access:outbox_a",
        template="password_reset",
        to_address="a@example.com",
        subject="件名",
        body_text="本文",
        organization_id=world["org_a"].id,
        status="dead",
    )
    suppression = MailSuppression(address="stopped@example.com")
    db.session.add_all([message, suppression])
    db.session.flush()
    return message.id, suppression.id


@pytest.fixture
def world(world, run_in_app):
    """The shared world plus what the mail routes point at: a dead message of org_a and a suppression."""
    world["outbox_a"], world["suppression"] = run_in_app(lambda: _mail_objects(world))
    return world


@pytest.fixture
def clients(app, world, login_as):
    signed_in = {role: login_as(world[role]) for role in ROLES if role != "anon"}
    signed_in["anon"] = app.test_client()
    return signed_in


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_route_access_by_role(endpoint, clients, world):
    method, url, expected = ROUTES[endpoint]
    if callable(url):
        url = url(world)
    for role in ROLES:
        c = clients[role]
        if method == "GET":
            response = c.get(url)
        else:
            token = csrf_token_from(c.get("/password/forgot").get_data(as_text=True))
            response = c.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == expected[role], f"{role} {method} {url}"
