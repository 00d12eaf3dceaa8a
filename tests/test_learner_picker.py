"""The learner picker of a training delivery and of an inspection round (#19 item 5): a search that filters
on the server, returns checkboxes to htmx, keeps the chosen people chosen, works without JavaScript, and
answers within the tenant (and, for a manager, within their departments)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal import learner_picker
from portal.clock import TOKYO, utcnow
from portal.extensions import db
from portal.models import Assignment, Delivery, Department, ManagerDepartment, Role, User
from portal.tenancy import tenant_scope, unscoped
from tests.conftest import csrf_token_from
from tests.inspection_helpers import add_edition
from tests.training_helpers import add_course

HTMX = {"HX-Request": "true"}


@pytest.fixture
def people(world, run_in_app, make_user):
    """Organization A: two departments (manager_a looks after 営業部), learners in each, an inactive one;
    organization B has a 佐藤 too."""
    org = world["org_a"]

    def departments():
        sales = Department(organization_id=org.id, name="営業部", depth=1)
        general = Department(organization_id=org.id, name="総務部", depth=1)
        db.session.add_all([sales, general])
        db.session.flush()
        db.session.add(ManagerDepartment(organization_id=org.id, user_id=world["manager_a"].id,
                                         department_id=sales.id))
        db.session.get(User, world["learner_a"].id).department_id = sales.id
        return sales.id, general.id

    sales, general = run_in_app(departments)
    sato = make_user(Role.LEARNER, org, name="佐藤 翔太", login_id="S001", department_id=sales)
    saito = make_user(Role.LEARNER, org, name="斎藤 美咲", login_id="S002", department_id=general)
    suzuki = make_user(Role.LEARNER, org, name="鈴木 大輔", login_id="S003", email="daisuke@example.com")
    gone = make_user(Role.LEARNER, org, name="佐藤 退職", login_id="S004", is_active_flag=False)
    other = make_user(Role.LEARNER, world["org_b"], name="佐藤 別社", login_id="S001")
    course = run_in_app(lambda: add_course(organization_id=org.id, questions=2).id)
    edition, _items = run_in_app(lambda: add_edition(org.id, items=2))
    return {**world, "sato": sato, "saito": saito, "suzuki": suzuki, "gone": gone, "other": other,
            "course": course, "edition": edition}


def _boxes(html: str) -> dict[str, list[tuple[int, str]]]:
    """The picker's checkboxes: (id, label) of the chosen (checked) and of the others."""
    soup = BeautifulSoup(html, "html.parser")
    boxes = soup.select('input[type="checkbox"][name="learner_ids"]')
    found = {"chosen": [], "others": []}
    for box in boxes:
        found["chosen" if box.has_attr("checked") else "others"].append(
            (int(box["value"]), box.find_parent("label").get_text(" ", strip=True)))
    return found


def _ids(pairs) -> set[int]:
    return {i for i, _label in pairs}


# --- the search route, for htmx and without it --------------------------------------------------------------


def test_htmx_search_returns_the_checkboxes_only_and_keeps_the_chosen(people, login_as):
    admin = login_as(people["admin_a"])
    response = admin.get("/org/training/new/learners", headers=HTMX,
                         query_string={"learner_q": "佐藤", "learner_ids": [people["suzuki"].id]})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("form") is None and soup.find("h1") is None, "a fragment, not the page"
    boxes = _boxes(html)
    assert boxes["chosen"] == [(people["suzuki"].id, "S003 鈴木 大輔")]
    # 佐藤 of this organization; not the inactive one, not another organization's 佐藤.
    assert boxes["others"] == [(people["sato"].id, "S001 佐藤 翔太")]
    assert "「佐藤」に一致する人" in soup.get_text()


def test_search_ignores_spaces_in_names_and_finds_by_address(people, login_as):
    admin = login_as(people["admin_a"])

    def found(query: str) -> set[int]:
        html = admin.get("/org/training/new/learners", headers=HTMX, query_string={"learner_q": query})
        return _ids(_boxes(html.get_data(as_text=True))["others"])

    assert found("佐藤翔太") == {people["sato"].id}
    assert found("daisuke@") == {people["suzuki"].id}
    assert found("s00 美咲") == {people["saito"].id}
    assert found("%") == set() and found("_") == set()  # LIKE's wildcards are searched as themselves
    assert found("") >= {people["sato"].id, people["saito"].id, people["suzuki"].id, people["learner_a"].id}


def test_without_htmx_the_search_route_shows_the_whole_form_with_the_results(people, login_as):
    admin = login_as(people["admin_a"])
    response = admin.get("/org/training/new/learners",
                         query_string={"learner_q": "斎藤", "learner_ids": [people["sato"].id]})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    form = soup.select_one("main form")
    assert form["action"] == "/org/training/new" and form["method"] == "post"
    assert soup.select_one('input[name="learner_q"]')["value"] == "斎藤"
    assert soup.select_one('input[name="target_kind"][value="learners"]').has_attr("checked")
    boxes = _boxes(html)
    assert _ids(boxes["chosen"]) == {people["sato"].id} and _ids(boxes["others"]) == {people["saito"].id}


def test_the_search_box_asks_htmx_with_the_chosen_boxes(people, login_as):
    html = login_as(people["admin_a"]).get("/org/training/new").get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    box = soup.select_one('input[name="learner_q"]')
    assert box["type"] == "search" and box["hx-get"] == "/org/training/new/learners"
    assert box["hx-target"] == "#learner_ids-results" and box["hx-include"] == "#learner_ids-results"
    assert soup.select_one("#learner_ids-results") is not None
    # No multi-select any more; the 検索 button is the form's first (Enter searches, it never delivers).
    assert soup.select_one('select[name="learner_ids"]') is None
    first = soup.select_one("main form").select('button[type="submit"]')[0]
    assert first["name"] == "learner_search"


def test_foreign_and_inactive_ids_never_show_as_chosen(people, login_as):
    admin = login_as(people["admin_a"])
    ids = [people["other"].id, people["gone"].id, people["sato"].id, "abc", "9" * 30, "-4"]
    html = admin.get("/org/training/new/learners", headers=HTMX,
                     query_string={"learner_q": "佐藤", "learner_ids": ids}).get_data(as_text=True)
    boxes = _boxes(html)
    assert boxes["chosen"] == [(people["sato"].id, "S001 佐藤 翔太")]
    assert boxes["others"] == []
    assert "佐藤 別社" not in html and "佐藤 退職" not in html


def test_only_administrators_search_and_another_organization_finds_its_own(people, login_as):
    assert login_as(people["manager_a"]).get("/org/training/new/learners", headers=HTMX).status_code == 403
    assert login_as(people["learner_a"]).get("/org/inspections/new/people", headers=HTMX).status_code == 403
    html = login_as(people["admin_b"]).get("/org/training/new/learners", headers=HTMX,
                                           query_string={"learner_q": "佐藤"}).get_data(as_text=True)
    assert _boxes(html)["others"] == [(people["other"].id, "S001 佐藤 別社")]


def test_a_manager_would_choose_among_their_departments_learners_only(people, app):
    with app.test_request_context(), tenant_scope(people["org_a"].id):
        manager = db.session.get(User, people["manager_a"].id)
        picker = learner_picker.search(manager, "", [people["saito"].id, people["sato"].id],
                                       roles=(Role.LEARNER, Role.MANAGER))
        assert [p.id for p in picker.chosen] == [people["sato"].id]
        assert {p.id for p in picker.matches} == {people["learner_a"].id}
        admin = db.session.get(User, people["admin_a"].id)
        everyone = learner_picker.search(admin, "", [], roles=(Role.LEARNER, Role.MANAGER))
        assert people["manager_a"].id in {p.id for p in everyone.matches}
        assert people["other"].id not in {p.id for p in everyone.matches}


def test_the_list_is_bounded_and_says_there_are_more(people, app, make_user):
    for i in range(learner_picker.SHOWN + 1):
        make_user(Role.LEARNER, people["org_a"], name=f"大量 {i:02d}", login_id=f"M{i:03d}")
    with app.test_request_context(), tenant_scope(people["org_a"].id):
        admin = db.session.get(User, people["admin_a"].id)
        picker = learner_picker.search(admin, "大量", [])
    assert len(picker.matches) == learner_picker.SHOWN and picker.more


# --- the forms: searching without JavaScript, then delivering to the chosen -----------------------------------


def _delivery_form(people, **fields) -> dict:
    now = utcnow().astimezone(TOKYO)
    data = {"course_id": people["course"], "title": "選んだ人へ", "target_kind": "learners",
            "starts_at": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"),
            "due_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"), "reminder_days": ["-3"],
            "window_start_hour": "0", "window_end_hour": "24", "recurrence": "none"}
    data.update(fields)
    return data


def test_without_javascript_the_search_button_shows_the_form_again_keeping_what_was_typed(people, login_as,
                                                                                         run_in_app):
    admin = login_as(people["admin_a"])
    token = csrf_token_from(admin.get("/org/training/new").get_data(as_text=True))
    response = admin.post("/org/training/new", data=_delivery_form(
        people, csrf_token=token, learner_q="斎藤", learner_ids=[str(people["sato"].id)], learner_search="1"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    assert soup.select_one('input[name="title"]')["value"] == "選んだ人へ"
    assert soup.select_one('input[name="learner_q"]')["value"] == "斎藤"
    assert soup.select_one('select[name="course_id"] option[selected]')["value"] == str(people["course"])
    boxes = _boxes(html)
    assert _ids(boxes["chosen"]) == {people["sato"].id} and _ids(boxes["others"]) == {people["saito"].id}
    assert run_in_app(lambda: db.session.scalar(select(Delivery.id))) is None, "a search saves nothing"

    # Both ticked, the form delivers to exactly them.
    response = admin.post("/org/training/new", data=_delivery_form(
        people, csrf_token=token, learner_q="斎藤", learner_ids=[str(people["sato"].id), str(people["saito"].id)]))
    assert response.status_code == 303

    def assigned():
        with unscoped("the test reads and writes rows directly"):
            return set(db.session.scalars(select(Assignment.learner_id)))

    assert run_in_app(assigned) == {people["sato"].id, people["saito"].id}


def test_a_refused_delivery_keeps_the_chosen_learners(people, login_as):
    admin = login_as(people["admin_a"])
    token = csrf_token_from(admin.get("/org/training/new").get_data(as_text=True))
    response = admin.post("/org/training/new", data=_delivery_form(
        people, csrf_token=token, due_at="2000-01-01T00:00", learner_ids=[str(people["suzuki"].id)]))
    assert response.status_code == 422
    assert _ids(_boxes(response.get_data(as_text=True))["chosen"]) == {people["suzuki"].id}


def test_the_round_form_picks_learners_and_managers(people, login_as):
    admin = login_as(people["admin_a"])
    html = admin.get("/org/inspections/new/people", headers=HTMX,
                     query_string={"learner_q": "課長", "learner_ids": [people["sato"].id]}).get_data(as_text=True)
    boxes = _boxes(html)
    assert boxes["chosen"] == [(people["sato"].id, "S001 佐藤 翔太")]
    assert boxes["others"] == [(people["manager_a"].id, "課長 A（管理者）")]

    page = admin.get("/org/inspections/new/people", query_string={"learner_q": "佐藤"})
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    assert soup.select_one("main form")["action"] == "/org/inspections/new"
    assert soup.select_one('input[name="learner_q"]')["hx-get"] == "/org/inspections/new/people"

    token = csrf_token_from(page.get_data(as_text=True))
    now = utcnow().astimezone(TOKYO)
    response = admin.post("/org/inspections/new", data={
        "csrf_token": token, "edition_id": people["edition"], "month": f"{now:%Y-%m}", "title": "手入力",
        "target_kind": "learners", "learner_ids": [str(people["suzuki"].id)], "learner_q": "鈴木",
        "learner_search": "1", "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
        "due_at": (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M"), "window_start_hour": "0",
        "window_end_hour": "24", "recurrence": "none"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _boxes(html)["chosen"] == [(people["suzuki"].id, "S003 鈴木 大輔")]
    assert BeautifulSoup(html, "html.parser").select_one('input[name="title"]')["value"] == "手入力"
