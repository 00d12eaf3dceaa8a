"""Headers, CSRF, error pages, body limits and start-up safety."""

import pytest
from bs4 import BeautifulSoup

from portal import ConfigurationError, create_app
from portal.config import Config, TestConfig
from tests.conftest import csrf_token_from

HX = {"HX-Request": "true"}


def assert_security_headers(response):
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    ("url", "headers", "status"),
    [
        ("/login", {}, 200),
        ("/no-such-page", {}, 404),
        ("/no-such-page", HX, 404),
        ("/static/app.css", {}, 200),
        ("/operator/", {}, 302),
    ],
)
def test_headers_everywhere(client, url, headers, status):
    response = client.get(url, headers=headers)
    assert response.status_code == status
    assert_security_headers(response)


def test_no_inline_script_or_style_in_pages(client, world, login_as):
    for c, url in [(client, "/login"), (login_as(world["operator"]), "/operator/audit")]:
        soup = BeautifulSoup(c.get(url).get_data(as_text=True), "html.parser")
        assert all(s.get("src") for s in soup.find_all("script"))
        assert not soup.find_all(style=True)
        assert not soup.find_all("style")
        assert not [t for t in soup.find_all(True) if any(a.startswith(("hx-on", "onclick")) for a in t.attrs)]


def test_htmx_csrf_header_is_on_body(client):
    soup = BeautifulSoup(client.get("/login").get_data(as_text=True), "html.parser")
    assert "X-CSRFToken" in soup.body["hx-headers"]


def test_post_without_csrf_is_refused_in_japanese(client, world):
    response = client.post("/login", data={"email": world["admin_a"].email, "password": "x"})
    assert response.status_code == 400
    assert "ページの有効期限が切れました" in response.get_data(as_text=True)
    assert_security_headers(response)


def test_htmx_post_without_csrf_gets_a_fragment(client):
    response = client.post("/lang/en", headers=HX)
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#flash"
    body = response.get_data(as_text=True)
    assert "再読み込み" in body and "<html" not in body


def test_forged_csrf_token(client):
    response = client.post("/password/forgot", data={"email": "a@example.com", "csrf_token": "forged.token"})
    assert response.status_code == 400


def test_csrf_token_lives_at_least_twelve_hours(app, client, monkeypatch):
    import itsdangerous.timed

    assert app.config["WTF_CSRF_TIME_LIMIT"] >= 12 * 3600
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real_time() - 13 * 3600)
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    monkeypatch.setattr(itsdangerous.timed.time, "time", real_time)
    response = client.post("/password/forgot", data={"email": "a@example.com", "csrf_token": token})
    assert response.status_code == 303


def test_oversized_body_gets_413_in_japanese(client):
    response = client.post("/login", data={"email": "x" * (6 * 1024 * 1024)})
    assert response.status_code == 413
    assert "送信されたデータが大きすぎます" in response.get_data(as_text=True)


def test_unknown_route_and_wrong_method(client):
    response = client.get("/does/not/exist")
    assert response.status_code == 404 and "ページが見つかりません" in response.get_data(as_text=True)
    assert client.delete("/login").status_code == 405


def test_malformed_input_never_500(client, world, login_as):
    c = login_as(world["operator"])
    for url in ["/operator/audit?page=-3", "/operator/audit?page=abc", "/operator/audit?date_from=2026-13-45",
                "/operator/audit?organization_id=%00", "/operator/audit?action=%ff%fe",
                "/operator/audit?page=99999999999999999999999"]:
        assert c.get(url).status_code == 200, url
    raw = b"email=%ff%fe%00&password=%c3%28&email=second"
    response = client.post("/login", data=raw, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400  # no CSRF token: refused before anything is read


def test_internal_error_page_has_a_reference_and_no_trace(tmp_path):
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/x.sqlite3")

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "参照番号" in body and "secret internals" not in body and "Traceback" not in body
    assert_security_headers(response)


def test_missing_secret_key_stops_start_up(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)

    class Production(Config):
        pass

    with pytest.raises(ConfigurationError, match="PORTAL_SECRET_KEY"):
        create_app(Production, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/p.sqlite3")


def test_hsts_outside_dev(tmp_path):
    class Production(Config):
        SECRET_KEY = "x" * 40
        SUPPORT_EMAIL = "desk@ops.example.com"
        ONCALL_EMAIL = "oncall@ops.example.com"
        OPERATOR_EMAIL = "security@ops.example.com"

    app = create_app(Production, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/p.sqlite3")
    response = app.test_client().get("/login", base_url="https://portal.example")
    assert "max-age" in response.headers["Strict-Transport-Security"]
