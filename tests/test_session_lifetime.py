"""Session lifetimes and the secret being enrolled (#18, Deliver 8).

A session slides 14 hours with each request (the idle limit) and ends 24 hours after its sign-in whatever
happens (the absolute limit, ``SESSION_ABSOLUTE_HOURS``). The TOTP secret shown for enrollment stays on the
server: encrypted on the user's row for 30 minutes, never in the (readable) session cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from bs4 import BeautifulSoup

from portal import mfa
from portal.extensions import db
from portal.models import Role, User
from tests.conftest import csrf_token_from, login

START = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)  # Monday 09:30 in Tokyo


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


def _signed_in_learner(world, client):
    assert login(client, world["learner_a"].email).status_code == 303
    assert client.get("/me/profile").status_code == 200


def test_a_busy_session_still_ends_24_hours_after_sign_in(frozen, world, client):
    _signed_in_learner(world, client)
    for _ in range(3):  # a request every 7 hours keeps the idle limit away
        frozen.shift(timedelta(hours=7))
        assert client.get("/me/profile").status_code == 200
    frozen.shift(timedelta(hours=2, minutes=59))  # 23:59 after sign-in
    assert client.get("/me/profile").status_code == 200
    frozen.shift(timedelta(minutes=2))
    ended = client.get("/me/profile")
    assert ended.status_code == 302 and ended.headers["Location"] == "/login?next=/me/profile"
    page = client.get(ended.headers["Location"]).get_data(as_text=True)
    assert "ログインしてから時間が経ったため、ログアウトしました" in page
    assert client.get("/me/profile").status_code == 302  # the session is gone, not just refused once
    assert login(client, world["learner_a"].email).status_code == 303
    assert client.get("/me/profile").status_code == 200  # a new sign-in starts a new 24 hours


def test_an_idle_session_ends_after_14_hours(frozen, world, client):
    _signed_in_learner(world, client)
    frozen.shift(timedelta(hours=13, minutes=59))
    assert client.get("/me/profile").status_code == 200
    frozen.shift(timedelta(hours=14, minutes=1))
    assert client.get("/me/profile").status_code == 302


def _sets_the_session_cookie(app, response) -> bool:
    return any(header.startswith(app.config["SESSION_COOKIE_NAME"] + "=")
               for header in response.headers.getlist("Set-Cookie"))


def test_an_unchanged_session_is_signed_again_once_a_minute_not_on_every_request(app, frozen, world, client):
    _signed_in_learner(world, client)
    frozen.shift(timedelta(seconds=61))
    first = client.get("/me/profile")
    assert first.status_code == 200 and _sets_the_session_cookie(app, first)  # the idle limit slides
    for _ in range(3):
        frozen.shift(timedelta(seconds=15))
        page = client.get("/me/profile")
        assert page.status_code == 200 and not _sets_the_session_cookie(app, page)
    frozen.shift(timedelta(seconds=16))  # 61 s since the last signature
    assert _sets_the_session_cookie(app, client.get("/me/profile"))


def test_a_changed_session_is_sent_at_once(app, frozen, world, client):
    _signed_in_learner(world, client)
    frozen.shift(timedelta(seconds=5))
    token = csrf_token_from(client.get("/me/profile").get_data(as_text=True))
    changed = client.post("/lang/en", data={"csrf_token": token})
    assert _sets_the_session_cookie(app, changed)
    frozen.shift(timedelta(seconds=5))
    assert "Profile" in client.get("/me/profile").get_data(as_text=True)  # the change reached the browser


def test_the_idle_limit_counts_from_the_last_signature_at_most_a_minute_before_the_last_request(
    frozen, world, client
):
    _signed_in_learner(world, client)  # the cookie is signed at sign-in
    frozen.shift(timedelta(seconds=30))
    assert client.get("/me/profile").status_code == 200  # not signed again: 30 s after the signature
    frozen.shift(timedelta(hours=13, minutes=59, seconds=31))  # 14:00:01 after the signature
    assert client.get("/me/profile").status_code == 302


def test_the_absolute_lifetime_is_a_setting_and_applies_to_htmx(app, frozen, world, client):
    saved = app.config["SESSION_ABSOLUTE_HOURS"]
    app.config["SESSION_ABSOLUTE_HOURS"] = 2
    try:
        _signed_in_learner(world, client)
        frozen.shift(timedelta(hours=2, minutes=1))
        ended = client.get("/me/profile", headers={"HX-Request": "true"})
        assert ended.status_code == 204 and ended.headers["HX-Redirect"] == "/login?next=/me/profile"
    finally:
        app.config["SESSION_ABSOLUTE_HOURS"] = saved


def test_a_link_session_has_the_same_absolute_lifetime(app, frozen, world, client, run_in_app):
    from tests.test_link_sessions import open_link
    from tests.training_helpers import add_course, assignment_of, deliver, link_for

    def make():
        course = add_course(organization_id=None, questions=1)
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        return delivery.id, assignment_of(delivery.id, world["learner_a"].id).id

    delivery_id, assignment_id = run_in_app(make)
    open_link(client, f"/t/{run_in_app(lambda: link_for(delivery_id, world['learner_a'].id))}")
    for _ in range(2):
        frozen.shift(timedelta(hours=8))
        assert client.get(f"/me/training/{assignment_id}").status_code == 200
    frozen.shift(timedelta(hours=8, minutes=1))
    assert client.get(f"/me/training/{assignment_id}").status_code == 302


# --- the secret being enrolled -------------------------------------------------------------------------------


def _cookie_contents(app, client) -> tuple[str, dict]:
    raw = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    return raw, dict(app.session_interface.get_signing_serializer(app).loads(raw))


def _shown_secret(page) -> str:
    return BeautifulSoup(page.data, "html.parser").find("code", class_="secret-key").get_text(strip=True)


def test_the_secret_being_enrolled_stays_on_the_server(app, frozen, world, client, run_in_app):
    _signed_in_learner(world, client)
    page = client.get("/account/two-factor")
    secret = _shown_secret(page)
    raw, contents = _cookie_contents(app, client)
    assert secret not in raw and secret not in repr(contents)
    assert not any("secret" in key or "enroll" in key for key in contents)
    stored = run_in_app(lambda: db.session.get(User, world["learner_a"].id))
    assert secret not in stored.totp_pending_encrypted
    with app.app_context():
        assert mfa.decrypt_secret(stored.totp_pending_encrypted) == secret
    assert stored.totp_pending_expires_at == START + timedelta(minutes=30)
    # Reloading the page (another tab, a second look) shows the same secret.
    frozen.shift(timedelta(minutes=10))
    assert _shown_secret(client.get("/account/two-factor")) == secret

    done = client.post("/account/two-factor", data={
        "code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert done.status_code == 200
    enrolled = run_in_app(lambda: db.session.get(User, world["learner_a"].id))
    assert enrolled.mfa_enabled and enrolled.totp_pending_encrypted is None
    assert enrolled.totp_pending_expires_at is None


def test_an_expired_secret_is_replaced_and_the_person_is_told(frozen, world, client, run_in_app, make_user):
    support = make_user(Role.SUPPORT, mfa=False)
    assert login(client, support.email).status_code == 303
    page = client.get("/account/two-factor")
    old = _shown_secret(page)
    frozen.shift(timedelta(minutes=31))
    late = client.post("/account/two-factor", data={
        "code": pyotp.TOTP(old).now(), "csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert late.status_code == 200  # a new enrolment page: the request keeps the new secret
    assert "新しいQRコードに替えました" in late.get_data(as_text=True)
    new = _shown_secret(late)
    assert new != old
    assert not run_in_app(lambda: db.session.get(User, support.id)).mfa_enabled
    done = client.post("/account/two-factor", data={
        "code": pyotp.TOTP(new).now(), "csrf_token": csrf_token_from(late.get_data(as_text=True))})
    assert done.status_code == 200
    assert run_in_app(lambda: db.session.get(User, support.id)).mfa_enabled
