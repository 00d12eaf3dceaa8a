"""The security headers on every route (as a role that may use it, page and htmx fragment), and on
the error pages 404, 405, 413 and 500. Routes come from tests/test_access.py ROUTES, which fails for
a route without an entry."""

from __future__ import annotations

import os

import pytest

from tests.conftest import csrf_token_from
from tests.test_access import (  # noqa: F401 - the access table's objects of org A, built once per module
    ROUTES,
    access_world,
    clients,
    shared_world,
)
from tests.test_fuzz_forms import _prepare, _role_for, _url

# The headers are set by an after_request hook whatever the database: the SQLite pass checks every route;
# the PostgreSQL pass (which runs at the same time) leaves them to it.
pytestmark = pytest.mark.skipif(os.environ.get("PORTAL_TEST_BACKEND") == "postgres",
                                reason="backend-independent: checked on every route in the SQLite pass")

HX = {"HX-Request": "true"}


def assert_security_headers(response, what: str) -> None:
    h = response.headers
    csp = h.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp or "script-src 'self'" in csp, what
    assert "unsafe-inline" not in csp.split("script-src")[-1].split(";")[0], what
    assert "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp, what
    assert h.get("X-Content-Type-Options") == "nosniff", what
    assert h.get("X-Frame-Options") == "DENY", what
    assert h.get("Referrer-Policy") == "same-origin", what
    assert h.get("Cross-Origin-Opener-Policy") == "same-origin", what
    assert "camera=()" in h.get("Permissions-Policy", ""), what
    assert h.get("Cache-Control") == "no-store", what


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_every_route_sends_the_security_headers(endpoint, app, shared_world, clients):  # noqa: F811
    role = _role_for(endpoint)
    method, _, _ = ROUTES[endpoint]
    url = _url(endpoint, shared_world)
    client = _prepare(endpoint, role, shared_world, app, login_as=lambda user: clients[role])
    for headers in ({}, HX):
        if method == "GET":
            response = client.get(url, headers=headers)
        else:
            token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
            response = client.open(url, method=method, data={"csrf_token": token}, headers=headers)
        assert_security_headers(response, f"{role} {method} {url} {headers}")


def test_error_pages_send_the_security_headers(app, client, monkeypatch):
    for headers in ({}, HX):
        response = client.get("/no-such-page", headers=headers)
        assert response.status_code == 404
        assert_security_headers(response, "404")
        response = client.put("/login", headers=headers)
        assert response.status_code == 405
        assert_security_headers(response, "405")
        response = client.post("/login", data=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1), headers=headers,
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 413
        assert_security_headers(response, "413")


def test_the_500_page_sends_the_security_headers(app, client, monkeypatch):
    from portal.blueprints.auth import routes

    def broken(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(routes, "render_template", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    for headers in ({}, HX):
        response = client.get("/password/forgot", headers=headers)
        assert response.status_code == 500
        assert_security_headers(response, "500")
