"""セキュレジ results and follow-up (#7 parts 5-6): figures on a hand-computed example, manager narrowing,
tenant isolation, exports, the failing-item rule, corrective actions, and constant query counts."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, select

from portal.blueprints.inspections.results import services
from portal.blueprints.inspections.results.charts import trend_chart
from portal.clock import shift_month, today_in_tokyo
from portal.departments import DepartmentTree
from portal.extensions import db
from portal.models import (
    ActionStatus,
    AuditEvent,
    CorrectiveAction,
    Delivery,
    InspectionAnswer,
    InspectionResponse,
    ManagerDepartment,
    Role,
    User,
)
from portal.tenancy import tenant_scope, unscoped
from tests.conftest import audit_events, csrf_token_from
from tests.inspection_results_helpers import (
    build_organization,
    department_tree,
    launch,
    make_edition,
    make_items,
    make_round,
    save,
    submit,
)

SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)
OWNER_MESSAGE = "担当者は、この組織の管理者またはマネージャーから選んでください。"


@pytest.fixture
def example(world, make_user, run_in_app):
    """Organization A: 営業部 > 第一課 > 一係, 営業部 > 第二課, 総務部; three items; rounds in Sep, Oct, Nov.

    November (the month the figures below are for)::

        u1 一係    i1 はい   i2 いいえ  i3 はい
        u2 第二課  i1 はい   i2 該当なし i3 いいえ
        u3 総務部  i1 いいえ i2 はい   i3 はい
        u4 第一課  (未回答)
        u5 総務部  (回答中: i1 いいえ, not counted)

    i2 was below 80 % in Sep (0 %), Oct (50 %) and Nov (50 %): it fails month after month.
    """
    org = world["org_a"]

    def make():
        deps = department_tree(org.id)
        people = {}
        for key, dep in (("u1", "unit"), ("u2", "second"), ("u3", "general"), ("u4", "first"), ("u5", "general")):
            user = User(role=Role.LEARNER, organization_id=org.id, name=f"受講者{key}", login_id=key.upper(),
                        email=f"{key}@a.example", department_id=deps[dep].id)
            db.session.add(user)
            people[key] = user
        db.session.flush()
        i1, i2, i3 = make_items(org.id, [("入退管理", "入館証を身につけている。"),
                                         ("入退管理", "最後に退室する人が施錠している。"),
                                         ("PCの利用", "離席時に画面をロックしている。")])
        edition = make_edition(org.id, [i1, i2, i3], title="自社点検")
        ids = [i1.id, i2.id, i3.id]
        sep = make_round(org.id, edition.id, SEP, ids, title="9月の点検")
        r = launch(sep, [people["u1"], people["u2"]])
        submit(r[people["u1"].id], {i1.id: "yes", i2.id: "no", i3.id: "yes"})
        submit(r[people["u2"].id], {i1.id: "yes", i2.id: "no", i3.id: "yes"})
        octo = make_round(org.id, edition.id, OCT, ids, title="10月の点検")
        r = launch(octo, [people["u1"], people["u2"]])
        submit(r[people["u1"].id], {i1.id: "yes", i2.id: "no", i3.id: "yes"})
        submit(r[people["u2"].id], {i1.id: "yes", i2.id: "yes", i3.id: "na"})
        nov = make_round(org.id, edition.id, NOV, ids, title="11月の点検", status="open")
        r = launch(nov, [people[k] for k in ("u1", "u2", "u3", "u4", "u5")])
        no_u1 = submit(r[people["u1"].id], {i1.id: "yes", i2.id: ("no", "鍵を持っていませんでした。"), i3.id: "yes"})[1]
        yes_u2 = submit(r[people["u2"].id], {i1.id: "yes", i2.id: "na", i3.id: ("no", "画面ロックを忘れました。")})[0]
        no_u3 = submit(r[people["u3"].id], {i1.id: ("no", "入館証を忘れました。"), i2.id: "yes", i3.id: "yes"})[0]
        draft = save(r[people["u5"].id], {i1.id: ("no", "下書き")})[0]
        db.session.add(ManagerDepartment(organization_id=org.id, user_id=world["manager_a"].id,
                                         department_id=deps["first"].id))
        return {"deps": {k: d.id for k, d in deps.items()}, "people": {k: u.id for k, u in people.items()},
                "items": ids, "edition": edition.id, "rounds": [sep.id, octo.id, nov.id], "no_u1": no_u1.id,
                "yes_u2": yes_u2.id, "no_u3": no_u3.id, "draft": draft.id}

    return run_in_app(make)


def _results(app, org_id, example, user_id):
    with app.app_context(), tenant_scope(org_id):
        user = db.session.get(User, user_id)
        tree = DepartmentTree.load()
        from portal.models import InspectionEdition

        edition = db.session.get(InspectionEdition, example["edition"])
        return services.results(edition, NOV, services.visible_departments(user, tree), tree)


def _figures(f):
    return (f.yes, f.no, f.na)


# --- figures -------------------------------------------------------------------------------------------


def test_figures_match_the_hand_computed_example(app, world, example):
    data = _results(app, world["org_a"].id, example, world["admin_a"].id)
    i1, i2, i3 = example["items"]
    items = {row.item.id: row for row in data.items}
    assert _figures(items[i1].figures) == (2, 1, 0)
    assert _figures(items[i2].figures) == (1, 1, 1)  # 該当なし left out: 50 %
    assert items[i2].figures.rate == 0.5
    assert _figures(items[i3].figures) == (2, 1, 0)
    assert {c: _figures(f) for c, f in data.categories} == {"入退管理": (3, 2, 1), "PCの利用": (2, 1, 0)}
    assert _figures(data.total) == (5, 3, 1)  # u5's saved answer is not counted
    departments = {row.name: (row.depth, _figures(row.figures)) for row in data.departments}
    assert departments == {
        "営業部": (1, (3, 2, 1)), "第一課": (2, (2, 1, 0)), "一係": (3, (2, 1, 0)), "第二課": (2, (1, 1, 1)),
        "総務部": (1, (2, 1, 0)),
    }
    trend = {p.month: p for p in data.trend}
    assert len(data.trend) == 12 and data.trend[-1].month == NOV
    assert _figures(trend[SEP].figures) == (4, 2, 0)
    assert _figures(trend[OCT].figures) == (4, 1, 1) and trend[OCT].figures.rate == 0.8
    assert trend[date(2026, 8, 1)].figures.rate is None and not trend[date(2026, 8, 1)].asked
    # i2: 0 %, 50 %, 50 % -> three months in a row below 80 %; i1 was 100 % in October.
    assert items[i2].streak == 3 and items[i2].failing
    assert items[i1].streak == 1 and not items[i1].failing
    assert [row.item.id for row in data.failing] == [i2]
    assert data.rounds[0][1] == {"total": 5, "submitted": 3, "in_progress": 1, "not_started": 1}


def test_the_rate_is_undefined_without_yes_or_no():
    figures = services.Figures().add(0, 0, 4)
    assert figures.rate is None and figures.percent == "—"
    assert services.Figures().add(1, 2, 9).percent == "33%"


def test_a_gap_month_breaks_the_failing_run(app, world, run_in_app):
    org = world["org_a"]

    def make():
        (item,) = make_items(org.id, [("廃棄", "書類はシュレッダーで捨てている。")])
        edition = make_edition(org.id, [item])
        for month in (date(2026, 7, 1), date(2026, 8, 1), date(2026, 10, 1), date(2026, 11, 1)):
            r = make_round(org.id, edition.id, month, [item.id])
            response = launch(r, [(world["learner_a"].id, None)])[world["learner_a"].id]
            submit(response, {item.id: "no"})
        return edition.id, item.id

    edition_id, item_id = run_in_app(make)
    with app.app_context(), tenant_scope(org.id):
        from portal.models import InspectionEdition

        data = services.results(db.session.get(InspectionEdition, edition_id), NOV, None, DepartmentTree.load())
    assert data.items[0].streak == 2 and not data.items[0].failing  # September had no round


def test_the_page_shows_the_figures_the_svg_and_the_table(world, example, login_as):
    admin = login_as(world["admin_a"])
    response = admin.get(f"/org/inspections/results/?edition={example['edition']}&month=2026-11")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    soup = BeautifulSoup(html, "html.parser")
    svg = soup.find("svg", class_="trend-chart")
    assert svg is not None and svg["role"] == "img" and svg.find("title")
    assert "style" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # the CSP forbids style attributes
    values = [t.get_text() for t in svg.find_all("text", class_="value")]
    assert values[-3:] == ["67", "80", "62"] and values[0] == "—"
    assert "2026年11月" in html and "11月の点検" in html
    failing = soup.find("tr", class_="failing")
    assert "最後に退室する人が施錠している。" in failing.get_text() and "3か月連続" in failing.get_text()
    assert soup.find("tr", class_="depth-3").find("td").get_text() == "一係"
    assert "62%" in html  # the whole month: 5 / (5 + 3)


def test_the_chart_fits_a_phone_and_labels_every_month():
    points = [services.MonthPoint(shift_month(NOV, k), services.Figures().add(9 - k % 3, 1 + k % 3, 0),
                                  True) for k in range(-11, 1)]
    chart = trend_chart(points)
    assert chart.width == 360 and len(chart.bars) == 12
    assert all(chart.left <= bar.bar_x and bar.bar_x + bar.width <= chart.right for bar in chart.bars)
    assert chart.bars[0].year_label == "2025年" and chart.bars[1].year_label == "2026年"
    assert chart.bars[2].year_label == ""
    assert [bar.month_label for bar in chart.bars][:3] == ["12", "1", "2"]


# --- manager narrowing and tenants ---------------------------------------------------------------------


def test_a_manager_sees_only_their_departments(app, world, example, login_as, run_in_app):
    data = _results(app, world["org_a"].id, example, world["manager_a"].id)
    assert _figures(data.total) == (2, 1, 0)
    assert [row.name for row in data.departments] == ["第一課", "一係"]
    assert data.rounds[0][1] == {"total": 2, "submitted": 1, "not_started": 1}
    manager = login_as(world["manager_a"])
    nov = example["rounds"][2]
    pending = manager.get(f"/org/inspections/results/rounds/{nov}").get_data(as_text=True)
    assert "受講者u4" in pending and "受講者u5" not in pending
    no = manager.get(f"/org/inspections/results/rounds/{nov}/no").get_data(as_text=True)
    assert "鍵を持っていませんでした。" in no and "入館証を忘れました。" not in no
    assert "是正処置を登録" not in no  # managers do not open actions
    rows = _csv(manager.get(f"/org/inspections/results/rounds/{nov}/answers.csv"))
    assert {r[3] for r in rows[1:]} == {"受講者u1"}
    assert audit_events(run_in_app, "inspection.answers_exported") == [
        {"target_id": str(nov), "actor_id": world["manager_a"].id, "format": "csv"}]


def test_another_organization_sees_nothing_of_it(world, example, login_as):
    other = login_as(world["admin_b"])
    nov = example["rounds"][2]
    assert other.get(f"/org/inspections/results/rounds/{nov}").status_code == 404
    assert other.get(f"/org/inspections/results/rounds/{nov}/no").status_code == 404
    assert other.get(f"/org/inspections/results/rounds/{nov}/answers.csv").status_code == 404
    assert other.get(f"/org/inspections/actions/new/{example['no_u1']}").status_code == 404
    page = other.get(f"/org/inspections/results/?edition={example['edition']}").get_data(as_text=True)
    assert "自社点検" not in page and "まだ点検の実施結果がありません" in page
    assert other.get(f"/org/inspections/results/figures.csv?edition={example['edition']}").status_code == 404


# --- lists and exports ---------------------------------------------------------------------------------


def _csv(response, delimiter=","):
    assert response.status_code == 200
    text = response.get_data().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def test_who_has_not_answered_and_the_no_answers(world, example, login_as):
    admin = login_as(world["admin_a"])
    nov = example["rounds"][2]
    soup = BeautifulSoup(admin.get(f"/org/inspections/results/rounds/{nov}").get_data(as_text=True), "html.parser")
    pending = soup.find("section", id="pending").get_text()
    assert "受講者u4" in pending and "受講者u5" in pending and "回答中" in pending and "受講者u1" not in pending
    html = admin.get(f"/org/inspections/results/rounds/{nov}/no").get_data(as_text=True)
    for comment in ("鍵を持っていませんでした。", "画面ロックを忘れました。", "入館証を忘れました。"):
        assert comment in html
    assert "下書き" not in html  # a saved, unsubmitted answer is not a result yet
    assert html.count("是正処置を登録") == 3


def _answerers(html: str) -> dict[str, object]:
    soup = BeautifulSoup(html, "html.parser")
    return {td.get_text(" ", strip=True).split(" (")[0]: td for td in soup.select("td[data-label='回答した人']")}


def test_a_respondents_name_opens_their_record_where_the_viewer_may(world, example, login_as, run_in_app):
    """The いいえ list links each learner's name to their record; a manager's only for the learners they look
    after now (u1 moved to 総務部 after answering stays on the manager's list, by the sheet's 一係, unlinked)."""
    nov, people = example["rounds"][2], example["people"]
    url = f"/org/inspections/results/rounds/{nov}/no"
    admin = login_as(world["admin_a"])
    names = _answerers(admin.get(url).get_data(as_text=True))
    assert {name: cell.a["href"] for name, cell in names.items()} == {
        f"受講者{k}": f"/org/learners/{people[k]}/record" for k in ("u1", "u2", "u3")}
    manager = login_as(world["manager_a"])
    names = _answerers(manager.get(url).get_data(as_text=True))
    assert names["受講者u1"].a["href"] == f"/org/learners/{people['u1']}/record"
    assert manager.get(names["受講者u1"].a["href"]).status_code == 200

    def move():
        with tenant_scope(world["org_a"].id):
            db.session.get(User, people["u1"]).department_id = example["deps"]["general"]

    run_in_app(move)
    names = _answerers(manager.get(url).get_data(as_text=True))
    assert list(names) == ["受講者u1"] and names["受講者u1"].a is None
    assert manager.get(f"/org/learners/{people['u1']}/record").status_code == 404


def test_the_names_of_who_has_not_submitted_open_their_records_where_the_viewer_may(world, example, login_as):
    """The round page's まだ提出していない人 (where the start page's 未提出 figure leads): u4 (第一課) and u5
    (総務部) for the administrator, both linked; u4 only for the manager, linked."""
    nov, people = example["rounds"][2], example["people"]

    def names(client) -> dict[str, str | None]:
        html = client.get(f"/org/inspections/results/rounds/{nov}").get_data(as_text=True)
        cells = BeautifulSoup(html, "html.parser").select("section#pending td[data-label='氏名']")
        return {td.get_text(strip=True): td.a["href"] if td.a else None for td in cells}

    record = "/org/learners/{}/record".format
    assert names(login_as(world["admin_a"])) == {"受講者u4": record(people["u4"]), "受講者u5": record(people["u5"])}
    manager = login_as(world["manager_a"])
    assert names(manager) == {"受講者u4": record(people["u4"])}
    assert manager.get(record(people["u4"])).status_code == 200


def test_exports_of_figures_and_answers(world, example, login_as):
    admin = login_as(world["admin_a"])
    rows = _csv(admin.get(f"/org/inspections/results/figures.csv?edition={example['edition']}&month=2026-11"))
    assert rows[0] == services.FIGURES_HEADER
    whole = [r for r in rows if r[0] == "2026-11" and r[2] == "（全体）" and r[4] == "最後に退室する人が施錠している。"]
    item = ["入退管理", "最後に退室する人が施錠している。"]
    assert whole == [["2026-11", "自社点検", "（全体）", *item, "1", "1", "1", "50.0"]]
    assert ["2026-11", "自社点検", "営業部/第一課/一係", *item, "0", "1", "0", "0.0"] in rows
    assert {r[0] for r in rows[1:]} == {"2026-09", "2026-10", "2026-11"}
    tsv = _csv(admin.get(f"/org/inspections/results/figures.tsv?edition={example['edition']}&month=2026-11"), "\t")
    assert tsv == rows
    answers = _csv(admin.get(f"/org/inspections/results/rounds/{example['rounds'][2]}/answers.tsv"), "\t")
    assert answers[0] == services.ANSWERS_HEADER
    assert len(answers) == 1 + 9  # three submitted responses × three items
    assert answers_row(answers, "U3", "入館証を身につけている。")[:9] == [
        "11月の点検", "2026-11", "U3", "受講者u3", "総務部", "入退管理", "入館証を身につけている。", "いいえ",
        "入館証を忘れました。"]


def answers_row(rows, login_id, text):
    return next(r for r in rows if r[2] == login_id and r[6] == text)


# --- follow-up -----------------------------------------------------------------------------------------


def _post(client, url, data):
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def _action_data(world, **overrides):
    today = today_in_tokyo()
    return {"title": "", "owner_id": str(world["admin_a"].id), "due_on": (today + timedelta(days=7)).isoformat(),
            "status": "open", "notes": "鍵の保管場所を決める。", "course_id": "", **overrides}


def test_an_admin_opens_a_corrective_action_from_a_no_answer(world, example, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    response = _post(admin, f"/org/inspections/actions/new/{example['no_u1']}",
                     _action_data(world, owner_id=str(world["manager_a"].id)))
    assert response.status_code == 303

    def read():
        action = db.session.scalar(select(CorrectiveAction))
        events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "CorrectiveAction"))
        return action, list(events)

    action, events = run_in_app(read)
    assert action.answer_id == example["no_u1"] and action.department_id == example["deps"]["unit"]
    assert action.title == "最後に退室する人が施錠している。" and action.owner_id == world["manager_a"].id
    assert action.status == ActionStatus.OPEN and events == ["inspection_action.created"]
    listing = admin.get("/org/inspections/actions/").get_data(as_text=True)
    assert "最後に退室する人が施錠している。" in listing and "overdue-row" not in listing
    # A second attempt for the same answer goes to the existing action.
    again = admin.get(f"/org/inspections/actions/new/{example['no_u1']}")
    assert again.status_code == 303 and again.headers["Location"].endswith(f"/org/inspections/actions/{action.id}")
    # The いいえ list links to it.
    no = admin.get(f"/org/inspections/results/rounds/{example['rounds'][2]}/no").get_data(as_text=True)
    assert no.count("是正処置を登録") == 2 and "未着手" in no
    # Edit: status to 完了 is audited and closes it.
    edit = _post(admin, f"/org/inspections/actions/{action.id}",
                 _action_data(world, owner_id=str(world["manager_a"].id), status="done", notes="保管庫を設置した。"))
    assert edit.status_code == 303
    done = run_in_app(lambda: db.session.get(CorrectiveAction, action.id))
    assert done.status == "done" and done.closed_at is not None and done.notes == "保管庫を設置した。"
    assert "最後に退室する人が施錠している。" not in admin.get("/org/inspections/actions/").get_data(as_text=True)
    done_list = admin.get("/org/inspections/actions/?status=done").get_data(as_text=True)
    assert "最後に退室する人が施錠している。" in done_list


@pytest.mark.parametrize(
    ("answer", "overrides", "message"),
    [
        ("yes_u2", {}, "是正処置は「いいえ」の回答にだけ登録できます。"),
        ("draft", {}, "提出前の回答には是正処置を登録できません。"),
        ("no_u1", {"due_on": "2020-01-01"}, "期限には今日"),
        ("no_u1", {"due_on": "2026-02-30"}, "日付は 2026-04-30 のように入力してください。"),
        ("no_u1", {"owner_id": "learner_a"}, OWNER_MESSAGE),
        ("no_u1", {"owner_id": "admin_b"}, OWNER_MESSAGE),
        ("no_u1", {"owner_id": "99999999999999999999"}, OWNER_MESSAGE),
        ("no_u1", {"status": "finished"}, "状況は 未着手・対応中・完了 から選んでください。"),
    ],
)
def test_bad_action_input_is_refused_with_the_input_kept(world, example, login_as, run_in_app, answer, overrides,
                                                          message):
    admin = login_as(world["admin_a"])
    if overrides.get("owner_id") in world:
        overrides["owner_id"] = str(world[overrides["owner_id"]].id)
    response = _post(admin, f"/org/inspections/actions/new/{example[answer]}", _action_data(world, **overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert "鍵の保管場所を決める。" in html  # the notes typed are still there
    assert run_in_app(lambda: db.session.scalar(select(CorrectiveAction.id))) is None


def test_training_is_assigned_to_the_person_who_answered_no(world, example, login_as, run_in_app):
    from tests.training_helpers import add_course

    course_id = run_in_app(lambda: add_course(organization_id=world["org_a"].id, questions=3, title="入退室の基本").id)
    admin = login_as(world["admin_a"])
    response = _post(admin, f"/org/inspections/actions/new/{example['no_u1']}",
                     _action_data(world, course_id=str(course_id)))
    assert response.status_code == 303

    def read():
        action = db.session.scalar(select(CorrectiveAction))
        delivery = db.session.get(Delivery, action.delivery_id)
        return delivery.target_learner_ids, delivery.course_id

    assert run_in_app(read) == ([example["people"]["u1"]], course_id)
    # A course without questions cannot be delivered: the form says so and nothing is written.
    empty = run_in_app(lambda: add_course(organization_id=world["org_a"].id, questions=0, title="空の講座").id)
    refused = _post(admin, f"/org/inspections/actions/new/{example['no_u3']}",
                    _action_data(world, course_id=str(empty)))
    assert refused.status_code == 422 and "この講座にはまだ問題がありません" in refused.get_data(as_text=True)
    assert run_in_app(lambda: len(db.session.scalars(select(CorrectiveAction)).all())) == 1


def _open(run_in_app, world, answer_id, *, owner, due_on=None, status=ActionStatus.OPEN):
    def make():
        with tenant_scope(world["org_a"].id):
            answer = db.session.get(InspectionAnswer, answer_id)
            admin = db.session.get(User, world["admin_a"].id)
            action = services.open_action(answer, services.ActionInput(
                owner_id=owner, due_on=due_on or today_in_tokyo() + timedelta(days=3), status=status),
                by=admin)
            return action.id

    return run_in_app(make)


def test_overdue_actions_are_flagged_and_filters_work(world, example, login_as, run_in_app):
    first = _open(run_in_app, world, example["no_u1"], owner=world["admin_a"].id)
    second = _open(run_in_app, world, example["no_u3"], owner=world["manager_a"].id, status="in_progress")

    def backdate():
        with unscoped("the test reads and writes rows directly"):
            db.session.get(CorrectiveAction, first).due_on = today_in_tokyo() - timedelta(days=1)

    run_in_app(backdate)
    admin = login_as(world["admin_a"])
    soup = BeautifulSoup(admin.get("/org/inspections/actions/").get_data(as_text=True), "html.parser")
    rows = soup.select("tbody tr")
    assert len(rows) == 2 and "overdue-row" in rows[0]["class"] and "期限切れ" in rows[0].get_text()
    assert "overdue-row" not in (rows[1].get("class") or [])
    only_overdue = admin.get("/org/inspections/actions/?overdue=1").get_data(as_text=True)
    assert only_overdue.count("overdue-row") == 1
    by_owner = admin.get(f"/org/inspections/actions/?owner={world['manager_a'].id}").get_data(as_text=True)
    assert "入館証を身につけている。" in by_owner and "最後に退室する人が施錠している。" not in by_owner
    by_status = admin.get("/org/inspections/actions/?status=in_progress").get_data(as_text=True)
    assert "入館証を身につけている。" in by_status and "最後に退室する人が施錠している。" not in by_status
    mine = admin.get("/org/inspections/actions/?owner=me").get_data(as_text=True)
    assert "最後に退室する人が施錠している。" in mine and "入館証を身につけている。" not in mine
    # An overdue action may be edited without moving its (past) due date.
    edit = _post(admin, f"/org/inspections/actions/{first}", _action_data(
        world, due_on=(today_in_tokyo() - timedelta(days=1)).isoformat(), status="in_progress"))
    assert edit.status_code == 303
    assert second


def test_managers_see_and_update_the_actions_of_their_departments(world, example, login_as, run_in_app):
    own = _open(run_in_app, world, example["no_u1"], owner=world["admin_a"].id)  # 一係, under 第一課
    other = _open(run_in_app, world, example["no_u3"], owner=world["admin_a"].id)  # 総務部
    manager = login_as(world["manager_a"])
    listing = manager.get("/org/inspections/actions/").get_data(as_text=True)
    assert "最後に退室する人が施錠している。" in listing and "入館証を身につけている。" not in listing
    assert manager.get(f"/org/inspections/actions/{other}").status_code == 404
    assert manager.get(f"/org/inspections/actions/new/{example['no_u3']}").status_code == 403
    page = manager.get(f"/org/inspections/actions/{own}").get_data(as_text=True)
    assert 'name="owner_id"' not in page and 'name="status"' in page
    # A manager changes the status and the notes; an owner or due date in the post is ignored.
    response = _post(manager, f"/org/inspections/actions/{own}",
                     {"status": "in_progress", "notes": "課内で周知した。", "owner_id": str(world["manager_a"].id),
                      "due_on": "2020-01-01"})
    assert response.status_code == 303
    action = run_in_app(lambda: db.session.get(CorrectiveAction, own))
    assert (action.status, action.notes, action.owner_id) == ("in_progress", "課内で周知した。", world["admin_a"].id)
    assert manager.get(f"/org/inspections/actions/{other}").status_code == 404


# --- queries -------------------------------------------------------------------------------------------


def _count_queries(app, client, url) -> int:
    statements = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    # Once before counting: the site-wide state (portal/site_state.py) is read once per process and kept.
    client.get(url).get_data()
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
        assert response.status_code == 200, url
        response.get_data()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_pages_use_a_constant_number_of_queries(app, monkeypatch):
    counts = []
    for learners in (5, 50):
        with app.app_context():
            built = build_organization(learners, months=3, end_month=NOV)
            with tenant_scope(built["org_id"]):
                admin = db.session.get(User, built["admin_id"])
                answer = db.session.scalar(
                    select(InspectionAnswer.id).join(InspectionAnswer.response)
                    .where(InspectionAnswer.value == "no", InspectionResponse.status == "submitted")
                    .order_by(InspectionAnswer.id).limit(1)
                )
                services.open_action(db.session.get(InspectionAnswer, answer), services.ActionInput(
                    owner_id=admin.id, due_on=today_in_tokyo()), by=admin)
                db.session.commit()
                session_id = admin.get_id()
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True
        nov = built["round_ids"][-1]
        counts.append([
            _count_queries(app, client, f"/org/inspections/results/?edition={built['edition_id']}&month=2026-11"),
            _count_queries(app, client, f"/org/inspections/results/rounds/{nov}"),
            _count_queries(app, client, f"/org/inspections/results/rounds/{nov}/no"),
            _count_queries(app, client, "/org/inspections/actions/"),
        ])
    assert counts[0] == counts[1]
    monkeypatch.setattr(services, "PER_PAGE", 3)
    second = client.get(f"/org/inspections/results/rounds/{nov}/no?page=2")
    assert second.status_code == 200 and 'rel="prev"' in second.get_data(as_text=True)


# --- generated history ---------------------------------------------------------------------------------


def _tallies_match_submitted_answers(org_id) -> tuple[int, bool]:
    from sqlalchemy import func

    from portal.models import InspectionRound, InspectionTally

    with tenant_scope(org_id):
        counted = {}
        for round_id, dep, item, value, n in db.session.execute(
            select(InspectionAnswer.round_id, InspectionResponse.department_id, InspectionAnswer.item_id,
                   InspectionAnswer.value, func.count())
            .join(InspectionResponse, InspectionResponse.id == InspectionAnswer.response_id)
            .where(InspectionResponse.status == "submitted")
            .group_by(InspectionAnswer.round_id, InspectionResponse.department_id, InspectionAnswer.item_id,
                      InspectionAnswer.value)
        ):
            counted[(round_id, dep, item, value)] = n
        ok = True
        for t in db.session.scalars(select(InspectionTally)):
            for value, column in (("yes", t.yes_count), ("no", t.no_count), ("na", t.na_count)):
                ok &= counted.pop((t.round_id, t.department_id, t.item_id, value), 0) == column
        rounds = db.session.scalar(select(func.count(InspectionRound.id)))
        return rounds, ok and not counted


def test_the_generator_keeps_the_tally_contract(app):
    with app.app_context():
        built = build_organization(30, months=2, end_month=NOV)
        assert _tallies_match_submitted_answers(built["org_id"]) == (2, True)

