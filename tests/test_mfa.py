"""Two-factor sign-in (TOTP, recovery codes, who must enroll) and "someone may know my password" (Art. 13-4)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal import mfa
from portal.clock import utcnow
from portal.extensions import db
from portal.models import AuditEvent, OutboxMessage, Role, User
from portal.tenancy import unscoped
from tests.conftest import PASSWORD, TOTP_SECRET, csrf_token_from, login, totp_code


def _password_step(client, email, password=PASSWORD):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def _code_step(client, code):
    token = csrf_token_from(client.get("/login/two-factor").get_data(as_text=True))
    return client.post("/login/two-factor", data={"code": code, "csrf_token": token})


def _actions(run_in_app, user_id=None):
    def load():
        stmt = select(AuditEvent.action).order_by(AuditEvent.id)
        if user_id is not None:
            stmt = stmt.where(AuditEvent.target_id == str(user_id))
        return list(db.session.scalars(stmt))

    return run_in_app(load)


def _user(run_in_app, user_id) -> User:
    return run_in_app(lambda: db.session.get(User, user_id))


def test_the_password_alone_does_not_sign_in_an_enrolled_user(client, world, run_in_app):
    response = _password_step(client, world["support"].email)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login/two-factor")
    # Not signed in yet: a staff page sends to the login page.
    assert client.get("/tickets/").status_code == 302
    page = client.get("/login/two-factor")
    assert page.status_code == 200
    assert BeautifulSoup(page.data, "html.parser").find("input", {"name": "code"}) is not None
    response = _code_step(client, totp_code())
    assert response.status_code == 303
    assert client.get("/tickets/").status_code == 303  # signed in: staff are sent on to their desk
    assert "auth.mfa_verified" in _actions(run_in_app, world["support"].id)


def test_a_wrong_code_is_refused_and_audited(client, world, run_in_app):
    _password_step(client, world["operator"].email)
    response = _code_step(client, "000000" if totp_code() != "000000" else "111111")
    assert response.status_code == 422
    assert "確認コードが正しくないか" in response.get_data(as_text=True)
    assert client.get("/operator/").status_code == 302
    assert "auth.mfa_failed" in _actions(run_in_app, world["operator"].id)


def test_a_used_code_cannot_be_replayed(app, world, login_as, time_machine):
    # Both sign-ins fall in one 30-second step however slow the machine: the clock stands at the start of
    # the next step.
    now = utcnow().timestamp()
    time_machine.move_to(datetime.fromtimestamp(now - now % 30 + 31, UTC), tick=False)
    login_as(world["support"])  # uses the current step
    other = app.test_client()
    _password_step(other, world["support"].email)
    response = _code_step(other, totp_code())
    assert response.status_code == 422
    assert other.get("/tickets/").status_code == 302


def test_the_second_step_is_rate_limited_per_account(client, world):
    _password_step(client, world["operator"].email)
    for _ in range(5):
        assert _code_step(client, "12345x").status_code == 422
    assert _code_step(client, totp_code()).status_code == 429


def test_the_second_step_needs_a_pending_sign_in(client):
    response = client.get("/login/two-factor")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login")


def test_a_recovery_code_signs_in_once(app, client, world, run_in_app):
    codes = ["abcde-fghjk", "mnpqr-stuvw"]

    def set_codes():
        user = db.session.get(User, world["operator"].id)
        user.recovery_code_hashes = [mfa.hash_recovery_code(user, c) for c in codes]

    run_in_app(set_codes)
    _password_step(client, world["operator"].email)
    response = _code_step(client, "ABCDE FGHJK")
    assert response.status_code == 303
    assert client.get("/operator/").status_code == 200
    assert len(_user(run_in_app, world["operator"].id).recovery_code_hashes) == 1
    assert "auth.recovery_code_used" in _actions(run_in_app, world["operator"].id)

    again = app.test_client()
    _password_step(again, world["operator"].email)
    assert _code_step(again, "abcde-fghjk").status_code == 422


def test_staff_without_a_second_factor_are_sent_to_enrollment(app, client, make_user, run_in_app):
    support = make_user(Role.SUPPORT, mfa=False)
    assert login(client, support.email).status_code == 303
    response = client.get("/tickets/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/account/two-factor")
    htmx = client.get("/tickets/", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].endswith("/account/two-factor")

    page = client.get("/account/two-factor")
    assert page.status_code == 200
    soup = BeautifulSoup(page.data, "html.parser")
    qr = soup.find("img", class_="qr-code")
    assert qr["src"].startswith("data:image/svg+xml;base64,")
    secret = soup.find("code", class_="secret-key").get_text(strip=True)
    # No inline style or script: the strict CSP holds.
    assert not soup.select("[style]") and not [s for s in soup.find_all("script") if not s.get("src")]

    token = csrf_token_from(page.get_data(as_text=True))
    wrong = client.post("/account/two-factor", data={"code": "000000" if pyotp.TOTP(secret).now() != "000000"
                                                     else "111111", "csrf_token": token})
    assert wrong.status_code == 422
    done = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert done.status_code == 200
    codes = [c.get_text() for c in BeautifulSoup(done.data, "html.parser").select(".recovery-codes code")]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/tickets/").status_code == 303  # staff's desk redirect: enrollment no longer in the way

    stored = _user(run_in_app, support.id)
    assert stored.mfa_enabled
    assert secret not in (stored.totp_secret_encrypted or "")
    with app.app_context():
        assert mfa.decrypt_secret(stored.totp_secret_encrypted) == secret
    assert all(code not in str(stored.recovery_code_hashes) for code in codes)
    assert "auth.mfa_enrolled" in _actions(run_in_app, support.id)
    details = run_in_app(lambda: [str(e.details) for e in db.session.scalars(select(AuditEvent))])
    assert not any(secret in d for d in details)


def test_org_admins_must_enroll_only_when_their_organization_says_so(app, world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    assert admin.get("/org/").status_code == 200
    token = csrf_token_from(admin.get("/org/").get_data(as_text=True))
    assert admin.post("/org/two-factor-policy", data={"required": "y", "csrf_token": token}).status_code == 303
    assert run_in_app(lambda: db.session.get(User, world["admin_a"].id).organization.admins_require_mfa)
    response = admin.get("/org/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/two-factor")
    # Organization B's admin is not affected; org A's learner neither.
    assert login_as(world["admin_b"]).get("/org/").status_code == 200
    assert "org.mfa_policy_changed" in _actions(run_in_app)


def test_the_operator_sets_an_organizations_policy(world, login_as, run_in_app):
    operator = login_as(world["operator"])
    url = f"/operator/organizations/{world['org_a'].id}/two-factor-policy"
    token = csrf_token_from(operator.get(f"/operator/organizations/{world['org_a'].id}").get_data(as_text=True))
    assert operator.post(url, data={"required": "y", "csrf_token": token}).status_code == 303
    assert run_in_app(lambda: db.session.get(User, world["admin_a"].id).organization.admins_require_mfa)
    assert operator.post(url, data={"csrf_token": token}).status_code == 303
    assert not run_in_app(lambda: db.session.get(User, world["admin_a"].id).organization.admins_require_mfa)


def test_disable_needs_the_current_password_then_re_enrollment_starts_over(world, login_as, run_in_app):
    support = login_as(world["support"])
    page = support.get("/account/two-factor")
    assert "2段階認証は有効です" in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    wrong = support.post("/account/two-factor/disable", data={"current_password": "nope", "csrf_token": token})
    assert wrong.status_code == 422
    assert _user(run_in_app, world["support"].id).mfa_enabled
    ok = support.post("/account/two-factor/disable", data={"current_password": PASSWORD, "csrf_token": token})
    assert ok.status_code == 303
    assert not _user(run_in_app, world["support"].id).mfa_enabled
    # Staff must enroll again before anything else.
    assert support.get("/tickets/").headers["Location"].endswith("/account/two-factor")
    assert "auth.mfa_disabled" in _actions(run_in_app, world["support"].id)


def test_new_recovery_codes_replace_the_old(world, login_as, run_in_app):
    operator = login_as(world["operator"])
    token = csrf_token_from(operator.get("/account/two-factor").get_data(as_text=True))
    response = operator.post(
        "/account/two-factor/recovery-codes", data={"current_password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 200
    codes = [c.get_text() for c in BeautifulSoup(response.data, "html.parser").select(".recovery-codes code")]
    assert len(codes) == 10
    hashes = _user(run_in_app, world["operator"].id).recovery_code_hashes
    assert hashes == run_in_app(lambda: [mfa.hash_recovery_code(db.session.get(User, world["operator"].id), c)
                                         for c in codes])


def test_a_learner_who_enrolled_passes_the_second_step_at_the_organization_url(app, world, run_in_app):
    def enroll():
        user = db.session.get(User, world["learner_a"].id)
        user.totp_secret_encrypted = mfa.encrypt_secret(TOTP_SECRET)
        user.mfa_enabled_at = user.created_at

    run_in_app(enroll)
    client = app.test_client()
    url = f"/o/{world['org_a'].code}"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    response = client.post(url, data={"login_id": "A001", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"].endswith("/login/two-factor")
    assert client.get("/me/").status_code == 302
    assert _code_step(client, totp_code()).status_code == 303
    assert client.get("/me/").status_code == 200


def test_matching_step_allows_one_step_of_drift_and_refuses_older_steps():
    totp = pyotp.TOTP(TOTP_SECRET)
    now = 1_800_000_000
    step = now // 30
    assert mfa.matching_step(TOTP_SECRET, totp.at(now - 30), now=now) == step - 1
    assert mfa.matching_step(TOTP_SECRET, totp.at(now + 30), now=now) == step + 1
    assert mfa.matching_step(TOTP_SECRET, totp.at(now - 90), now=now) is None
    assert mfa.matching_step(TOTP_SECRET, totp.at(now), now=now, after=step) is None
    assert mfa.matching_step(TOTP_SECRET, "12 34 56\x00", now=now) is None


# --- "someone may know my password" (Art. 13-4) --------------------------------------------------


def test_reporting_a_known_password_ends_sessions_locks_the_password_and_tells_the_operator(
    app, world, login_as, run_in_app
):
    admin = login_as(world["admin_a"])
    elsewhere = login_as(world["admin_a"])
    page = admin.get("/password/change")
    soup = BeautifulSoup(page.data, "html.parser")
    form = soup.find("form", action="/password/compromised")
    assert form is not None
    token = form.find("input", {"name": "csrf_token"})["value"]
    response = admin.post("/password/compromised", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login")

    # Every session has ended, and the old password no longer signs in.
    assert admin.get("/org/").status_code == 302
    assert elsewhere.get("/org/").status_code == 302
    assert login(app.test_client(), world["admin_a"].email).status_code == 200

    def outbox():
        return {m.template: m for m in db.session.scalars(select(OutboxMessage))}

    messages = run_in_app(outbox)
    assert messages["password_reset"].to_address == world["admin_a"].email
    operator_mail = messages["password_compromise_reported"]
    assert operator_mail.to_address == app.config["OPERATOR_EMAIL"]
    # The operator's mail names ids, not the person.
    assert world["admin_a"].email not in operator_mail.body_text
    assert world["admin_a"].name not in operator_mail.body_text
    assert "auth.password_compromise_reported" in _actions(run_in_app, world["admin_a"].id)

    # The reset link sets a new password, which signs in.
    reset_url = re.search(r"http://portal\.test(/password/reset/\S+)", messages["password_reset"].body_text).group(1)
    client = app.test_client()
    token = csrf_token_from(client.get(reset_url).get_data(as_text=True))
    new = "a brand new passphrase for spring 2027"
    client.post(reset_url, data={"new_password": new, "confirm_password": new, "csrf_token": token})
    assert login(app.test_client(), world["admin_a"].email, new).status_code == 303
    assert _user(run_in_app, world["admin_a"].id).password_compromised_at is None


def test_the_operator_sees_the_report_in_the_audit_log(world, login_as):
    admin = login_as(world["admin_b"])
    token = csrf_token_from(admin.get("/password/change").get_data(as_text=True))
    admin.post("/password/compromised", data={"csrf_token": token})
    operator = login_as(world["operator"])
    page = operator.get("/operator/audit?action=auth.password_compromise_reported")
    assert page.status_code == 200
    operations = BeautifulSoup(page.get_data(as_text=True), "html.parser").select('tbody td[data-label="操作"]')
    assert [td.get_text(strip=True) for td in operations] == ["パスワード漏えいの可能性を申告"]


def test_a_learner_without_email_is_told_to_ask_the_administrator(app, make_org, make_user, run_in_app):
    org = make_org()
    learner = make_user(Role.LEARNER, org, email=None, login_id="L9")
    client = app.test_client()
    url = f"/o/{org.code}"
    token = csrf_token_from(client.get(url).get_data(as_text=True))
    assert client.post(url, data={"login_id": "L9", "password": PASSWORD, "csrf_token": token}).status_code == 303
    token = csrf_token_from(client.get("/password/change").get_data(as_text=True))
    response = client.post("/password/compromised", data={"csrf_token": token}, follow_redirects=True)
    assert "組織の管理者に新しい初期パスワードの発行を依頼してください" in response.get_data(as_text=True)
    stored = _user(run_in_app, learner.id)
    assert stored.password_hash is None

    def templates():
        with unscoped("the test reads and writes rows directly"):
            return [m.template for m in db.session.scalars(select(OutboxMessage))]

    assert run_in_app(templates) == ["password_compromise_reported"]


@pytest.mark.parametrize("path", ["/account/two-factor", "/login/two-factor"])
def test_two_factor_pages_send_no_inline_script_or_style(path, world, login_as, app):
    client = login_as(world["admin_a"]) if path.startswith("/account") else app.test_client()
    if path == "/login/two-factor":
        _password_step(client, world["operator"].email)
    response = client.get(path)
    assert response.status_code == 200
    soup = BeautifulSoup(response.data, "html.parser")
    assert not soup.select("[style]")
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
