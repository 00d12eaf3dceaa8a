"""A personal link opens one task, not the account (#18, Deliver 2).

The link's button starts a *link session*: the test or the sheets it was sent for, nothing else. Anything
else asks for the password (and the second factor where enrolled). A link stops working when the person's
sessions are ended, the password is reset or disabled, the person is deactivated, or the delivery or round
is closed.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.routing.converters import AnyConverter, IntegerConverter

from portal.blueprints.auth import services as auth_services
from portal.blueprints.inspections.rounds import services as round_services
from portal.blueprints.learners import services as learner_services
from portal.blueprints.training.deliveries import services as delivery_services
from portal.extensions import db
from portal.link_sessions import ALWAYS_ALLOWED, SCOPED_ENDPOINTS
from portal.models import (
    Attempt,
    Choice,
    CourseImage,
    Delivery,
    Department,
    InspectionRound,
    ManagerDepartment,
    Role,
    User,
)
from portal.tokens import issue_token
from tests.conftest import PASSWORD, audit_events, csrf_token_from, pass_second_step
from tests.inspection_helpers import add_edition, open_round, response_of
from tests.inspection_helpers import link_for as inspection_link_for
from tests.training_helpers import add_course, assignment_of, deliver, link_for


@pytest.fixture
def totp_learner(world, make_user):
    """A learner of organization A who enrolled a second factor (TOTP)."""
    return make_user(Role.LEARNER, world["org_a"], name="受講 二段", mfa=True)


@pytest.fixture
def delivered(world, run_in_app, totp_learner):
    """Two deliveries to the TOTP learner: returns their ids, the assignments and the first one's link."""

    def make():
        course = add_course(organization_id=None, questions=2)
        first = deliver(world["admin_a"], course.id, learner_ids=[totp_learner.id], title="一つ目")
        second = deliver(world["admin_a"], course.id, learner_ids=[totp_learner.id], title="二つ目")
        return {
            "delivery": first.id, "other_delivery": second.id,
            "assignment": assignment_of(first.id, totp_learner.id).id,
            "other_assignment": assignment_of(second.id, totp_learner.id).id,
        }

    made = run_in_app(make)
    made["link"] = run_in_app(lambda: link_for(made["delivery"], totp_learner.id))
    made["other_link"] = run_in_app(lambda: link_for(made["other_delivery"], totp_learner.id))
    return made


def open_link(client, path: str):
    """Open a personal link and press its button, as the person would."""
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})


def take_test(client, run_in_app, assignment_id: int) -> str:
    """Start, answer every question right and finish; returns the result page's path."""
    token = csrf_token_from(client.get(f"/me/training/{assignment_id}").get_data(as_text=True))
    started = client.post(f"/me/training/{assignment_id}/start", data={"csrf_token": token})
    assert started.status_code == 303 and "/attempts/" in started.headers["Location"]
    attempt = run_in_app(lambda: db.session.scalar(select(Attempt).where(Attempt.assignment_id == assignment_id)))
    for number, question_id in enumerate(attempt.question_ids, start=1):
        assert client.get(f"/me/training/attempts/{attempt.id}/{number}").status_code == 200
        right = run_in_app(lambda q=question_id: db.session.scalar(
            select(Choice.id).where(Choice.question_id == q, Choice.is_correct.is_(True))))
        answered = client.post(f"/me/training/attempts/{attempt.id}/answer", data={
            "csrf_token": token, "number": number, "question_id": question_id, "choice": right})
        assert answered.status_code == 303
    finished = client.post(f"/me/training/attempts/{attempt.id}/finish", data={"csrf_token": token})
    assert finished.headers["Location"].endswith(f"/me/training/attempts/{attempt.id}/result")
    return finished.headers["Location"]


# --- the narrow session ----------------------------------------------------------------------------------


def test_a_link_opens_the_test_but_not_the_account_of_a_learner_with_a_second_factor(
    client, delivered, totp_learner, run_in_app
):
    entered = open_link(client, f"/t/{delivered['link']}")
    assert entered.status_code == 303
    assert entered.headers["Location"].endswith(f"/me/training/{delivered['assignment']}")

    result = take_test(client, run_in_app, delivered["assignment"])
    assert client.get(result).status_code == 200
    assert client.get(f"/me/training/{delivered['assignment']}/certificate").status_code == 200

    # The account's pages ask for the password: no password change, no second factor settings, no home.
    for path in ("/password/change", "/account/two-factor", "/me/", "/me/profile", "/me/training/",
                 f"/me/training/{delivered['other_assignment']}"):
        refused = client.get(path)
        assert refused.status_code == 302, path
        assert refused.headers["Location"].startswith("/login?next="), path
    token = csrf_token_from(client.get(f"/me/training/{delivered['assignment']}").get_data(as_text=True))
    assert client.post("/password/compromised", data={"csrf_token": token}).status_code == 303
    assert run_in_app(lambda: db.session.get(User, totp_learner.id).password_hash) is not None

    started = audit_events(run_in_app, "auth.link_session_started")
    assert started == [{"target_id": str(totp_learner.id), "actor_id": totp_learner.id, "via": "training_link",
                        "delivery": delivered["delivery"]}]
    assert audit_events(run_in_app, "auth.login") == []


def test_signing_in_upgrades_the_link_session_with_the_password_and_the_code(client, delivered, totp_learner):
    open_link(client, f"/t/{delivered['link']}")
    asked = client.get("/me/profile")
    login_page = client.get(asked.headers["Location"])
    body = login_page.get_data(as_text=True)
    assert login_page.status_code == 200 and "パスワードでログインしてください" in body
    assert totp_learner.email in body  # the address is filled in
    posted = client.post(asked.headers["Location"], data={
        "email": totp_learner.email, "password": PASSWORD, "csrf_token": csrf_token_from(body)})
    assert posted.status_code == 303 and posted.headers["Location"].endswith("/login/two-factor")
    assert client.get("/me/profile").status_code == 302  # not signed in before the code
    done = pass_second_step(client, totp_learner.email)
    assert done.status_code == 303 and done.headers["Location"] == "/me/profile"
    assert client.get("/me/profile").status_code == 200
    assert client.get("/account/two-factor").status_code == 200


def test_a_second_link_of_the_same_person_adds_its_test(client, delivered):
    open_link(client, f"/t/{delivered['link']}")
    assert client.get(f"/me/training/{delivered['other_assignment']}").status_code == 302
    open_link(client, f"/t/{delivered['other_link']}")
    assert client.get(f"/me/training/{delivered['other_assignment']}").status_code == 200
    assert client.get(f"/me/training/{delivered['assignment']}").status_code == 200


def test_htmx_and_posts_outside_the_scope_are_sent_to_sign_in(client, delivered):
    open_link(client, f"/t/{delivered['link']}")
    fragment = client.get("/me/", headers={"HX-Request": "true"})
    assert fragment.status_code == 204 and fragment.headers["HX-Redirect"] == "/login?next=/me/"
    token = csrf_token_from(client.get(f"/me/training/{delivered['assignment']}").get_data(as_text=True))
    posted = client.post(f"/me/training/{delivered['other_assignment']}/start", data={"csrf_token": token})
    assert posted.status_code == 303 and posted.headers["Location"] == "/login"


def _sample(converter):
    """A value the route's converter accepts (an id that belongs to nobody)."""
    if isinstance(converter, IntegerConverter):
        return 999_999
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return "x"


def test_every_other_route_is_closed_to_a_link_session(app, client, delivered):
    """Built from the URL map: a route added later is closed to link sessions until it is listed."""
    open_link(client, f"/t/{delivered['link']}")
    token = csrf_token_from(client.get(f"/me/training/{delivered['assignment']}").get_data(as_text=True))
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ALWAYS_ALLOWED or rule.endpoint in SCOPED_ENDPOINTS:
            continue
        values = {name: _sample(rule._converters.get(name)) for name in rule.arguments - set(rule.defaults or {})}
        path = rule.build(values, append_unknown=False)[1]
        response = client.get(path) if "GET" in rule.methods else client.post(path, data={"csrf_token": token})
        assert response.status_code in (302, 303), f"{rule.endpoint} {path} -> {response.status_code}"
        assert response.headers["Location"].startswith("/login"), rule.endpoint
        checked += 1
    assert checked > 150


def test_plain_sign_out_keeps_the_link_and_ends_only_that_session(app, client, delivered, totp_learner, login_as):
    full = app.test_client()
    full.post("/login", data={"email": totp_learner.email, "password": PASSWORD,
                              "csrf_token": csrf_token_from(full.get("/login").get_data(as_text=True))})
    assert pass_second_step(full, totp_learner.email).status_code == 303
    open_link(client, f"/t/{delivered['link']}")
    token = csrf_token_from(client.get(f"/me/training/{delivered['assignment']}").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get(f"/me/training/{delivered['assignment']}").status_code == 302
    assert full.get("/me/profile").status_code == 200  # the link session's sign-out ended only itself
    assert open_link(client, f"/t/{delivered['link']}").status_code == 303


# --- when a link stops working ---------------------------------------------------------------------------------


def _refused(client, link: str, status: int, text: str):
    page = client.get(link)
    assert page.status_code == status and text in page.get_data(as_text=True)
    posted = client.post(link, data={"csrf_token": csrf_token_from(client.get("/login").get_data(as_text=True))})
    assert posted.status_code == status and text in posted.get_data(as_text=True)


def test_reporting_a_known_password_ends_the_links_and_the_link_sessions(
    app, client, delivered, totp_learner, run_in_app
):
    open_link(client, f"/t/{delivered['link']}")
    full = app.test_client()
    full.post("/login", data={"email": totp_learner.email, "password": PASSWORD,
                              "csrf_token": csrf_token_from(full.get("/login").get_data(as_text=True))})
    pass_second_step(full, totp_learner.email)
    token = csrf_token_from(full.get("/password/change").get_data(as_text=True))
    assert full.post("/password/compromised", data={"csrf_token": token}).status_code == 303

    assert client.get(f"/me/training/{delivered['assignment']}").status_code == 302  # the link session ended
    fresh = app.test_client()
    _refused(fresh, f"/t/{delivered['link']}", 410, "このリンクは使えなくなりました")
    assert fresh.get(f"/me/training/{delivered['assignment']}").status_code == 302
    refusals = audit_events(run_in_app, "auth.link_refused")
    assert refusals and refusals[-1]["reason"] == "gone" and refusals[-1]["target_id"] == str(totp_learner.id)


@pytest.mark.parametrize("what", ["sessions_ended", "password_reset", "initial_password"])
def test_ending_sessions_or_resetting_the_password_ends_the_links(client, delivered, totp_learner, run_in_app, what):
    open_link(client, f"/t/{delivered['link']}")

    def act():
        learner = db.session.get(User, totp_learner.id)
        if what == "sessions_ended":
            learner_services.end_sessions(learner)
        elif what == "password_reset":
            raw = issue_token(learner, auth_services.RESET_PURPOSE, timedelta(hours=1))
            auth_services.reset_password(raw, "a brand new long passphrase 42")
        else:
            learner_services.set_initial_password(learner, "another initial pass 42")

    run_in_app(act)
    assert client.get(f"/me/training/{delivered['assignment']}").status_code == 302
    _refused(client, f"/t/{delivered['link']}", 410, "このリンクは使えなくなりました")
    # A delivery sent after that carries a link that works.
    def later():
        course = add_course(organization_id=None, questions=1)
        return deliver(_admin(totp_learner), course.id, learner_ids=[totp_learner.id]).id

    new_delivery = run_in_app(later)
    assert open_link(client, f"/t/{run_in_app(lambda: link_for(new_delivery, totp_learner.id))}").status_code == 303


def _admin(person: User) -> User:
    return db.session.scalar(select(User).where(User.organization_id == person.organization_id,
                                                User.role == Role.ORG_ADMIN))


def test_a_deactivated_learner_s_link_and_session_end(client, delivered, totp_learner, run_in_app):
    open_link(client, f"/t/{delivered['link']}")
    run_in_app(lambda: learner_services.set_active(db.session.get(User, totp_learner.id), False))
    assert client.get(f"/me/training/{delivered['assignment']}").status_code == 302
    _refused(client, f"/t/{delivered['link']}", 404, "このリンクは無効です")


def test_a_link_session_sees_the_images_of_its_course_only(client, world, run_in_app, login_as, totp_learner):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    admin = login_as(world["admin_a"])

    def upload(course_id: int) -> int:
        token = csrf_token_from(admin.get(f"/courses/{course_id}").get_data(as_text=True))
        admin.post(f"/courses/{course_id}/images", data={"csrf_token": token, "image": (io.BytesIO(png), "a.png")})
        return run_in_app(lambda: db.session.scalar(select(CourseImage.id).where(CourseImage.course_id == course_id)))

    courses = run_in_app(lambda: [add_course(organization_id=world["org_a"].id, title=t).id for t in ("甲", "乙")])
    mine, other = upload(courses[0]), upload(courses[1])
    delivery_id = run_in_app(lambda: deliver(world["admin_a"], courses[0], learner_ids=[totp_learner.id]).id)
    open_link(client, f"/t/{run_in_app(lambda: link_for(delivery_id, totp_learner.id))}")
    served = client.get(f"/training/images/{mine}")
    assert served.status_code == 200 and served.data == png
    assert client.get(f"/training/images/{other}").status_code == 302  # not this link's course: sign in first


def test_a_closed_delivery_ends_its_link_and_its_link_session(client, delivered, run_in_app):
    open_link(client, f"/t/{delivered['link']}")
    token = csrf_token_from(client.get(f"/me/training/{delivered['assignment']}").get_data(as_text=True))
    question = client.post(f"/me/training/{delivered['assignment']}/start", data={"csrf_token": token})
    assert client.get(question.headers["Location"]).status_code == 200
    run_in_app(lambda: delivery_services.close_delivery(db.session.get(Delivery, delivered["delivery"])))
    gone = client.get(f"/me/training/{delivered['assignment']}")
    assert gone.status_code == 410 and "この配信は終了しました" in gone.get_data(as_text=True)
    gone = client.get(question.headers["Location"])  # the attempt's pages too
    assert gone.status_code == 410 and "この配信は終了しました" in gone.get_data(as_text=True)
    _refused(client, f"/t/{delivered['link']}", 410, "この配信は終了しました")


# --- inspection links ----------------------------------------------------------------------------------


@pytest.fixture
def inspection(world, run_in_app, totp_learner):
    org = world["org_a"].id

    def make():
        team = Department(organization_id=org, name="営業部", depth=1)
        db.session.add(team)
        db.session.flush()
        db.session.get(User, totp_learner.id).department_id = team.id
        db.session.add(ManagerDepartment(organization_id=org, user_id=world["manager_a"].id, department_id=team.id))
        edition, _items = add_edition(org, items=2)
        manager_edition, _items = add_edition(org, items=2, kind="manager", title="管理者版")
        mine = open_round(world["admin_a"], edition, person_ids=[totp_learner.id])
        teams = open_round(world["admin_a"], manager_edition)
        return {"round": mine.id, "team_round": teams.id, "team": team.id}

    made = run_in_app(make)
    made["link"] = run_in_app(lambda: inspection_link_for(made["round"], totp_learner.id))
    made["sheet"] = run_in_app(lambda: response_of(made["round"], totp_learner.id).id)
    made["manager_link"] = run_in_app(
        lambda: inspection_link_for(made["team_round"], world["manager_a"].id, f"team:{made['team']}"))
    made["team_sheet"] = run_in_app(
        lambda: response_of(made["team_round"], world["manager_a"].id, f"team:{made['team']}").id)
    return made


def test_an_inspection_link_opens_that_round_s_sheet_only(client, inspection):
    entered = open_link(client, f"/i/{inspection['link']}")
    assert entered.headers["Location"].endswith(f"/me/inspections/rounds/{inspection['round']}")
    assert client.get(f"/me/inspections/{inspection['sheet']}").status_code == 200
    assert client.get("/me/inspections/").status_code == 302
    assert client.get("/account/two-factor").status_code == 302


def test_a_manager_edition_link_opens_the_team_sheet_and_no_learner_list_or_export(client, inspection, world):
    entered = open_link(client, f"/i/{inspection['manager_link']}")
    assert entered.status_code == 303
    assert client.get(entered.headers["Location"]).status_code in (200, 303)
    assert client.get(f"/me/inspections/{inspection['team_sheet']}").status_code == 200
    for path in ("/org/learners/", "/org/learners/export.csv", "/org/inspections/results/figures.csv",
                 "/org/training/", "/org/"):
        refused = client.get(path)
        assert refused.status_code == 302 and refused.headers["Location"].startswith("/login"), path


def test_a_closed_round_ends_its_link_and_its_link_session(client, inspection, run_in_app):
    open_link(client, f"/i/{inspection['link']}")
    run_in_app(lambda: round_services.close_round(db.session.get(InspectionRound, inspection["round"])))
    gone = client.get(f"/me/inspections/{inspection['sheet']}")
    assert gone.status_code == 410 and "この点検は終了しました" in gone.get_data(as_text=True)
    _refused(client, f"/i/{inspection['link']}", 410, "この点検は終了しました")


def test_an_inspection_link_stops_after_the_sessions_are_ended(client, inspection, totp_learner, run_in_app):
    run_in_app(lambda: learner_services.end_sessions(db.session.get(User, totp_learner.id)))
    _refused(client, f"/i/{inspection['link']}", 410, "このリンクは使えなくなりました")
