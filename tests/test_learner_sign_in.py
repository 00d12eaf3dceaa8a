"""How learners get in: the organization's URL, initial passwords, invitations and sign-in links."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db
from portal.models import AuditEvent, Organization, OrganizationStatus, OutboxMessage
from tests.clock import jst
from tests.conftest import PASSWORD, csrf_token_from
from tests.learner_helpers import actions, post_form
from tests.test_query_counts import statements_while_rendering

NEW_PASSWORD = "a quiet river under maple trees"


def org_login(client, code: str, login_id: str, password: str):
    token = csrf_token_from(client.get(f"/o/{code}").get_data(as_text=True))
    return client.post(f"/o/{code}", data={"login_id": login_id, "password": password, "csrf_token": token})


@pytest.fixture
def no_email_learner(world, make_user):
    return make_user("learner", world["org_a"], email=None, login_id="00123", password="shoki-pass-1",
                     must_change_password=True)


def test_sign_in_with_learner_id_then_change_the_initial_password(client, world, no_email_learner, run_in_app):
    code = world["org_a"].code
    response = org_login(client, code, "００１２３", "shoki-pass-1")  # full-width digits are fine
    assert response.status_code == 303
    # Until the initial password is changed, every page leads to the change page.
    for url in ("/", "/me/", "/me/profile"):
        follow = client.get(url)
        if follow.status_code == 302 and follow.headers["Location"] == "/me/":
            follow = client.get("/me/")
        assert follow.status_code == 302 and follow.headers["Location"] == "/password/change", url
    hx = client.get("/me/", headers={"HX-Request": "true"})
    assert hx.headers["HX-Redirect"] == "/password/change"
    page = client.get("/password/change").get_data(as_text=True)
    assert "初期パスワードでログインしました" in page
    token = csrf_token_from(page)
    response = client.post("/password/change", data={"current_password": "shoki-pass-1", "new_password": NEW_PASSWORD,
                                                     "confirm_password": NEW_PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    assert client.get("/me/").status_code == 200  # still signed in, free to go
    assert "auth.password_changed" in actions(run_in_app)


@pytest.mark.parametrize("case", ["wrong_password", "unknown_id", "unknown_org", "other_org"])
def test_wrong_details_and_an_unknown_organization_get_the_same_answer(client, world, no_email_learner, case):
    code, login_id, password = world["org_a"].code, "00123", "shoki-pass-1"
    if case == "wrong_password":
        password = "wrong-password"
    elif case == "unknown_id":
        login_id = "99999"
    elif case == "unknown_org":
        code = "no-such-org"
    else:
        code = world["org_b"].code
    response = org_login(client, code, login_id, password)
    assert response.status_code == 200
    assert "受講者IDまたはパスワードが正しくありません。" in response.get_data(as_text=True)


def test_the_login_page_of_an_unknown_code_looks_like_any_other(client, world):
    known = client.get(f"/o/{world['org_a'].code}").get_data(as_text=True)
    unknown = client.get("/o/nope").get_data(as_text=True)
    assert world["org_a"].name not in known
    # The CSRF token (in a hidden field and in hx-headers) is signed with the second it was made.
    strip = re.compile(r'value="[^"]*"|action="[^"]*"|hx-headers=\'[^\']*\'')
    assert strip.sub("", known) == strip.sub("", unknown)


def test_org_login_is_rate_limited_per_account(client, world, no_email_learner):
    for _ in range(5):
        org_login(client, world["org_a"].code, "00123", "wrong-password")
    response = org_login(client, world["org_a"].code, "00123", "shoki-pass-1")
    assert response.status_code == 429
    assert "一時的にログインを制限しています" in response.get_data(as_text=True)


@pytest.mark.parametrize("typed", ["Learner01", "learner01", "LEARNER01", "ｌｅａｒｎｅｒ０１", " LeArNeR01 "])
def test_the_learner_id_signs_in_whatever_its_case(app, world, make_user, typed, run_in_app):
    learner = make_user("learner", world["org_a"], email=None, login_id="Learner01")
    make_user("learner", world["org_b"], email=None, login_id="LEARNER01", password="other-org-pass")
    client = app.test_client()
    assert org_login(client, world["org_a"].code, typed, PASSWORD).status_code == 303
    assert client.get("/me/profile").status_code == 200
    login = run_in_app(lambda: db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login")).all())
    assert [e.target_id for e in login] == [str(learner.id)]


def test_the_rate_limit_counts_an_id_in_every_case_as_one_account(client, world, no_email_learner, make_user):
    make_user("learner", world["org_a"], email=None, login_id="ab12")
    for typed in ("AB12", "ab12", "Ab12", "ａｂ１２", "aB12"):
        org_login(client, world["org_a"].code, typed, "wrong-password")
    assert org_login(client, world["org_a"].code, "ab12", PASSWORD).status_code == 429


def test_an_inactive_learner_cannot_sign_in(client, world, make_user):
    make_user("learner", world["org_a"], email=None, login_id="X1", is_active_flag=False)
    assert org_login(client, world["org_a"].code, "X1", PASSWORD).status_code == 200


def test_staff_cannot_use_the_learner_url(client, world, make_user):
    make_user("org_admin", world["org_a"], login_id="ADM", email=None)
    assert org_login(client, world["org_a"].code, "ADM", PASSWORD).status_code == 200


def test_logout_sends_a_learner_without_email_back_to_their_url(client, world, make_user):
    make_user("learner", world["org_a"], email=None, login_id="N1")
    assert org_login(client, world["org_a"].code, "N1", PASSWORD).status_code == 303
    token = csrf_token_from(client.get("/me/").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.headers["Location"] == f"/o/{world['org_a'].code}"


# --- invitations ------------------------------------------------------------------------------


def invitation_link(run_in_app) -> str:
    query = select(OutboxMessage).where(OutboxMessage.template == "invitation_learner")
    message = run_in_app(lambda: db.session.scalar(query))
    return re.search(r"http://portal\.test(/invitation/\S+)", message.body_text).group(1)


def test_invitation_link_sets_the_password_once_and_signs_in(client, world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    lid = world["learner_a"].id
    post_form(admin, f"/org/learners/{lid}/invite", page=f"/org/learners/{lid}")
    link = invitation_link(run_in_app)
    page = client.get(link).get_data(as_text=True)
    assert "株式会社エー" in page and "A001" in page
    token = csrf_token_from(page)
    response = client.post(link, data={"new_password": "short", "confirm_password": "short", "csrf_token": token})
    assert response.status_code == 200 and "12文字以上" in response.get_data(as_text=True)
    response = client.post(link, data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD,
                                       "csrf_token": token})
    assert response.status_code == 303
    assert client.get("/me/").status_code == 200
    assert client.get(link).status_code == 404  # single use
    assert "user.invitation_accepted" in actions(run_in_app)


# --- sign-in links ----------------------------------------------------------------------------


def allow_links(run_in_app, org, allowed=True):
    run_in_app(lambda: setattr(db.session.get(Organization, org.id), "magic_link_sign_in", allowed))


def ask_for_link(client, code, email):
    token = csrf_token_from(client.get(f"/o/{code}").get_data(as_text=True))
    return client.post(f"/o/{code}/link", data={"link_email": email, "csrf_token": token})


def test_sign_in_link_when_the_organization_allows_it(client, world, run_in_app):
    code = world["org_a"].code
    assert "ログインリンクを送る" not in client.get(f"/o/{code}").get_data(as_text=True)
    allow_links(run_in_app, world["org_a"])
    assert "ログインリンクを送る" in client.get(f"/o/{code}").get_data(as_text=True)
    response = ask_for_link(client, code, world["learner_a"].email.upper())
    assert response.status_code == 303
    message = run_in_app(lambda: db.session.scalar(select(OutboxMessage)))
    assert message.template == "sign_in_link" and message.to_address == world["learner_a"].email
    link = re.search(r"http://portal\.test(/signin/\S+)", message.body_text).group(1)
    page = client.get(link)  # opening the link alone (a mail scanner) signs nobody in
    assert page.status_code == 200 and client.get("/me/").status_code == 302
    response = client.post(link, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 303
    assert client.get("/me/").status_code == 200
    assert client.get(link).status_code == 404  # single use


@pytest.mark.parametrize("who", ["unknown", "other_org", "admin", "not_allowed"])
def test_sign_in_link_requests_get_the_same_polite_answer(client, world, run_in_app, who):
    allow_links(run_in_app, world["org_a"], allowed=who != "not_allowed")
    email = {
        "unknown": "nobody@example.com",
        "other_org": world["learner_b"].email,
        "admin": world["admin_a"].email,
        "not_allowed": world["learner_a"].email,
    }[who]
    response = ask_for_link(client, world["org_a"].code, email)
    assert response.status_code == 303
    assert "ログイン用のリンクをお送りしました" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(OutboxMessage))) is None


def test_the_admin_switches_sign_in_links_and_sees_the_login_url(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    page = admin.get("/org/learners/sign-in").get_data(as_text=True)
    assert f"/o/{world['org_a'].code}" in page
    assert post_form(admin, "/org/learners/sign-in", {"magic_link_sign_in": "y"}).status_code == 303
    assert run_in_app(lambda: db.session.get(Organization, world["org_a"].id).magic_link_sign_in)
    assert "organization.magic_link_sign_in" in actions(run_in_app)


SIGN_IN_AT = jst(2026, 11, 25, 9, 0)


def test_the_sign_in_page_reads_no_row_and_follows_the_organization(client, app, world, run_in_app, time_machine):
    """The page every phone opens first (#17) runs no statement once this process knows the active
    organizations' codes; a change made in this process shows at once, one made by another process (here a
    row written without the ORM) within the minute. Signing in reads the organization afresh."""
    org_id, code = world["org_a"].id, world["org_a"].code
    time_machine.move_to(SIGN_IN_AT, tick=False)
    allow_links(run_in_app, world["org_a"])
    assert "ログインリンクを送る" in client.get(f"/o/{code}").get_data(as_text=True)
    with statements_while_rendering(app) as (seen, _in_templates):
        assert "ログインリンクを送る" in client.get(f"/o/{code}").get_data(as_text=True)
        assert "ログインリンクを送る" not in client.get("/o/no-such-org").get_data(as_text=True)
    assert seen == []

    def set_status(status):
        run_in_app(lambda: setattr(db.session.get(Organization, org_id), "status", status))

    set_status(OrganizationStatus.SUSPENDED)
    assert "ログインリンクを送る" not in client.get(f"/o/{code}").get_data(as_text=True)
    set_status(OrganizationStatus.ACTIVE)
    assert "ログインリンクを送る" in client.get(f"/o/{code}").get_data(as_text=True)

    assert org_login(app.test_client(), code, "A001", PASSWORD).status_code == 303
    run_in_app(lambda: db.session.execute(
        update(Organization).where(Organization.id == org_id).values(status=OrganizationStatus.SUSPENDED)))
    assert "ログインリンクを送る" in client.get(f"/o/{code}").get_data(as_text=True)  # kept for the minute
    # Signing in is refused at once: it reads the organization.
    refused = org_login(app.test_client(), code, "A001", PASSWORD)
    assert refused.status_code == 200 and "受講者IDまたはパスワードが正しくありません" in refused.get_data(as_text=True)
    time_machine.move_to(SIGN_IN_AT + timedelta(seconds=61), tick=False)
    assert "ログインリンクを送る" not in client.get(f"/o/{code}").get_data(as_text=True)
