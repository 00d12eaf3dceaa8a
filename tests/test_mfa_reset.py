"""The operator resets a user's lost second factor (#10): operator only, audited with a reason, the user
told by email, every session ended, and enrollment forced at the next sign-in."""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Role, User
from portal.tenancy import unscoped
from tests.conftest import csrf_token_from, login

REASON = "端末紛失。登録電話番号への折り返しで本人確認"


def _page(user_id: int) -> str:
    return f"/operator/users/{user_id}/two-factor"


def _post_reset(client, user_id: int, **data):
    token = csrf_token_from(client.get(_page(user_id)).get_data(as_text=True))
    fields = {"reason": REASON, "identity_checked": "y", **data}
    return client.post(_page(user_id), data={"csrf_token": token, **fields})


def _user(app, user_id: int) -> User:
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def test_the_operator_resets_a_lost_second_factor(app, world, make_user, login_as, mailbox):
    admin = make_user(Role.ORG_ADMIN, world["org_a"], mfa=True, email="lost.phone@example.com")
    admins_browser = login_as(admin)
    before = _user(app, admin.id)
    operator = login_as(world["operator"])

    response = _post_reset(operator, admin.id)
    assert response.status_code == 303
    page = operator.get(_page(admin.id)).get_data(as_text=True)
    assert "2段階認証をリセットしました" in page and "リセット済み" in page

    after = _user(app, admin.id)
    assert not after.mfa_enabled and after.totp_secret_encrypted is None and after.recovery_code_hashes is None
    assert after.mfa_reset_at is not None
    assert after.session_token != before.session_token
    # Every session of the user ended.
    assert admins_browser.get("/org/").status_code == 302

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.mfa_reset_by_staff"))
        assert event.actor_id == world["operator"].id and event.target_id == str(admin.id)
        assert event.details["reason"] == REASON

    [mail] = mailbox(admin.email)
    assert "2段階認証(認証アプリとリカバリーコード)をリセットしました" in mail
    assert "http://portal.test/login" in mail

    # The next sign-in leads straight to enrollment (the organization does not require it otherwise).
    fresh = app.test_client()
    assert login(fresh, admin.email).status_code == 303
    assert fresh.get("/org/").headers["Location"].endswith("/account/two-factor")


def test_enrolling_again_lifts_the_obligation(app, world, make_user, run_in_app):
    from portal import mfa
    from portal.blueprints.auth import services

    learner = make_user(Role.LEARNER, world["org_a"], mfa=True)

    def reset_and_enroll():
        user = db.session.get(User, learner.id)
        mfa.reset_mfa_by_staff(user, by=db.session.get(User, world["operator"].id), reason=REASON)
        assert mfa.mfa_required(user)
        import pyotp

        secret = pyotp.random_base32()
        with app.test_request_context():
            assert services.enroll_mfa(user, secret, pyotp.TOTP(secret).now()) is not None
        return user.mfa_reset_at, mfa.mfa_required(user)

    assert run_in_app(reset_and_enroll) == (None, False)


def test_only_the_operator_and_never_their_own(app, world, login_as):
    target = world["support"]
    for role in ("support", "admin_a", "learner_a"):
        c = login_as(world[role])
        token = csrf_token_from(c.get("/password/forgot").get_data(as_text=True))
        response = c.post(_page(target.id), data={"csrf_token": token, "reason": REASON, "identity_checked": "y"})
        assert response.status_code == 403, role
    operator = login_as(world["operator"])
    own = _post_reset(operator, world["operator"].id)
    assert own.status_code == 409
    assert "自分の2段階認証はリセットできません" in own.get_data(as_text=True)
    assert _user(app, world["operator"].id).mfa_enabled
    assert _user(app, target.id).mfa_enabled


def test_a_reason_and_the_identity_check_are_required(app, world, login_as):
    operator = login_as(world["operator"])
    target = world["support"]
    for missing in ({"reason": ""}, {"identity_checked": ""}):
        response = _post_reset(operator, target.id, **missing)
        assert response.status_code == 422
        assert "field-error" in response.get_data(as_text=True)
    assert _user(app, target.id).mfa_enabled


def test_a_user_without_a_second_factor_cannot_be_reset(app, world, login_as):
    operator = login_as(world["operator"])
    page = operator.get(_page(world["learner_a"].id)).get_data(as_text=True)
    assert "未設定" in page and "2段階認証をリセットする" not in page
    assert _post_reset(operator, world["learner_a"].id).status_code == 409


def test_the_operator_finds_the_user_by_email(world, login_as):
    operator = login_as(world["operator"])
    found = operator.get("/operator/users/two-factor", query_string={"email": world["support"].email.upper()})
    assert found.status_code == 303 and found.headers["Location"].endswith(_page(world["support"].id))
    missing = operator.get("/operator/users/two-factor", query_string={"email": "nobody@example.com"})
    assert missing.status_code == 200 and "見つかりません" in missing.get_data(as_text=True)
