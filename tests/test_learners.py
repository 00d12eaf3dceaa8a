"""Learners and departments: the rules, managers' reach, tenant isolation, the list's queries."""

from __future__ import annotations

import re

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, func, insert, select

from portal import departments
from portal.blueprints.learners import services
from portal.extensions import db
from portal.models import AuditEvent, Department, OutboxMessage, User
from portal.tenancy import tenant_scope
from tests.learner_helpers import actions, assign_manager, learners, make_department, post_form

NEW = "/org/learners/new"


def new_learner(client, **fields):
    data = {"login_id": "", "name": "", "email": "", "department_id": "", "employment_type": "",
            "initial_password": ""}
    data.update(fields)
    return post_form(client, NEW, data)


# --- learners ---------------------------------------------------------------------------------


def test_create_a_pseudonymous_learner_with_an_initial_password(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    response = new_learner(admin, login_id="00077", initial_password="shoki-pass-1", employment_type="contract")
    assert response.status_code == 303
    learner = learners(run_in_app, world["org_a"])["00077"]
    assert learner.name == "" and learner.email is None
    assert learner.must_change_password and learner.employment_type == "contract"
    assert "learners.created" in actions(run_in_app)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"login_id": "A001"}, "この受講者IDはすでに使われています。"),
        ({"login_id": "N1", "email": "USER-B@EXAMPLE.COM"}, "このメールアドレスは登録できません。"),
        ({"login_id": "N 1"}, "受講者IDには半角英数字"),
        ({"login_id": ""}, "受講者IDを入力してください。"),
        ({"login_id": "N1", "email": "nope"}, "メールアドレスの形式が正しくありません。"),
        ({"login_id": "N1", "initial_password": "short"}, "初期パスワードは8文字以上"),
        ({"login_id": "N1", "employment_type": "boss"}, "雇用形態を一覧から選んでください。"),
        ({"login_id": "N1", "department_id": "999999"}, "この部署は選べません。"),
    ],
)
def test_bad_learner_input_is_refused_in_japanese(world, login_as, run_in_app, make_user, fields, message):
    make_user("learner", world["org_b"], email="user-b@example.com", login_id="ZZ")
    before = run_in_app(lambda: db.session.scalar(select(func.count(User.id))))
    response = new_learner(login_as(world["admin_a"]), **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count(User.id)))) == before


def test_the_same_learner_id_is_fine_in_another_organization(world, login_as, run_in_app):
    assert new_learner(login_as(world["admin_b"]), login_id="A001").status_code == 303
    assert "A001" in learners(run_in_app, world["org_b"])


def test_edit_deactivate_reactivate_and_delete(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    learner_client = login_as(world["learner_a"])
    lid = world["learner_a"].id
    data = {"login_id": "A001", "name": "新しい名前", "email": world["learner_a"].email, "department_id": "",
            "employment_type": "regular"}
    assert post_form(admin, f"/org/learners/{lid}/edit", data).status_code == 303
    found = learners(run_in_app, world["org_a"])["A001"]
    assert found.name == "新しい名前"

    assert post_form(admin, f"/org/learners/{lid}/deactivate", page=f"/org/learners/{lid}").status_code == 303
    assert not learners(run_in_app, world["org_a"])["A001"].is_active_flag
    assert learner_client.get("/me/").status_code == 302  # signed out at once
    assert post_form(admin, f"/org/learners/{lid}/reactivate", page=f"/org/learners/{lid}").status_code == 303
    assert learners(run_in_app, world["org_a"])["A001"].is_active_flag

    page = admin.get(f"/org/learners/{lid}/delete").get_data(as_text=True)
    assert "この操作は取り消せません" in page
    assert post_form(admin, f"/org/learners/{lid}/delete").status_code == 303
    assert "A001" not in learners(run_in_app, world["org_a"])
    assert {"learners.updated", "learners.deactivated", "learners.reactivated", "learners.deleted"} <= set(
        actions(run_in_app)
    )


def test_reset_password_and_end_sessions(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    learner_client = login_as(world["learner_a"])
    lid = world["learner_a"].id
    assert post_form(admin, f"/org/learners/{lid}/sessions/end", page=f"/org/learners/{lid}").status_code == 303
    assert learner_client.get("/me/").status_code == 302
    response = post_form(admin, f"/org/learners/{lid}/password", {"initial_password": "temporary-99"})
    assert response.status_code == 303
    assert learners(run_in_app, world["org_a"])["A001"].must_change_password
    assert {"learners.sessions_ended", "learners.password_reset"} <= set(actions(run_in_app))
    assert not any("temporary-99" in str(e.details) for e in run_in_app(lambda: list(
        db.session.scalars(select(AuditEvent)))))


def test_invitation_from_the_learner_page(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    lid = world["learner_a"].id
    assert post_form(admin, f"/org/learners/{lid}/invite", page=f"/org/learners/{lid}").status_code == 303
    message = run_in_app(lambda: db.session.scalar(select(OutboxMessage)))
    assert message.to_address == world["learner_a"].email and message.template == "invitation_learner"
    assert "http://portal.test/invitation/" in message.body_text
    assert "株式会社エー" in message.subject
    invited = run_in_app(lambda: db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.invited")))
    assert invited.details == {"invited_by": world["admin_a"].id} and invited.actor_id == world["admin_a"].id


def test_invitation_needs_an_email(world, make_user, login_as, run_in_app):
    learner = make_user("learner", world["org_a"], email=None, login_id="NOMAIL")
    admin = login_as(world["admin_a"])
    response = post_form(admin, f"/org/learners/{learner.id}/invite", page=f"/org/learners/{learner.id}")
    assert "メールアドレスが登録されていないため" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count(OutboxMessage.id)))) == 0


def test_list_search_and_filters(world, make_user, login_as, run_in_app):
    sales = make_department(run_in_app, world["org_a"], "営業部")
    first = make_department(run_in_app, world["org_a"], "第一課", sales, 2)
    make_user("learner", world["org_a"], login_id="S100", name="営業 花子", department_id=first,
              employment_type="part_time")
    make_user("learner", world["org_a"], login_id="X200", name="無効 次郎", is_active_flag=False)
    admin = login_as(world["admin_a"])
    page = admin.get("/org/learners/").get_data(as_text=True)
    assert "S100" in page and "A001" in page and "X200" not in page and "営業部/第一課" in page
    page = admin.get(f"/org/learners/?department={sales}").get_data(as_text=True)  # sub-departments included
    assert "S100" in page and "A001" not in page
    assert "X200" in admin.get("/org/learners/?status=inactive").get_data(as_text=True)
    assert "S100" not in admin.get("/org/learners/?q=A00").get_data(as_text=True)
    assert "S100" in admin.get("/org/learners/?q=花子").get_data(as_text=True)
    assert "S100" in admin.get("/org/learners/?employment_type=part_time").get_data(as_text=True)
    assert "B001" not in admin.get("/org/learners/?status=all").get_data(as_text=True)  # other organization
    fragment = admin.get("/org/learners/?q=S1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="results"') and "S100" in fragment


def _count_list_queries(app, client) -> int:
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    # Once before counting: the site-wide state (portal/site_state.py) is read once per process and kept.
    assert client.get("/org/learners/").status_code == 200
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/org/learners/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def _add_learners(run_in_app, org, n: int, start: int) -> None:
    def add():
        departments = [Department(organization_id=org.id, name=f"部{start + i}", depth=1) for i in range(3)]
        db.session.add_all(departments)
        db.session.flush()
        db.session.execute(
            insert(User),
            [
                {"organization_id": org.id, "role": "learner", "login_id": f"L{start + i:05d}",
                 "name": f"受講者{i}", "email": f"l{start + i}@example.com",
                 "department_id": departments[i % 3].id, "employment_type": "regular"}
                for i in range(n)
            ],
        )

    run_in_app(add)


def test_the_list_page_issues_the_same_queries_for_3_and_40_learners(app, world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    _add_learners(run_in_app, world["org_a"], 2, 0)  # with learner_a: 3 learners
    few = _count_list_queries(app, admin)
    _add_learners(run_in_app, world["org_a"], 37, 100)  # 40 learners
    many = _count_list_queries(app, admin)
    assert few == many
    assert 3 <= few <= 8  # user, departments, count, page (plus the session's own statements)


# --- departments ------------------------------------------------------------------------------


def test_departments_nest_three_levels_and_no_deeper(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    url = "/org/learners/departments"
    assert post_form(admin, url, {"name": "本社", "parent_id": ""}).status_code == 303
    top = run_in_app(lambda: db.session.scalar(select(Department.id).where(Department.name == "本社")))
    assert post_form(admin, url, {"name": "営業部", "parent_id": str(top)}).status_code == 303
    second = run_in_app(lambda: db.session.scalar(select(Department.id).where(Department.name == "営業部")))
    assert post_form(admin, url, {"name": "第一課", "parent_id": str(second)}).status_code == 303
    third = run_in_app(lambda: db.session.scalar(select(Department.id).where(Department.name == "第一課")))
    response = post_form(admin, url, {"name": "第一係", "parent_id": str(third)})
    assert response.status_code == 422 and "部署は3階層までです" in response.get_data(as_text=True)
    response = post_form(admin, url, {"name": "営業部", "parent_id": str(top)})
    assert "同じ階層に同じ名前の部署があります。" in response.get_data(as_text=True)
    response = post_form(admin, url, {"name": "営業/企画", "parent_id": ""})
    assert "「/」は使えません" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count(Department.id)))) == 3


def test_a_department_with_learners_or_children_is_not_deleted(world, make_user, login_as, run_in_app):
    sales = make_department(run_in_app, world["org_a"], "営業部")
    child = make_department(run_in_app, world["org_a"], "第一課", sales, 2)
    learner = make_user("learner", world["org_a"], login_id="S1", department_id=child)
    admin = login_as(world["admin_a"])
    url = "/org/learners/departments"
    response = post_form(admin, f"{url}/{child}/delete", page=url)
    assert "受講者が1人所属しているため削除できません" in admin.get(response.headers["Location"]).get_data(as_text=True)
    response = post_form(admin, f"{url}/{sales}/delete", page=url)
    assert "下位の部署があるため削除できません" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count(Department.id)))) == 2
    run_in_app(lambda: setattr(db.session.get(User, learner.id), "department_id", None))
    post_form(admin, f"{url}/{child}/delete", page=url)
    post_form(admin, f"{url}/{sales}/delete", page=url)
    assert run_in_app(lambda: db.session.scalar(select(func.count(Department.id)))) == 0


def test_another_organizations_department_is_404(world, login_as, run_in_app):
    sales = make_department(run_in_app, world["org_a"], "営業部")
    other = login_as(world["admin_b"])
    assert other.get(f"/org/learners/departments/{sales}").status_code == 404
    assert post_form(other, f"/org/learners/departments/{sales}/delete",
                     page="/org/learners/departments").status_code == 404
    assert run_in_app(lambda: db.session.scalar(select(func.count(Department.id)))) == 1


def test_assigning_managers_to_a_department(world, login_as, run_in_app):
    sales = make_department(run_in_app, world["org_a"], "営業部")
    admin = login_as(world["admin_a"])
    url = f"/org/learners/departments/{sales}"
    assert world["manager_a"].name in admin.get(url).get_data(as_text=True)
    assert post_form(admin, url, {"name": "営業本部", "managers": str(world["manager_a"].id)}).status_code == 303
    with_scope = run_in_app(lambda: departments.managed_department_ids(db.session.get(User, world["manager_a"].id)))
    assert with_scope == {sales}
    assert {"departments.renamed", "departments.managers_set"} <= set(actions(run_in_app))


# --- managers ---------------------------------------------------------------------------------


@pytest.fixture
def managed(world, make_user, run_in_app):
    """manager_a looks after 営業部 (and its 第一課); 総務部 is outside."""
    sales = make_department(run_in_app, world["org_a"], "営業部")
    first = make_department(run_in_app, world["org_a"], "第一課", sales, 2)
    general = make_department(run_in_app, world["org_a"], "総務部")
    assign_manager(run_in_app, world["manager_a"], sales)
    return {
        "sales": sales,
        "first": first,
        "general": general,
        "inside": make_user("learner", world["org_a"], login_id="IN1", department_id=first),
        "outside": make_user("learner", world["org_a"], login_id="OUT1", department_id=general),
    }


def test_scope_learners_narrows_a_managers_query(world, managed, app):
    with app.app_context(), tenant_scope(world["org_a"].id):
        manager = db.session.get(User, world["manager_a"].id)
        admin = db.session.get(User, world["admin_a"].id)
        learner = db.session.get(User, world["learner_a"].id)

        def ids(user):
            return set(db.session.scalars(departments.scope_learners(select(User.login_id), user)))

        assert ids(manager) == {"IN1"}
        assert ids(admin) == {"IN1", "OUT1", "A001"}
        assert ids(learner) == set()
        db.session.execute(db.delete(services.ManagerDepartment))
        assert ids(manager) == set()  # a manager without departments sees nobody


def test_a_manager_sees_and_acts_on_their_departments_only(world, managed, login_as, run_in_app):
    manager = login_as(world["manager_a"])
    page = manager.get("/org/learners/").get_data(as_text=True)
    assert "IN1" in page and "OUT1" not in page and "A001" not in page
    inside, outside = managed["inside"].id, managed["outside"].id
    assert manager.get(f"/org/learners/{inside}").status_code == 200
    assert manager.get(f"/org/learners/{outside}").status_code == 404
    assert manager.get(f"/org/learners/{outside}/edit").status_code == 404
    assert post_form(manager, f"/org/learners/{outside}/deactivate", page="/org/learners/").status_code == 404
    assert learners(run_in_app, world["org_a"])["OUT1"].is_active_flag
    export = manager.get("/org/learners/export.csv").get_data(as_text=True)
    assert "IN1" in export and "OUT1" not in export


def test_a_manager_cannot_move_a_learner_or_create_one_outside(world, managed, login_as, run_in_app):
    manager = login_as(world["manager_a"])
    inside = managed["inside"].id
    data = {"login_id": "IN1", "name": "", "email": "", "department_id": str(managed["general"]),
            "employment_type": ""}
    response = post_form(manager, f"/org/learners/{inside}/edit", data)
    assert response.status_code == 422 and "この部署は選べません。" in response.get_data(as_text=True)
    response = new_learner(manager, login_id="NEW1", department_id=str(managed["general"]))
    assert response.status_code == 422
    response = new_learner(manager, login_id="NEW2")
    assert response.status_code == 422 and "担当する部署を選んでください。" in response.get_data(as_text=True)
    assert new_learner(manager, login_id="NEW3", department_id=str(managed["first"])).status_code == 303
    found = learners(run_in_app, world["org_a"])
    assert found["IN1"].department_id == managed["first"] and "NEW1" not in found and "NEW3" in found


def test_a_manager_cannot_delete_or_import(world, managed, login_as):
    manager = login_as(world["manager_a"])
    assert manager.get(f"/org/learners/{managed['inside'].id}/delete").status_code == 403
    assert manager.get("/org/learners/import").status_code == 403
    assert manager.get("/org/learners/departments").status_code == 403


def test_another_organizations_learner_answers_like_an_unknown_address(world, login_as):
    """The lookup refuses with rules.NotFound; the request answers as for an address that does not exist
    (404, the same message, as a page and as an htmx fragment), so that it never says the learner exists."""
    admin = login_as(world["admin_a"])

    def shown(response):
        soup = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        found = soup.select_one("article.error-page") or soup.select_one("p.flash-error")
        return re.sub(r"[0-9a-f]{12}", "REF", found.get_text(" ", strip=True))

    for headers in ({}, {"HX-Request": "true"}):
        refused = admin.get(f"/org/learners/{world['learner_b'].id}", headers=headers)
        unknown = admin.get("/org/learners/no-such-page", headers=headers)
        assert refused.status_code == unknown.status_code == 404
        assert shown(refused) == shown(unknown)
        assert "ページが見つかりません" in shown(refused)


def test_seat_effect_is_the_single_seam_for_seats(app, world):
    from portal.tenancy import tenant_scope

    with app.app_context():
        with tenant_scope(world["org_b"].id):
            assert services.seat_effect(world["org_b"].id, 500) is None  # no contract, nothing to tell
        with tenant_scope(world["org_a"].id):
            assert services.seat_effect(world["org_a"].id, 10) is None  # within the limit of 100
            effect = services.seat_effect(world["org_a"].id, 100)
            assert effect.allowed and "1名超えます" in effect.message


def test_the_list_pages_through_many_learners(world, login_as, run_in_app):
    _add_learners(run_in_app, world["org_a"], 120, 0)
    admin = login_as(world["admin_a"])
    first = admin.get("/org/learners/").get_data(as_text=True)
    assert "121 人" in first and "1 / 3 ページ" in first and 'rel="next"' in first
    second = admin.get("/org/learners/?page=2").get_data(as_text=True)
    assert "2 / 3 ページ" in second and 'rel="prev"' in second and "L00049" in second


# --- 受講者ID whatever their case (#19) ----------------------------------------------------------


def test_an_id_in_another_case_is_the_same_learner_for_the_form(world, make_user, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    for login_id in ("a001", "A001", "ａ００１"):  # learner_a holds A001
        response = new_learner(admin, login_id=login_id)
        assert response.status_code == 422, login_id
        assert "この受講者IDはすでに使われています。" in response.get_data(as_text=True)
    other = make_user("learner", world["org_a"], login_id="Learner02", email=None)
    data = {"name": "", "email": "", "department_id": "", "employment_type": ""}
    taken = post_form(admin, f"/org/learners/{other.id}/edit", {**data, "login_id": "a001"})
    assert taken.status_code == 422 and "この受講者IDはすでに使われています。" in taken.get_data(as_text=True)
    # A learner may have their own ID written in another case; a full-width ID is read as half-width.
    assert post_form(admin, f"/org/learners/{other.id}/edit", {**data, "login_id": "LEARNER02"}).status_code == 303
    assert new_learner(admin, login_id="ｎ００１").status_code == 303
    found = learners(run_in_app, world["org_a"])
    assert found["LEARNER02"].id == other.id and "n001" in found
    assert new_learner(login_as(world["admin_b"]), login_id="a001").status_code == 303  # another organization


def test_the_database_refuses_an_id_in_another_case(app, world):
    """The unique index on (organization, lower(login_id)), on SQLite and PostgreSQL alike: a migration that
    rebuilds the users table in batch mode on SQLite and forgets to create it again fails here."""
    from sqlalchemy.exc import IntegrityError

    from portal.tenancy import unscoped

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        db.session.add(User(role="learner", organization_id=world["org_a"].id, login_id="a001", name=""))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        db.session.add(User(role="learner", organization_id=world["org_b"].id, login_id="a001", name=""))
        db.session.flush()  # another organization's IDs are its own
        db.session.rollback()


def test_the_list_search_finds_an_id_in_any_case(world, make_user, login_as):
    make_user("learner", world["org_a"], login_id="Tokyo-07", name="東京 七子", email=None)
    make_user("learner", world["org_a"], login_id="aa10", name="", email=None)
    make_user("learner", world["org_a"], login_id="AB20", name="", email=None)
    admin = login_as(world["admin_a"])
    assert "Tokyo-07" in admin.get("/org/learners/?q=TOKYO").get_data(as_text=True)
    page = admin.get("/org/learners/").get_data(as_text=True)
    assert page.index("A001") < page.index("aa10") < page.index("AB20") < page.index("Tokyo-07")  # case ignored


@pytest.fixture
def scratch_database(tmp_path):
    """The configuration of a database of its own for migration tests: a SQLite file, or a schema of its
    own on PostgreSQL."""
    import os

    from sqlalchemy import create_engine, text

    url = os.environ.get("PORTAL_TEST_DATABASE_URL") if os.environ.get("PORTAL_TEST_BACKEND") == "postgres" else None
    if url is None:
        yield {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'migrations.sqlite3'}"}
        return
    schema = "migration_learnerids"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield {"SQLALCHEMY_DATABASE_URI": url,
               "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-c search_path={schema}"}}}
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def test_migration_0018_stops_on_ids_that_differ_only_in_case_then_adds_the_index(scratch_database, capfd):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from portal import create_app
    from portal.config import TestConfig

    scratch = create_app(TestConfig, **scratch_database)
    with scratch.app_context():
        upgrade(revision="0017_link_sessions")
        columns = "organization_id, role, login_id, name, session_token, active, must_change_password, failed_logins"
        insert_user = text(f"INSERT INTO users ({columns}, created_at) VALUES (:org, 'learner', :login_id, '', "  # noqa: S608
                           ":token, :yes, :no, 0, '2026-12-01 00:00:00')")

        def user(org_id, login_id):
            return {"org": org_id, "login_id": login_id, "token": f"{org_id}-{login_id}", "yes": True, "no": False}

        with db.engine.begin() as conn:
            for org_id, code in ((1, "case-org"), (2, "other-org")):
                conn.execute(text("INSERT INTO organizations (id, name, code, status, created_at) VALUES "
                                  "(:id, :code, :code, 'active', '2026-12-01 00:00:00')"), {"id": org_id, "code": code})
            for org_id, login_id in ((1, "learner01"), (1, "LEARNER01"), (1, "B2"), (2, "learner01")):
                conn.execute(insert_user, user(org_id, login_id))

        with pytest.raises(SystemExit):  # flask db upgrade reports the error and exits with 1
            upgrade(revision="0018_learnerids")
        report = capfd.readouterr().err  # Alembic's logging configuration writes to stderr
        assert "/o/case-org" in report and "'learner01'" in report and "'LEARNER01'" in report
        assert "other-org" not in report and "Nothing was changed" in report
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0017_link_sessions"

        with db.engine.begin() as conn:  # what the administrator does: rename one of the pair
            conn.execute(text("UPDATE users SET login_id = 'learner01-2' WHERE login_id = 'LEARNER01'"))
        upgrade(revision="0018_learnerids")
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert_user, user(1, "b2"))

        downgrade(revision="0017_link_sessions")  # back to the constraint on the ID as typed
        with db.engine.begin() as conn:
            conn.execute(insert_user, user(1, "b2"))
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert_user, user(1, "B2"))
        db.engine.dispose()
