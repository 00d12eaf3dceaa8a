"""Signing in and out, sessions, passwords, resets and brute-force limits."""

import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, Role, User
from portal.passwords import password_problems
from portal.tenancy import unscoped
from tests.conftest import PASSWORD, csrf_token_from, login


def audit_actions(run_in_app):
    return run_in_app(lambda: [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))])


def test_login_success_starts_a_new_session_and_audits(client, world, run_in_app):
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    response = login(client, world["admin_a"].email)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    with client.session_transaction() as sess:
        assert "planted" not in sess
    assert "auth.login" in audit_actions(run_in_app)


@pytest.mark.parametrize("email", ["admin-a-typo@example.com", None])
def test_wrong_password_and_unknown_email_get_the_same_answer(client, world, run_in_app, email):
    response = login(client, email or world["admin_a"].email, password="wrong password entirely")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "メールアドレスまたはパスワードが正しくありません。" in body
    assert (email or world["admin_a"].email) in body  # what was typed is kept
    assert audit_actions(run_in_app) == ["auth.login_failed"]


def test_safe_next_only(client, world):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    data = {"email": world["admin_a"].email, "password": PASSWORD, "csrf_token": token}
    response = client.post("/login?next=//evil.example/x", data=data)
    assert response.headers["Location"] == "/"


def test_logout_ends_this_and_other_sessions(world, login_as, run_in_app):
    phone, desktop = login_as(world["admin_a"]), login_as(world["admin_a"])
    assert phone.get("/org/").status_code == 200
    token = csrf_token_from(phone.get("/org/").get_data(as_text=True))
    assert phone.post("/logout", data={"csrf_token": token}).status_code == 303
    assert phone.get("/org/").status_code == 302
    assert desktop.get("/org/").status_code == 302
    assert "auth.logout" in audit_actions(run_in_app)


def test_logout_by_get_is_refused(world, login_as):
    c = login_as(world["admin_a"])
    assert c.get("/logout").status_code == 405
    assert c.get("/org/").status_code == 200


def test_deactivated_user_is_out_at_the_next_request(world, login_as, run_in_app):
    c = login_as(world["learner_a"])
    assert c.get("/me/").status_code == 200

    def deactivate():
        db.session.get(User, world["learner_a"].id).is_active_flag = False

    run_in_app(deactivate)
    assert c.get("/me/").status_code == 302


def test_remember_me_is_off_and_cookies_are_strict(client, world):
    response = login(client, world["admin_a"].email)
    cookies = response.headers.getlist("Set-Cookie")
    assert not any(c.startswith("remember_token") for c in cookies)
    session_cookie = next(c for c in cookies if c.startswith("portal_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie


def test_production_cookies_are_secure():
    from portal.config import Config

    assert Config.SESSION_COOKIE_SECURE is True and Config.HSTS is True


def test_password_hash_is_argon2id_with_owasp_parameters(app, monkeypatch):
    """With production's settings (the suite itself runs at argon2id's lowest cost, TestConfig)."""
    from portal.config import Config
    from portal.passwords import hash_password

    for key in ("ARGON2_TIME_COST", "ARGON2_MEMORY_COST", "ARGON2_PARALLELISM"):
        monkeypatch.setitem(app.config, key, getattr(Config, key))
    with app.app_context():
        hashed = hash_password("a long enough passphrase")
    match = re.match(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$", hashed)
    assert match
    m, t, p = map(int, match.groups())
    assert m >= 19456 and t >= 2 and p >= 1


def test_a_sign_in_rehashes_a_password_hashed_at_a_lower_cost(app, client, make_user, monkeypatch):
    user = make_user(Role.LEARNER)
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", app.config["ARGON2_TIME_COST"] + 1)
    assert login(client, user.email).status_code == 303
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        stored = db.session.get(User, user.id).password_hash
    assert f"t={app.config['ARGON2_TIME_COST']}," in stored


class TestPasswordPolicy:
    def test_too_short(self, app):
        with app.test_request_context():
            assert "12文字以上" in password_problems("short pass1")[0]

    def test_common_password(self, app):
        with app.test_request_context():
            assert password_problems("password1234")

    def test_own_name_and_email_count_against(self, app):
        with app.test_request_context():
            problems = password_problems("yamada.taro@example.com1", ("山田 太郎", "yamada.taro@example.com"))
            assert problems

    def test_long_unicode_passphrase_is_accepted(self, app):
        with app.test_request_context():
            assert password_problems("富士山の頂上で朝日を見ながら珈琲を飲む") == []
            assert password_problems("correct horse battery staple " * 4) == []

    def test_over_the_maximum(self, app):
        with app.test_request_context():
            assert password_problems("x" * 257)


def test_no_truncation(world, app, run_in_app, client):
    from portal.passwords import hash_password

    long_password = "the quick brown fox jumps over the lazy dog " * 2 + "末尾"
    def set_password():
        db.session.get(User, world["admin_a"].id).password_hash = hash_password(long_password)

    run_in_app(set_password)
    assert login(client, world["admin_a"].email, long_password[:72]).status_code == 200
    assert login(client, world["admin_a"].email, long_password).status_code == 303


def test_change_password_needs_the_current_one_and_ends_sessions(world, login_as, client):
    c = login_as(world["admin_a"])
    other = login_as(world["admin_a"])
    token = csrf_token_from(c.get("/password/change").get_data(as_text=True))
    new = "新しいパスフレーズは長くて覚えやすい"
    response = c.post(
        "/password/change",
        data={"csrf_token": token, "current_password": "wrong", "new_password": new, "confirm_password": new},
    )
    assert "現在のパスワードが正しくありません。" in response.get_data(as_text=True)
    response = c.post(
        "/password/change",
        data={"csrf_token": token, "current_password": PASSWORD, "new_password": "password1234",
              "confirm_password": "password1234"},
    )
    assert "推測されやすいパスワードです" in response.get_data(as_text=True)
    response = c.post(
        "/password/change",
        data={"csrf_token": token, "current_password": PASSWORD, "new_password": new, "confirm_password": new},
    )
    assert response.status_code == 303
    assert c.get("/org/").status_code == 302
    assert other.get("/org/").status_code == 302
    assert login(client, world["admin_a"].email, new).status_code == 303


def _reset_link(run_in_app) -> str:
    body = run_in_app(lambda: db.session.scalars(select(OutboxMessage)).one().body_text)
    return re.search(r"http://portal\.test(/password/reset/\S+)", body).group(1)


def test_forgot_password_answers_the_same_for_unknown_and_known(client, world, csrf, run_in_app):
    answers = []
    for email in ("nobody@example.com", world["admin_a"].email):
        response = client.post(
            "/password/forgot", data={"email": email, "csrf_token": csrf("/password/forgot")}, follow_redirects=True
        )
        answers.append(response.get_data(as_text=True).count("パスワード再設定のご案内をお送りしました"))
    assert answers == [1, 1]
    messages = run_in_app(lambda: db.session.scalars(select(OutboxMessage)).all())
    assert [m.to_address for m in messages] == [world["admin_a"].email]
    assert messages[0].subject == "【セキュトレ・セキュレジ】パスワード再設定のご案内"


def test_reset_link_works_once_and_ends_sessions(client, world, csrf, run_in_app, login_as):
    logged_in = login_as(world["admin_a"])
    client.post("/password/forgot", data={"email": world["admin_a"].email, "csrf_token": csrf("/password/forgot")})
    link = _reset_link(run_in_app)
    assert "新しいパスワードの設定" in client.get(link).get_data(as_text=True)
    new = "もう忘れない長いパスフレーズ 2026"
    response = client.post(
        link, data={"csrf_token": csrf(link), "new_password": new, "confirm_password": new}
    )
    assert response.status_code == 303
    assert logged_in.get("/org/").status_code == 302
    reused = client.get(link)
    assert reused.status_code == 404
    assert "このリンクは使用できません" in reused.get_data(as_text=True)
    assert login(client, world["admin_a"].email, new).status_code == 303
    assert "auth.password_reset" in audit_actions(run_in_app)


def test_expired_reset_link(client, world, csrf, run_in_app):
    from datetime import timedelta

    from portal.models import OneTimeToken

    client.post("/password/forgot", data={"email": world["admin_a"].email, "csrf_token": csrf("/password/forgot")})
    link = _reset_link(run_in_app)

    def expire():
        token = db.session.scalars(select(OneTimeToken)).one()
        token.expires_at = token.created_at - timedelta(seconds=1)

    run_in_app(expire)
    assert client.get(link).status_code == 404


def test_no_secret_reaches_the_audit_trail(client, world, csrf, run_in_app):
    login(client, world["admin_a"].email, "a wrong password value")
    client.post("/password/forgot", data={"email": world["admin_a"].email, "csrf_token": csrf("/password/forgot")})
    link = _reset_link(run_in_app)
    token = link.rsplit("/", 1)[1]
    rows = run_in_app(lambda: [repr(e.details) + str(e.target_id) for e in db.session.scalars(select(AuditEvent))])
    assert rows
    assert not any("a wrong password value" in r or token in r for r in rows)


def test_account_lockout_after_repeated_failures(app, client, world, run_in_app):
    for _ in range(5):
        assert login(client, world["admin_a"].email, "not the password").status_code == 200
    response = login(client, world["admin_a"].email, PASSWORD)
    assert response.status_code == 429
    assert "一時的にログインを制限しています" in response.get_data(as_text=True)
    assert "auth.lockout" in audit_actions(run_in_app)
    # Another account from the same address is not locked by this one.
    assert login(client, world["admin_b"].email, PASSWORD).status_code == 303


def test_per_ip_limit(app, client, world):
    for i in range(30):
        login(client, f"someone{i}@example.com", "not the password")
    assert login(client, world["admin_a"].email, PASSWORD).status_code == 429


def test_role_start_pages(world, login_as):
    expected = {
        "operator": "/operator/",
        "support": "/tickets/desk",
        "admin_a": "/org/",
        "manager_a": "/org/",
        "learner_a": "/me/",
    }
    for key, path in expected.items():
        assert login_as(world[key]).get("/").headers["Location"] == path
    assert Role.LEARNER == "learner"


def test_user_loader_rejects_forged_ids(app, world):
    from portal.sign_in import load_user

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert load_user(f"{world['admin_a'].id}:forged") is None
        assert load_user("nonsense") is None
        assert load_user("") is None
        assert load_user(f"{world['admin_a'].id}:{world['admin_a'].session_token}").id == world["admin_a"].id
