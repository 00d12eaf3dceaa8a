"""セキュレジ rounds (#7 parts 3 and 4): scheduling, launch, personal links, answering on a phone, tallies,
reminders, recurrence and the bad-input rules."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, func, select

from portal import sending
from portal.blueprints.inspections.rounds import services as rounds
from portal.blueprints.training.deliveries import services as delivery_services
from portal.clock import add_months_to_date, this_month
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Department,
    InspectionAnswer,
    InspectionResponse,
    InspectionRound,
    ManagerDepartment,
    OutboxMessage,
    Recurrence,
    ResponseStatus,
    Role,
    RoundStatus,
    User,
    utcnow,
)
from portal.tenancy import unscoped
from tests.clock import jst
from tests.conftest import csrf_token_from
from tests.inspection_helpers import add_edition, answer_all, link_for, open_round, response_of, tallies


@pytest.fixture
def team(world, run_in_app, make_user):
    """Organization A with two departments; learner_a in 営業部, a second learner in 総務部, a third without one."""
    org = world["org_a"]

    def departments():
        sales = Department(organization_id=org.id, name="営業部", depth=1)
        admin = Department(organization_id=org.id, name="総務部", depth=1)
        db.session.add_all([sales, admin])
        db.session.flush()
        db.session.get(User, world["learner_a"].id).department_id = sales.id
        return sales.id, admin.id

    sales, general = run_in_app(departments)
    second = make_user(Role.LEARNER, org, name="受講 二郎", login_id="A002", department_id=general)
    third = make_user(Role.LEARNER, org, name="受講 三郎", login_id="A003", email=None)
    edition, items = run_in_app(lambda: add_edition(org.id, items=3))
    return {**world, "sales": sales, "general": general, "second": second, "third": third, "edition": edition,
            "items": items}


# The moment of the tests that fill the new-round form: the form's month, start and due date are written from
# it, and the portal checks them against its own clock; set to the same moment, the two cannot fall on either
# side of a month's end.
MOMENT = jst(2026, 11, 16, 10, 0)


@pytest.fixture
def at_moment(time_machine):
    time_machine.move_to(MOMENT)


def _form(page: str) -> str:
    return csrf_token_from(page)


# --- creating and launching --------------------------------------------------------------------------------


def test_admin_creates_a_round_and_launch_writes_sheets_tallies_and_emails(at_moment, team, login_as, run_in_app,
                                                                           mailbox):
    admin = login_as(team["admin_a"])
    page = admin.get("/org/inspections/new").get_data(as_text=True)
    now = MOMENT
    response = admin.post("/org/inspections/new", data={
        "csrf_token": _form(page), "edition_id": team["edition"], "month": f"{now:%Y-%m}", "title": "",
        "target_kind": "everyone", "starts_at": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
        "due_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"), "reminder_days": ["-3"],
        "window_start_hour": "0", "window_end_hour": "24", "recurrence": "none",
    })
    assert response.status_code == 303, response.get_data(as_text=True)
    found = run_in_app(lambda: db.session.scalar(select(InspectionRound)))
    assert found.status == RoundStatus.OPEN and found.item_ids == team["items"]
    assert found.month == date(now.year, now.month, 1)
    sheets = run_in_app(lambda: db.session.scalars(select(InspectionResponse)).all())
    assert {s.respondent_id for s in sheets} == {team["learner_a"].id, team["second"].id, team["third"].id}
    assert {s.department_id for s in sheets} == {team["sales"], team["general"], None}
    assert all(s.status == ResponseStatus.NOT_STARTED for s in sheets)
    counted = run_in_app(lambda: tallies(found.id))
    assert set(counted) == {(d, i) for d in (team["sales"], team["general"], None) for i in team["items"]}
    assert set(counted.values()) == {(0, 0, 0)}
    # Real SMTP: the learner's email carries the personal link; the one without an address gets none.
    bodies = mailbox(team["learner_a"].email)
    assert len(bodies) == 1 and "点検" in bodies[0]
    token = re.search(r"http://portal\.test/i/([0-9a-f]+)", bodies[0]).group(1)
    assert token == run_in_app(lambda: link_for(found.id, team["learner_a"].id))
    # Two invitations (the world's overdue invoice also puts an email to the operator's inbox in the outbox).
    invitations = select(func.count(OutboxMessage.id)).where(OutboxMessage.template == "inspection_invitation")
    assert run_in_app(lambda: db.session.scalar(invitations)) == 2
    # The round page counts the sheets by status.
    show = BeautifulSoup(admin.get(f"/org/inspections/{found.id}").get_data(as_text=True), "html.parser")
    assert [td.get_text() for td in show.select("#response-counts tr.total td")] == ["合計", "3", "0", "0", "3"]
    index = admin.get("/org/inspections/").get_data(as_text=True)
    assert "/o/" in index and "/me/inspections/" in index


def test_the_link_is_scanner_safe_and_signs_in_on_the_button(team, app, run_in_app):
    found = run_in_app(lambda: open_round(team["admin_a"], team["edition"]))
    token = run_in_app(lambda: link_for(found.id, team["learner_a"].id))
    visitor = app.test_client()
    page = visitor.get(f"/i/{token}")
    assert page.status_code == 200 and "点検を始める" in page.get_data(as_text=True)
    assert visitor.get("/me/inspections/").status_code == 302  # a GET signed nobody in
    entered = visitor.post(f"/i/{token}", data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert entered.status_code == 303 and entered.headers["Location"].endswith(f"/me/inspections/rounds/{found.id}")
    sheet = visitor.get(entered.headers["Location"])
    sheet_id = run_in_app(lambda: response_of(found.id, team["learner_a"].id).id)
    assert sheet.status_code == 303 and sheet.headers["Location"].endswith(f"/me/inspections/{sheet_id}")
    assert visitor.get("/i/" + "0" * 40).status_code == 404


def test_inspection_and_training_links_differ_by_namespace(app, team, run_in_app):
    def check():
        found = open_round(team["admin_a"], team["edition"])
        training = delivery_services.personal_link_secret(found, team["learner_a"].id)
        inspection = sending.personal_link_secret("inspection-link", found, team["learner_a"].id)
        assert training != inspection
        assert training == sending.personal_link_secret("training-link", found, team["learner_a"].id)

    run_in_app(check)


def _post_new(client, team, **overrides):
    page = client.get("/org/inspections/new").get_data(as_text=True)
    now = MOMENT  # the tests that post it ask for at_moment
    data = {"csrf_token": _form(page), "edition_id": team["edition"], "month": f"{now:%Y-%m}", "title": "残す名前",
            "target_kind": "everyone", "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
            "due_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"), "window_start_hour": "9",
            "window_end_hour": "18", "recurrence": "none"}
    data.update(overrides)
    return client.post("/org/inspections/new", data=data)


def test_a_round_for_a_past_month_is_refused(at_moment, team, login_as, run_in_app):
    admin = login_as(team["admin_a"])
    last_month = add_months_to_date(this_month(), -1)
    response = _post_new(admin, team, month=f"{last_month:%Y-%m}")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "過ぎた月" in page and 'value="残す名前"' in page
    assert run_in_app(lambda: db.session.scalar(select(func.count(InspectionRound.id)))) == 0


def test_a_round_for_an_edition_and_month_already_closed_is_refused(at_moment, team, login_as, run_in_app):
    first = run_in_app(lambda: open_round(team["admin_a"], team["edition"]))
    run_in_app(lambda: rounds.close_round(db.session.get(InspectionRound, first.id)))
    response = _post_new(login_as(team["admin_a"]), team)
    assert response.status_code == 422 and "すでに締め切られています" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count(InspectionRound.id)))) == 1


def test_reminders_after_the_due_date_and_past_due_dates_are_refused(at_moment, team, login_as):
    admin = login_as(team["admin_a"])
    response = _post_new(admin, team, reminder_days=["1"])
    assert response.status_code == 422
    now = MOMENT
    response = _post_new(admin, team, starts_at=(now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
                         due_at=(now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 422 and "期限が過ぎています" in response.get_data(as_text=True)


# --- answering ---------------------------------------------------------------------------------------------


@pytest.fixture
def sheet(team, run_in_app, login_as):
    found = run_in_app(lambda: open_round(team["admin_a"], team["edition"]))
    mine = run_in_app(lambda: response_of(found.id, team["learner_a"].id))
    client = login_as(team["learner_a"])
    return {"round": found, "id": mine.id, "client": client, "url": f"/me/inspections/{mine.id}"}


def _post_sheet(sheet, data, action="save", client=None):
    c = client or sheet["client"]
    token = csrf_token_from(c.get("/me/inspections/").get_data(as_text=True))
    return c.post(sheet["url"], data={"csrf_token": token, "action": action, **data})


def _answers_count(run_in_app) -> int:
    return run_in_app(lambda: db.session.scalar(select(func.count(InspectionAnswer.id))))


def test_the_sheet_shows_each_item_with_why_and_three_answers(team, sheet):
    soup = BeautifulSoup(sheet["client"].get(sheet["url"]).get_data(as_text=True), "html.parser")
    items = soup.select("fieldset.inspection-item")
    assert len(items) == 3
    assert [i["value"] for i in items[0].select("input[type=radio]")] == ["yes", "no", "na"]
    assert [label.get_text(strip=True) for label in items[0].select("label.choice")] == ["はい", "いいえ", "該当なし"]
    assert "理由1" in items[0].get_text() and items[0].select_one("textarea")
    assert "なぜ大切か" in items[0].get_text() and "「いいえ」の場合は必須" in items[-1].get_text()
    # Each item saves itself at its own address (htmx).
    assert sorted(i["hx-post"] for i in items) == sorted(f"{sheet['url']}/items/{item}" for item in team["items"])
    assert not soup.select("script:not([src])")


def test_an_answer_for_an_item_not_in_the_round_writes_nothing(team, sheet, run_in_app):
    first = team["items"][0]
    response = _post_sheet(sheet, {f"value_{first}": "yes", "value_999999": "yes"})
    assert response.status_code == 422 and "含まれない項目" in response.get_data(as_text=True)
    assert _answers_count(run_in_app) == 0
    page = response.get_data(as_text=True)  # the input is kept
    assert BeautifulSoup(page, "html.parser").select_one(f"input[name=value_{first}][value=yes]").has_attr("checked")
    token = csrf_token_from(sheet["client"].get(sheet["url"]).get_data(as_text=True))
    htmx = sheet["client"].post(f"{sheet['url']}/items/999999", data={"csrf_token": token, "value_999999": "yes"},
                                headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and "含まれない項目" in htmx.get_data(as_text=True)
    assert _answers_count(run_in_app) == 0


def test_a_no_without_a_comment_is_refused_and_the_input_kept(team, sheet, run_in_app):
    a, b, _c = team["items"]
    response = _post_sheet(sheet, {f"value_{a}": "yes", f"value_{b}": "no", f"comment_{a}": "メモを残す"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "コメントに入力してください" in page
    assert "メモを残す" in page
    assert _answers_count(run_in_app) == 0
    token = csrf_token_from(sheet["client"].get(sheet["url"]).get_data(as_text=True))
    htmx = sheet["client"].post(f"{sheet['url']}/items/{b}", data={"csrf_token": token, f"value_{b}": "no"},
                                headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and "コメント" in htmx.get_data(as_text=True)
    assert _answers_count(run_in_app) == 0


def test_saving_as_you_go_then_submitting_counts_only_submitted_sheets(team, sheet, run_in_app):
    a, b, c = team["items"]
    client = sheet["client"]
    token = csrf_token_from(client.get(sheet["url"]).get_data(as_text=True))
    saved = client.post(f"{sheet['url']}/items/{a}", data={"csrf_token": token, f"value_{a}": "yes"},
                        headers={"HX-Request": "true"})
    assert saved.status_code == 200
    fragment = BeautifulSoup(saved.get_data(as_text=True), "html.parser")
    assert fragment.select_one(f"#status-{a}").get_text() == "保存しました。"
    assert "1 / 3" in fragment.select_one("#progress[hx-swap-oob]").get_text()
    assert run_in_app(lambda: response_of(sheet["round"].id, team["learner_a"].id).status) == "in_progress"
    assert set(run_in_app(lambda: tallies(sheet["round"].id)).values()) == {(0, 0, 0)}  # not submitted: no count
    early = _post_sheet(sheet, {f"value_{b}": "na"}, action="submit")
    assert early.status_code == 422 and "未回答の項目が1件" in early.get_data(as_text=True)
    assert run_in_app(lambda: response_of(sheet["round"].id, team["learner_a"].id).status) == "in_progress"
    done = _post_sheet(sheet, {f"value_{b}": "no", f"comment_{b}": "施錠を忘れた", f"value_{c}": "na"},
                       action="submit")
    assert done.status_code == 303
    counted = run_in_app(lambda: tallies(sheet["round"].id))
    sales = team["sales"]
    assert (counted[(sales, a)], counted[(sales, b)], counted[(sales, c)]) == ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    assert counted[(team["general"], a)] == (0, 0, 0)
    # Still editable: a change counts at once (minus the old answer, plus the new one), htmx or form.
    htmx = client.post(f"{sheet['url']}/items/{a}",
                       data={"csrf_token": token, f"value_{a}": "no", f"comment_{a}": "未対応"},
                       headers={"HX-Request": "true"})
    assert htmx.status_code == 200
    counted = run_in_app(lambda: tallies(sheet["round"].id))
    assert counted[(sales, a)] == (0, 1, 0)
    again = _post_sheet(sheet, {f"value_{a}": "yes", f"value_{b}": "yes", f"value_{c}": "na"}, action="submit")
    assert again.status_code == 303
    counted = run_in_app(lambda: tallies(sheet["round"].id))
    assert (counted[(sales, a)], counted[(sales, b)], counted[(sales, c)]) == ((1, 0, 0), (1, 0, 0), (0, 0, 1))
    assert run_in_app(lambda: db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "inspection.submitted"))) == 2


def test_two_submissions_of_a_department_add_up(team, run_in_app, make_user):
    third_sales = make_user(Role.LEARNER, team["org_a"], login_id="A004", department_id=team["sales"])
    found = run_in_app(lambda: open_round(team["admin_a"], team["edition"]))
    a, b, c = team["items"]
    for person, values in ((team["learner_a"], {a: "yes", b: "no", c: "na"}),
                           (third_sales, {a: "yes", b: "yes", c: "no"})):
        rid = run_in_app(lambda p=person: response_of(found.id, p.id).id)
        run_in_app(lambda r=rid, v=values: answer_all(r, v))
    counted = run_in_app(lambda: tallies(found.id))
    assert counted[(team["sales"], a)] == (2, 0, 0)
    assert counted[(team["sales"], b)] == (1, 1, 0)
    assert counted[(team["sales"], c)] == (0, 1, 1)
    # The tallies always equal a recount of the submitted answers.
    recount = run_in_app(lambda: db.session.execute(
        select(InspectionAnswer.item_id, InspectionAnswer.value, func.count())
        .join(InspectionResponse, InspectionResponse.id == InspectionAnswer.response_id)
        .where(InspectionResponse.status == "submitted", InspectionAnswer.round_id == found.id)
        .group_by(InspectionAnswer.item_id, InspectionAnswer.value)).all())
    for item_id, value, n in recount:
        yes, no, na = (sum(v[i] for k, v in counted.items() if k[1] == item_id) for i in range(3))
        assert {"yes": yes, "no": no, "na": na}[value] == n


def _sheet_cards(client) -> list[str]:
    """The learner's list of sheets, one line of text per card."""
    page = BeautifulSoup(client.get("/me/inspections/").get_data(as_text=True), "html.parser")
    return [" ".join(card.get_text().split()) for card in page.select("#sheets li")]


def test_after_the_due_date_the_sheet_is_read_only_and_a_submission_refused(team, sheet, run_in_app):
    a, b, c = team["items"]
    run_in_app(lambda: answer_all(sheet["id"], {a: "yes", b: "yes"}, submit=False))
    token = csrf_token_from(sheet["client"].get(sheet["url"]).get_data(as_text=True))
    (card,) = _sheet_cards(sheet["client"])
    assert card.startswith(sheet["round"].title) and "期限:" in card and card.endswith("回答中")

    def expire():
        db.session.get(InspectionRound, sheet["round"].id).due_at = utcnow() - timedelta(minutes=1)

    run_in_app(expire)
    response = sheet["client"].post(sheet["url"], data={"csrf_token": token, "action": "submit",
                                                        f"value_{c}": "yes"})
    assert response.status_code == 422 and "期限を過ぎた" in response.get_data(as_text=True)
    assert _sheet_cards(sheet["client"])[0].endswith("回答中 （締め切り済み）")
    assert run_in_app(lambda: response_of(sheet["round"].id, team["learner_a"].id).status) == "in_progress"
    assert _answers_count(run_in_app) == 2
    page = sheet["client"].get(sheet["url"]).get_data(as_text=True)
    soup = BeautifulSoup(page, "html.parser")
    assert soup.select_one("#read-only") and not soup.select("input[type=radio]")


def test_another_learners_sheet_is_not_found(team, sheet, login_as, run_in_app):
    other = run_in_app(lambda: response_of(sheet["round"].id, team["second"].id).id)
    c = sheet["client"]
    assert c.get(f"/me/inspections/{other}").status_code == 404
    token = csrf_token_from(c.get("/me/inspections/").get_data(as_text=True))
    first = team["items"][0]
    assert c.post(f"/me/inspections/{other}", data={"csrf_token": token, f"value_{first}": "yes"}).status_code == 404
    assert c.post(f"/me/inspections/{other}/items/{first}",
                  data={"csrf_token": token, f"value_{first}": "yes"}).status_code == 404
    assert login_as(team["admin_b"]).get(f"/me/inspections/{other}").status_code == 403
    assert _answers_count(run_in_app) == 0


def test_the_form_works_without_javascript(team, sheet, run_in_app):
    a, b, c = team["items"]
    token = csrf_token_from(sheet["client"].get(sheet["url"]).get_data(as_text=True))
    one = sheet["client"].post(f"{sheet['url']}/items/{a}", data={"csrf_token": token, f"value_{a}": "yes"})
    assert one.status_code == 303 and one.headers["Location"].endswith(f"#item-{a}")
    response = _post_sheet(sheet, {f"value_{b}": "no", f"comment_{b}": "未施錠", f"value_{c}": "yes"},
                           action="submit")
    assert response.status_code == 303
    page = sheet["client"].get(sheet["url"]).get_data(as_text=True)
    assert "提出済" in page and "未施錠" in page


def test_sheet_page_query_count_does_not_grow_with_items_or_learners(app, world, run_in_app, login_as, make_user):
    def count_for(items: int, learners: int) -> int:
        org = world["org_a"]
        edition, _ids = run_in_app(lambda: add_edition(org.id, items=items, title=f"版{items}"))
        people = [make_user(Role.LEARNER, org, login_id=f"Q{items}-{n}") for n in range(learners)]
        found = run_in_app(lambda: open_round(world["admin_a"], edition, person_ids=[p.id for p in people]))
        rid = run_in_app(lambda: response_of(found.id, people[0].id).id)
        run_in_app(lambda: answer_all(rid, dict.fromkeys(_ids[: items // 2], "yes"), submit=False))
        client = login_as(people[0])
        client.get(f"/me/inspections/{rid}")
        statements = []
        with app.app_context():
            engine = db.engine

        def count(*_args):
            statements.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get(f"/me/inspections/{rid}").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    assert count_for(2, 1) == count_for(12, 6)


# --- managers --------------------------------------------------------------------------------------------


@pytest.fixture
def managers(team, run_in_app, make_user, login_as):
    other = make_user(Role.MANAGER, team["org_a"], name="課長 B")

    def assign():
        org = team["org_a"].id
        db.session.add_all([
            ManagerDepartment(organization_id=org, user_id=team["manager_a"].id, department_id=team["sales"]),
            ManagerDepartment(organization_id=org, user_id=team["manager_a"].id, department_id=team["general"]),
            ManagerDepartment(organization_id=org, user_id=other.id, department_id=team["general"]),
        ])

    run_in_app(assign)
    edition, items = run_in_app(lambda: add_edition(team["org_a"].id, items=2, kind="manager", title="管理者版"))
    found = run_in_app(lambda: open_round(team["admin_a"], edition))
    return {"other": other, "round": found, "items": items}


def test_the_manager_edition_gives_one_sheet_per_manager_and_team(team, managers, run_in_app, login_as):
    found = managers["round"]
    sheets = run_in_app(lambda: db.session.execute(
        select(InspectionResponse.respondent_id, InspectionResponse.subject, InspectionResponse.department_id)
        .where(InspectionResponse.round_id == found.id)).all())
    me, other = team["manager_a"].id, managers["other"].id
    assert sorted(sheets) == sorted([(me, f"team:{team['sales']}", team["sales"]),
                                     (me, f"team:{team['general']}", team["general"]),
                                     (other, f"team:{team['general']}", team["general"])])
    assert run_in_app(lambda: db.session.scalar(select(func.count(OutboxMessage.id)))) == 2  # one per manager
    client = login_as(team["manager_a"])
    listing = client.get(f"/me/inspections/rounds/{found.id}")
    assert listing.status_code == 200
    assert len(BeautifulSoup(listing.get_data(as_text=True), "html.parser").select("#sheets li")) == 2
    a, b = managers["items"]
    mine = run_in_app(lambda: response_of(found.id, me, f"team:{team['sales']}").id)
    run_in_app(lambda: answer_all(mine, {a: "yes", b: "no"}))
    counted = run_in_app(lambda: tallies(found.id))
    assert counted[(team["sales"], a)] == (1, 0, 0) and counted[(team["general"], a)] == (0, 0, 0)


def test_a_manager_cannot_answer_for_another_department(app, team, managers, run_in_app, login_as):
    found = managers["round"]
    a = managers["items"][0]
    theirs = run_in_app(lambda: response_of(found.id, managers["other"].id, f"team:{team['general']}").id)
    client = login_as(team["manager_a"])
    token = csrf_token_from(client.get("/me/inspections/").get_data(as_text=True))
    assert client.get(f"/me/inspections/{theirs}").status_code == 404
    assert client.post(f"/me/inspections/{theirs}", data={"csrf_token": token, f"value_{a}": "yes"}).status_code == 404
    # A team the manager no longer looks after: the sheet is closed to them too.
    mine = run_in_app(lambda: response_of(found.id, team["manager_a"].id, f"team:{team['general']}").id)
    sales = run_in_app(lambda: response_of(found.id, team["manager_a"].id, f"team:{team['sales']}").id)

    def listed() -> list[str]:  # the sheets a home lists for this person (the learners' home's provider)
        from portal.blueprints.inspections.sheets.services import inspection_home_items

        with app.test_request_context():
            return sorted(item.url for item in inspection_home_items(db.session.get(User, team["manager_a"].id), 6))

    assert run_in_app(listed) == sorted([f"/me/inspections/{mine}", f"/me/inspections/{sales}"])
    run_in_app(lambda: db.session.delete(db.session.get(ManagerDepartment, (team["manager_a"].id, team["general"]))))
    assert run_in_app(listed) == [f"/me/inspections/{sales}"]
    assert client.post(f"/me/inspections/{mine}/items/{a}", data={"csrf_token": token, f"value_{a}": "yes"},
                       headers={"HX-Request": "true"}).status_code == 404
    assert _answers_count(run_in_app) == 0


# --- schedule: launch, reminders, close, recurrence ---------------------------------------------------------


def test_a_scheduled_round_launches_reminds_and_closes_with_the_periodic_job(team, run_in_app):
    base = datetime.now(UTC)
    start = base + timedelta(hours=1)
    found = run_in_app(lambda: open_round(team["admin_a"], team["edition"], starts_in=timedelta(hours=1),
                                          due_in=timedelta(days=5), reminder_days=[-3, -1], now=base))
    assert found.status == RoundStatus.SCHEDULED
    run_in_app(lambda: rounds.run_rounds(start - timedelta(minutes=1)))
    assert run_in_app(lambda: db.session.get(InspectionRound, found.id).status) == RoundStatus.SCHEDULED
    run_in_app(lambda: rounds.run_rounds(start))
    assert run_in_app(lambda: db.session.get(InspectionRound, found.id).status) == RoundStatus.OPEN
    assert run_in_app(lambda: db.session.scalar(select(func.count(InspectionResponse.id)))) == 3
    rid = run_in_app(lambda: response_of(found.id, team["learner_a"].id).id)
    run_in_app(lambda: answer_all(rid, dict.fromkeys(team["items"], "yes"), now=start))

    def reminders():
        return run_in_app(lambda: db.session.scalars(select(OutboxMessage.to_address).where(
            OutboxMessage.template == "inspection_reminder")).all())

    due = base + timedelta(days=5)
    run_in_app(lambda: rounds.run_rounds(due - timedelta(days=3) + timedelta(minutes=5)))
    assert reminders() == [team["second"].email]  # submitted and address-less people get none
    run_in_app(lambda: rounds.run_rounds(due - timedelta(days=3) + timedelta(minutes=6)))
    assert len(reminders()) == 1  # each reminder once
    run_in_app(lambda: rounds.run_rounds(due + timedelta(days=2)))
    closed = run_in_app(lambda: db.session.get(InspectionRound, found.id))
    assert closed.status == RoundStatus.CLOSED and closed.closed_at is not None


def test_remind_now_goes_once_a_day_to_those_who_have_not_submitted(team, sheet, login_as, run_in_app, mailbox):
    admin = login_as(team["admin_a"])
    page = admin.get(f"/org/inspections/{sheet['round'].id}").get_data(as_text=True)
    for _ in range(2):
        assert admin.post(f"/org/inspections/{sheet['round'].id}/remind",
                          data={"csrf_token": csrf_token_from(page)}).status_code == 303
    assert run_in_app(lambda: db.session.scalar(select(func.count(OutboxMessage.id)).where(
        OutboxMessage.template == "inspection_reminder"))) == 2
    assert any("まだ提出されていません" in body for body in mailbox(team["second"].email))
    assert admin.post(f"/org/inspections/{sheet['round'].id}/close",
                      data={"csrf_token": csrf_token_from(page)}).status_code == 303
    assert run_in_app(lambda: db.session.get(InspectionRound, sheet["round"].id).status) == RoundStatus.CLOSED
    assert "締め切られました" in sheet["client"].get(sheet["url"]).get_data(as_text=True)


def test_a_monthly_round_schedules_next_month_with_next_months_draw(world, run_in_app):
    org = world["org_a"]
    edition, fixed = run_in_app(lambda: add_edition(org.id, items=2, drawn=2, categories=5, title="抽選版"))
    found = run_in_app(lambda: open_round(world["admin_a"], edition, recurrence=Recurrence.MONTHLY))
    following = run_in_app(lambda: db.session.scalar(
        select(InspectionRound).where(InspectionRound.previous_round_id == found.id)))
    assert following.status == RoundStatus.SCHEDULED and following.round_no == 2
    assert following.month == add_months_to_date(found.month, 1)
    assert following.item_ids[:2] == fixed == found.item_ids[:2]
    assert len(following.item_ids) == 4 and following.item_ids[2:] != found.item_ids[2:]
    assert following.starts_at.astimezone(UTC) > found.starts_at.astimezone(UTC)
    run_in_app(lambda: rounds.schedule_next_round(db.session.get(InspectionRound, found.id)))
    assert run_in_app(lambda: db.session.scalar(select(func.count(InspectionRound.id)))) == 2


def test_the_learners_home_lists_the_open_sheet(team, sheet):
    page = sheet["client"].get("/me/").get_data(as_text=True)
    assert sheet["url"] in page


def test_manager_reads_the_rounds_of_their_departments_only(team, managers, login_as, run_in_app):
    client = login_as(team["manager_a"])
    assert client.get("/org/inspections/").status_code == 200
    assert client.get("/org/inspections/new").status_code == 403
    page = client.get(f"/org/inspections/{managers['round'].id}").get_data(as_text=True)
    assert "営業部" in page and "総務部" in page


def test_concurrent_submissions_never_lose_a_count(app, team, run_in_app, make_user):
    """Four people of one department submit at the same moment, and one of them twice: each sheet counts once."""
    import threading

    people = [team["learner_a"]] + [make_user(Role.LEARNER, team["org_a"], login_id=f"C{n}",
                                              department_id=team["sales"]) for n in range(3)]
    found = run_in_app(lambda: open_round(team["admin_a"], team["edition"]))
    sheets = [run_in_app(lambda p=p: response_of(found.id, p.id).id) for p in people]
    jobs = sheets + [sheets[0]]
    barrier, errors = threading.Barrier(len(jobs)), []

    def submit(response_id):
        try:
            barrier.wait(timeout=10)
            with app.app_context(), unscoped("the test reads and writes rows directly"):
                answer_all(response_id, dict.fromkeys(team["items"], "yes"))
                db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit, args=(r,)) for r in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    counted = run_in_app(lambda: tallies(found.id))
    assert {counted[(team["sales"], i)] for i in team["items"]} == {(4, 0, 0)}


def test_taps_on_one_submitted_sheet_at_the_same_moment_keep_the_count_right(team, sheet, login_as, run_in_app):
    """A submitted sheet's item changed from several phones at once, by htmx (#17: the view reads the sheet with
    its row lock at once, not a second time): the sheet's answer is counted once, under its final value."""
    import threading

    first = team["items"][0]
    run_in_app(lambda: answer_all(sheet["id"], dict.fromkeys(team["items"], "yes")))
    clients = [login_as(team["learner_a"]) for _ in range(4)]
    tokens = [csrf_token_from(c.get(sheet["url"]).get_data(as_text=True)) for c in clients]
    barrier, statuses = threading.Barrier(len(clients)), []

    def tap(client, token, value):
        barrier.wait(timeout=10)
        statuses.append(client.post(f"{sheet['url']}/items/{first}", headers={"HX-Request": "true"},
                                    data={"csrf_token": token, f"value_{first}": value,
                                          f"comment_{first}": "理由あり"}).status_code)

    threads = [threading.Thread(target=tap, args=(c, t, "no" if n % 2 else "na")) for n, (c, t)
               in enumerate(zip(clients, tokens, strict=True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * len(clients)
    final = run_in_app(lambda: db.session.scalar(select(InspectionAnswer.value).where(
        InspectionAnswer.response_id == sheet["id"], InspectionAnswer.item_id == first)))
    yes, no, na = run_in_app(lambda: tallies(sheet["round"].id))[(team["sales"], first)]
    assert (yes, no, na) == {"yes": (1, 0, 0), "no": (0, 1, 0), "na": (0, 0, 1)}[final]


def test_the_demo_opens_this_months_employee_round_once(app, make_org, make_user, run_in_app):
    from portal.demo.basic import seed_inspection_round
    from portal.demo.inspection_items import seed_demo_editions, seed_demo_items
    from portal.models import EditionKind

    org = make_org("株式会社デモ商事", code="demo")
    make_user(Role.ORG_ADMIN, org, email="admin@demo.example.com")
    learner = make_user(Role.LEARNER, org, email="learner01@demo.example.com")

    def seed():
        seed_demo_items()
        seed_demo_editions()

    run_in_app(seed)
    with app.app_context():
        seed_inspection_round(org.id)
        seed_inspection_round(org.id)
    found = run_in_app(lambda: db.session.scalars(select(InspectionRound)).all())
    assert len(found) == 1
    assert found[0].status == RoundStatus.OPEN and found[0].month == this_month()
    assert run_in_app(lambda: db.session.get(InspectionRound, found[0].id).edition.kind) == EditionKind.EMPLOYEE
    assert len(found[0].item_ids) == 10
    assert run_in_app(lambda: response_of(found[0].id, learner.id)) is not None


def test_a_round_closed_by_hand_refuses_changes_before_its_due_date(team, sheet, run_in_app):
    first = team["items"][0]
    run_in_app(lambda: rounds.close_round(db.session.get(InspectionRound, sheet["round"].id)))
    token = csrf_token_from(sheet["client"].get("/me/inspections/").get_data(as_text=True))
    response = sheet["client"].post(f"{sheet['url']}/items/{first}",
                                    data={"csrf_token": token, f"value_{first}": "yes"}, headers={"HX-Request": "true"})
    assert response.status_code == 422 and "締め切られたため" in response.get_data(as_text=True)
    assert _answers_count(run_in_app) == 0
