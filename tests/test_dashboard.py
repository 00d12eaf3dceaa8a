"""The administrator's and manager's start page (#19 item 1): each panel's figures on a hand-computed
organization, a manager's narrowed to their departments, another organization never counted, each figure
linked to the list behind it (and that list showing the same people), the empty organization, the
reminder from the training panel reaching the learners over SMTP."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal.blueprints.training.deliveries import services as delivery_services
from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    ActionStatus,
    Contract,
    CorrectiveAction,
    Delivery,
    Department,
    ManagerDepartment,
    Notice,
    NoticeRead,
    NoticeTarget,
    Role,
    User,
)
from portal.tenancy import tenant_scope
from tests.clock import jst
from tests.conftest import csrf_token_from
from tests.inspection_results_helpers import launch, make_edition, make_items, make_round, save, submit
from tests.training_helpers import add_course, assignment_of, deliver, take

NOW = jst(2026, 11, 25, 10, 0)  # a Wednesday: 点検月 2026-11 is "this month"
SEP, OCT, NOV = date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)


@pytest.fixture
def org_world(app, time_machine, make_org, make_user, run_in_app, make_ticket):
    """Organization A (営業部 > 第一課 > 一係, 営業部 > 第二課, 総務部) and, beside it, organization B with
    the same kinds of data, which A's figures must never include.

    A's learners: u1 一係, u2 第二課, u3 総務部, u4 第一課, u5 総務部. The manager looks after 第一課
    (so 一係 too): u1 and u4.

    Training (three deliveries to everyone):
      「期限切れの配信」 due six days ago: u1 合格, u2 不合格, u3 合格, u4 未受講, u5 中断.
      「期限前の配信」 due in a week: nobody has started. 「終了した配信」 closed: not open, not shown.
    セキュレジ, 「自社点検」 (three items) in Sep, Oct and Nov; November::

        u1 一係    i1 はい    i2 いいえ   i3 はい
        u2 第二課  i1 はい    i2 該当なし  i3 いいえ
        u3 総務部  i1 いいえ   i2 はい    i3 はい
        u4 第一課  (未回答)
        u5 総務部  (回答中, not counted)

    i2 was 0 % in Sep, 50 % in Oct and 50 % in Nov (u1 answered いいえ every month): 要注意 for both.
    是正処置: one in 一係 overdue, one in 総務部 due next week, one in 総務部 done.
    Tickets: two of A (one waiting for the customer), one of B. Notices: one to everyone (read by A's
    administrator), one to A, one to B.
    """
    time_machine.move_to(NOW)
    org_a, org_b = make_org("株式会社ダッシュ"), make_org("株式会社ベータ")
    admin = make_user(Role.ORG_ADMIN, org_a, name="管理 花子", mfa=False)
    manager = make_user(Role.MANAGER, org_a, name="課長 次郎", mfa=False)
    admin_b = make_user(Role.ORG_ADMIN, org_b, name="管理 B", mfa=False)

    def build_a():
        with tenant_scope(org_a.id):
            sales = Department(organization_id=org_a.id, name="営業部", depth=1)
            general = Department(organization_id=org_a.id, name="総務部", depth=1)
            db.session.add_all([sales, general])
            db.session.flush()
            first = Department(organization_id=org_a.id, name="第一課", depth=2, parent_id=sales.id)
            second = Department(organization_id=org_a.id, name="第二課", depth=2, parent_id=sales.id)
            db.session.add_all([first, second])
            db.session.flush()
            unit = Department(organization_id=org_a.id, name="一係", depth=3, parent_id=first.id)
            db.session.add(unit)
            db.session.flush()
            deps = {"u1": unit, "u2": second, "u3": general, "u4": first, "u5": general}
            people = {}
            for key, dep in deps.items():
                people[key] = User(role=Role.LEARNER, organization_id=org_a.id, name=f"受講者{key}",
                                   login_id=key.upper(), email=f"{key}@dash.example", department_id=dep.id)
            db.session.add_all(people.values())
            db.session.add(ManagerDepartment(organization_id=org_a.id, user_id=manager.id, department_id=first.id))
            db.session.add(Contract(organization_id=org_a.id, plan_name="スタンダード", starts_on=date(2026, 4, 1),
                                    ends_on=date(2027, 3, 31), seat_limit=4, annual_fee=300_000,
                                    overage_unit_price=3_000))
            db.session.flush()

            i1, i2, i3 = make_items(org_a.id, [("入退管理", "入館証を身につけている。"),
                                               ("入退管理", "最後に退室する人が施錠している。"),
                                               ("PCの利用", "離席時に画面をロックしている。")])
            edition = make_edition(org_a.id, [i1, i2, i3], title="自社点検")
            ids = [i1.id, i2.id, i3.id]
            u = people
            sep = make_round(org_a.id, edition.id, SEP, ids, title="9月の点検")
            r = launch(sep, [u["u1"], u["u2"]])
            submit(r[u["u1"].id], {i1.id: "yes", i2.id: "no", i3.id: "yes"})
            submit(r[u["u2"].id], {i1.id: "yes", i2.id: "no", i3.id: "yes"})
            octo = make_round(org_a.id, edition.id, OCT, ids, title="10月の点検")
            r = launch(octo, [u["u1"], u["u2"]])
            submit(r[u["u1"].id], {i1.id: "yes", i2.id: "no", i3.id: "yes"})
            submit(r[u["u2"].id], {i1.id: "yes", i2.id: "yes", i3.id: "na"})
            nov = make_round(org_a.id, edition.id, NOV, ids, title="11月の点検", status="open")
            r = launch(nov, [u[k] for k in ("u1", "u2", "u3", "u4", "u5")])
            submit(r[u["u1"].id], {i1.id: "yes", i2.id: "no", i3.id: "yes"})
            submit(r[u["u2"].id], {i1.id: "yes", i2.id: "na", i3.id: "no"})
            submit(r[u["u3"].id], {i1.id: "no", i2.id: "yes", i3.id: "yes"})
            save(r[u["u5"].id], {i1.id: "no"})

            today = NOW.date()
            actions = [
                ("鍵の管理を見直す", unit.id, today - timedelta(days=3), ActionStatus.OPEN),
                ("画面ロックの声かけ", general.id, today + timedelta(days=7), ActionStatus.IN_PROGRESS),
                ("入館証の再発行", general.id, today - timedelta(days=10), ActionStatus.DONE),
            ]
            for title, department_id, due_on, status in actions:
                db.session.add(CorrectiveAction(organization_id=org_a.id, round_id=nov.id, item_id=i2.id,
                                                department_id=department_id, title=title, owner_id=admin.id,
                                                due_on=due_on, status=status))
            db.session.flush()
            return {"people": {k: v.id for k, v in u.items()}, "edition": edition.id, "nov": nov.id,
                    "first": first.id}

    a = run_in_app(build_a)

    def build_b():
        with tenant_scope(org_b.id):
            learners = [User(role=Role.LEARNER, organization_id=org_b.id, name=f"B受講者{i}", login_id=f"B{i}",
                             email=f"b{i}@beta.example") for i in range(3)]
            db.session.add_all(learners)
            db.session.flush()
            (item,) = make_items(org_b.id, [("入退管理", "Bの項目")])
            edition = make_edition(org_b.id, [item], title="B社点検")
            for month in (SEP, OCT, NOV):
                r = launch(make_round(org_b.id, edition.id, month, [item.id], title=f"B {month:%m}月"), learners)
                for learner in learners:
                    submit(r[learner.id], {item.id: "no"})
            db.session.add(CorrectiveAction(organization_id=org_b.id, round_id=r[learners[0].id].round_id,
                                            item_id=item.id, title="Bの処置", due_on=NOW.date() - timedelta(days=1)))
            return [learner.id for learner in learners]

    run_in_app(build_b)

    long_ago = utcnow() - timedelta(days=20)

    def training_b():
        course_b = add_course(organization_id=org_b.id, questions=3).id
        db.session.commit()
        deliver(admin_b, course_b, title="B社の配信", now=long_ago, due_in=timedelta(days=14))

    run_in_app(training_b)

    def training():
        course_a = add_course(organization_id=org_a.id, questions=3).id
        db.session.commit()
        late = deliver(admin, course_a, title="期限切れの配信", now=long_ago, due_in=timedelta(days=14))
        deliver(admin, course_a, title="期限前の配信", due_in=timedelta(days=7))
        closed = deliver(admin, course_a, title="終了した配信", now=long_ago, due_in=timedelta(days=14))
        with tenant_scope(org_a.id):
            delivery_services.close_delivery(db.session.get(Delivery, closed.id))
        p = a["people"]
        take(assignment_of(late.id, p["u1"]).id)
        take(assignment_of(late.id, p["u2"]).id, right=0)
        take(assignment_of(late.id, p["u3"]).id)
        take(assignment_of(late.id, p["u5"]).id, finish=False)
        return late.id

    late_id = run_in_app(training)

    waiting = make_ticket(admin, subject="請求書の宛名を変えたい")
    make_ticket(manager, subject="CSVの文字化け")
    make_ticket(admin_b, subject="B社の質問")

    def tickets_and_notices():
        from portal.models import Ticket

        db.session.get(Ticket, waiting.id).status = "waiting"
        db.session.get(Ticket, waiting.id).sla_due_at = None
        everyone = Notice(kind="general", title="全社へのお知らせ", body="本文", all_organizations=True)
        to_a = Notice(kind="general", title="ダッシュ社へのお知らせ", body="本文", all_organizations=False)
        to_b = Notice(kind="general", title="ベータ社へのお知らせ", body="本文", all_organizations=False)
        db.session.add_all([everyone, to_a, to_b])
        db.session.flush()
        db.session.add_all([NoticeTarget(notice_id=to_a.id, organization_id=org_a.id),
                            NoticeTarget(notice_id=to_b.id, organization_id=org_b.id),
                            NoticeRead(notice_id=everyone.id, user_id=admin.id, organization_id=org_a.id)])

    run_in_app(tickets_and_notices)
    return {"org_a": org_a, "admin": admin, "manager": manager, "admin_b": admin_b, "late": late_id, **a}


def _page(client) -> BeautifulSoup:
    response = client.get("/org/")
    assert response.status_code == 200
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _panel(soup: BeautifulSoup, key: str):
    panel = soup.find(id=f"panel-{key}")
    assert panel is not None, f"no panel {key}"
    return panel


def _rows(panel) -> list[dict[str, str]]:
    """Each table row of the panel as {column label: the cell's text}."""
    return [{td["data-label"]: " ".join(td.get_text(" ").split()) for td in tr.find_all("td")}
            for tr in panel.select("tbody tr")]


def _link(panel, text: str) -> str:
    link = panel.find("a", string=lambda s: s and text in s)
    assert link is not None, f"no link {text!r} in {panel.get_text(' ', strip=True)}"
    return link["href"]


# --- training ------------------------------------------------------------------------------------------


def test_training_panel_shows_open_deliveries_with_rates_and_overdue_learners(org_world, login_as):
    panel = _panel(_page(login_as(org_world["admin"])), "training")
    rows = _rows(panel)
    assert [(r["配信"], r["対象"], r["完了率"], r["合格率"], r["期限切れ"].split()[0]) for r in rows] == [
        ("期限切れの配信", "5人", "60%", "40%", "3人"),  # u2 不合格, u4 未受講, u5 中断
        ("期限前の配信", "5人", "0%", "0%", "期限前"),
    ]
    assert "終了した配信" not in panel.get_text() and "B社" not in panel.get_text()
    assert "配信中 2件" in panel.get_text() and "期限切れの未合格 3人" in panel.get_text()
    assert _link(panel, "3人") == f"/org/training/{org_world['late']}?overdue=1#unfinished"


def test_the_overdue_figure_opens_the_results_listing_exactly_those_learners(org_world, login_as):
    admin = login_as(org_world["admin"])
    href = _link(_panel(_page(admin), "training"), "3人")
    soup = BeautifulSoup(admin.get(href).get_data(as_text=True), "html.parser")
    section = soup.find(id="unfinished")
    assert "期限を過ぎた未合格の受講者" in section.h2.get_text()
    assert sorted(td.get_text() for td in section.select("td[data-label=氏名]")) == ["受講者u2", "受講者u4", "受講者u5"]


def test_overdue_filter_before_the_due_date_lists_no_one(org_world, login_as, run_in_app):
    admin = login_as(org_world["admin"])
    rows = {r["配信"]: r for r in _rows(_panel(_page(admin), "training"))}
    assert rows["期限前の配信"]["期限切れ"] == "期限前"
    not_due = run_in_app(lambda: db.session.scalar(
        db.select(Delivery.id).where(Delivery.title == "期限前の配信")))
    html = admin.get(f"/org/training/{not_due}?overdue=1").get_data(as_text=True)
    assert "期限切れの受講者はいません" in html and "受講者u1" not in html


def test_remind_button_on_the_dashboard_reaches_the_learners_not_passed_over_smtp(org_world, login_as, mailbox):
    admin = login_as(org_world["admin"])
    soup = _page(admin)
    form = _panel(soup, "training").find("form")
    assert form["action"] == f"/org/training/{org_world['late']}/remind"
    response = admin.post(form["action"], data={"csrf_token": csrf_token_from(str(form))})
    assert response.status_code == 303
    assert "リマインドを送ります" in admin.get(response.headers["Location"]).get_data(as_text=True)
    reminded = {key: [body for body in mailbox(f"{key}@dash.example") if "を過ぎています" in body]
                for key in ("u1", "u2", "u3", "u4", "u5")}
    assert {key for key, bodies in reminded.items() if bodies} == {"u2", "u4", "u5"}
    assert all("期限切れの配信" in bodies[0] for bodies in reminded.values() if bodies)


def test_a_manager_sees_only_the_learners_of_their_departments(org_world, login_as):
    soup = _page(login_as(org_world["manager"]))
    rows = _rows(_panel(soup, "training"))
    # u1 (一係, 合格) and u4 (第一課, 未受講).
    assert [(r["配信"], r["対象"], r["完了率"], r["合格率"], r["期限切れ"]) for r in rows] == [
        ("期限切れの配信", "2人", "50%", "50%", "1人"),
        ("期限前の配信", "2人", "0%", "0%", "期限前"),
    ]
    assert _panel(soup, "training").find("form") is None  # reminding is the administrator's
    assert soup.find(id="panel-seats") is None and "利用者数" not in soup.get_text()


# --- セキュレジ ------------------------------------------------------------------------------------------


def test_inspection_panel_shows_this_months_compliance_pending_sheets_and_failing_items(org_world, login_as):
    admin = login_as(org_world["admin"])
    panel = _panel(_page(admin), "inspections")
    assert "2026年11月の点検" in panel.get_text()
    # はい 5 (i1 u1 u2, i2 u3, i3 u1 u3), いいえ 3 (i1 u3, i2 u1, i3 u2): 5 / 8 = 62.5 %.
    assert _rows(panel) == [{"点検回": "11月の点検", "遵守率": "62%", "提出済": "3 / 5", "未提出": "2人"}]
    pending = _link(panel, "2人")
    assert pending == f"/org/inspections/results/rounds/{org_world['nov']}#pending"
    soup = BeautifulSoup(admin.get(pending).get_data(as_text=True), "html.parser")
    assert sorted(td.get_text() for td in soup.select("#pending td[data-label=氏名]")) == ["受講者u4", "受講者u5"]
    assert _link(panel, "62%") == f"/org/inspections/results/?edition={org_world['edition']}&month=2026-11"
    failing = panel.select(".failing-list li")
    assert len(failing) == 1 and "最後に退室する人が施錠している。" in failing[0].get_text()
    assert "3か月連続" in failing[0].get_text() and "50%" in failing[0].get_text()
    results = admin.get(failing[0].a["href"]).get_data(as_text=True)
    assert 'id="failing"' in results and "要注意：3か月連続で基準未満" in results
    assert "Bの項目" not in panel.get_text() and "B " not in panel.get_text()


def test_a_managers_inspection_panel_covers_their_departments(org_world, login_as):
    panel = _panel(_page(login_as(org_world["manager"])), "inspections")
    # u1 (一係): はい 2, いいえ 1; u4 (第一課) has not answered.
    assert _rows(panel) == [{"点検回": "11月の点検", "遵守率": "67%", "提出済": "1 / 2", "未提出": "1人"}]
    # u1 answered いいえ to i2 in each of the three months.
    assert "最後に退室する人が施錠している。" in panel.select_one(".failing-list").get_text()


def test_actions_panel_lists_open_actions_by_due_date_with_links_to_the_filtered_list(org_world, login_as):
    admin = login_as(org_world["admin"])
    panel = _panel(_page(admin), "actions")
    assert [(r["件名"], r["状況"]) for r in _rows(panel)] == [("鍵の管理を見直す", "未着手"),
                                                           ("画面ロックの声かけ", "対応中")]
    assert "期限切れ" in _rows(panel)[0]["期限"]
    assert "入館証の再発行" not in panel.get_text() and "Bの処置" not in panel.get_text()
    overdue = admin.get(_link(panel, "期限切れ 1件")).get_data(as_text=True)
    assert "鍵の管理を見直す" in overdue and "画面ロックの声かけ" not in overdue
    assert "画面ロックの声かけ" in admin.get(_link(panel, "未完了 2件")).get_data(as_text=True)

    manager_panel = _panel(_page(login_as(org_world["manager"])), "actions")
    assert [r["件名"] for r in _rows(manager_panel)] == ["鍵の管理を見直す"]
    assert "未完了 1件" in manager_panel.get_text()


def test_actions_panel_counts_every_open_action_and_lists_the_soonest(org_world, login_as, run_in_app):
    """Six more open actions of 一係 (the manager's), two of them overdue: both counts cover them all, the list
    the soonest five, for the administrator and for the manager."""
    def more():
        existing = db.session.scalar(select(CorrectiveAction).where(CorrectiveAction.title == "鍵の管理を見直す"))
        for n in range(1, 7):
            db.session.add(CorrectiveAction(
                organization_id=existing.organization_id, round_id=existing.round_id, item_id=existing.item_id,
                department_id=existing.department_id, title=f"追加の処置{n}", owner_id=existing.owner_id,
                due_on=existing.due_on + timedelta(days=n), status=ActionStatus.OPEN))

    run_in_app(more)
    admin_panel = _panel(_page(login_as(org_world["admin"])), "actions")
    # Due 3 days ago, then 2 and 1 days ago (overdue), today and later: 3 overdue of 8.
    assert "未完了 8件" in admin_panel.get_text() and "期限切れ 3件" in admin_panel.get_text()
    assert [r["件名"] for r in _rows(admin_panel)] == ["鍵の管理を見直す"] + [f"追加の処置{n}" for n in range(1, 5)]
    manager_panel = _panel(_page(login_as(org_world["manager"])), "actions")
    assert "未完了 7件" in manager_panel.get_text() and "期限切れ 3件" in manager_panel.get_text()
    assert [r["件名"] for r in _rows(manager_panel)] == ["鍵の管理を見直す"] + [f"追加の処置{n}" for n in range(1, 5)]


def _owner_cells(panel) -> dict[str, object]:
    cells = [{td["data-label"]: td for td in tr.find_all("td")} for tr in panel.select("tbody tr")]
    return {row["件名"].get_text(strip=True): row["担当者"] for row in cells}


def test_an_action_owners_name_opens_their_record_where_the_viewer_may(org_world, login_as, run_in_app):
    """鍵の管理を見直す (一係) is given to u2 (第二課, not the manager's) and 画面ロックの声かけ stays the
    administrator's: the administrator opens u2's record from the name; the manager sees the action but not
    a link to a learner they do not look after; nobody gets a link for a non-learner."""
    people = org_world["people"]

    def give(owner_key: str):
        def run():
            with tenant_scope(org_world["org_a"].id):
                action = db.session.scalar(
                    select(CorrectiveAction).where(CorrectiveAction.title == "鍵の管理を見直す"))
                action.owner_id = people[owner_key]
        return run

    run_in_app(give("u2"))
    admin = login_as(org_world["admin"])
    owners = _owner_cells(_panel(_page(admin), "actions"))
    assert owners["鍵の管理を見直す"].a["href"] == f"/org/learners/{people['u2']}/record"
    assert admin.get(owners["鍵の管理を見直す"].a["href"]).status_code == 200
    assert owners["画面ロックの声かけ"].a is None and owners["画面ロックの声かけ"].get_text(strip=True)
    manager = login_as(org_world["manager"])
    owners = _owner_cells(_panel(_page(manager), "actions"))
    assert owners["鍵の管理を見直す"].get_text(strip=True) == "受講者u2" and owners["鍵の管理を見直す"].a is None
    assert manager.get(f"/org/learners/{people['u2']}/record").status_code == 404

    run_in_app(give("u1"))  # 一係: the manager's
    owners = _owner_cells(_panel(_page(manager), "actions"))
    assert owners["鍵の管理を見直す"].a["href"] == f"/org/learners/{people['u1']}/record"
    assert manager.get(owners["鍵の管理を見直す"].a["href"]).status_code == 200


# --- tickets, notices, seats ----------------------------------------------------------------------------


def test_tickets_panel_shows_open_tickets_with_their_promised_answer_time(org_world, login_as):
    admin = login_as(org_world["admin"])
    panel = _panel(_page(admin), "tickets")
    rows = {r["件名"].split(" ", 1)[1]: r for r in _rows(panel)}
    assert set(rows) == {"請求書の宛名を変えたい", "CSVの文字化け"}
    # Received Wednesday 10:00: two business days (18 business hours) later is Friday 10:00.
    assert "2026/11/27 10:00" in rows["CSVの文字化け"]["回答期限"]
    assert "ご返信をお待ちしています" in rows["請求書の宛名を変えたい"]["回答期限"]
    assert "B社" not in panel.get_text()
    listed = admin.get(_link(panel, "未解決のお問い合わせ 2件")).get_data(as_text=True)
    assert "CSVの文字化け" in listed and "請求書の宛名を変えたい" in listed


def test_tickets_panel_counts_every_open_ticket_and_lists_the_first(org_world, login_as, make_ticket):
    for n in range(1, 7):
        make_ticket(org_world["admin"], subject=f"追加の質問{n}", now=NOW + timedelta(minutes=n))
    panel = _panel(_page(login_as(org_world["admin"])), "tickets")
    # 8 open in all (B's not counted); LISTED (5) rows, the soonest promise first.
    assert "未解決のお問い合わせ 8件" in panel.get_text()
    subjects = [r["件名"].split(" ", 1)[1] for r in _rows(panel)]
    assert subjects == ["CSVの文字化け", "追加の質問1", "追加の質問2", "追加の質問3", "追加の質問4"]


def test_ticket_list_filter_keeps_only_unresolved_tickets(org_world, login_as, run_in_app):
    from portal.models import Ticket

    run_in_app(lambda: setattr(db.session.scalar(db.select(Ticket).where(Ticket.subject == "CSVの文字化け")),
                               "status", "resolved"))
    admin = login_as(org_world["admin"])
    active = admin.get("/tickets/?status=active").get_data(as_text=True)
    assert "請求書の宛名を変えたい" in active and "CSVの文字化け" not in active
    everything = admin.get("/tickets/?status=%00nonsense").get_data(as_text=True)
    assert "請求書の宛名を変えたい" in everything and "CSVの文字化け" in everything
    assert "未解決のお問い合わせ 1件" in _panel(_page(admin), "tickets").get_text()


def test_notices_panel_counts_what_this_user_has_not_read(org_world, login_as):
    panel = _panel(_page(login_as(org_world["admin"])), "notices")
    assert "未読 1件" in panel.get_text()
    assert [a.get_text() for a in panel.select(".notice-list a")] == ["ダッシュ社へのお知らせ"]
    manager_panel = _panel(_page(login_as(org_world["manager"])), "notices")
    assert "未読 2件" in manager_panel.get_text() and "ベータ社へのお知らせ" not in manager_panel.get_text()


def test_notices_panel_counts_every_unread_notice_and_lists_the_newest(org_world, login_as, run_in_app):
    def publish():
        for n in range(1, 8):
            db.session.add(Notice(kind="general", title=f"追加のお知らせ{n}", body="本文", all_organizations=True,
                                  published_at=NOW + timedelta(minutes=n)))

    run_in_app(publish)
    panel = _panel(_page(login_as(org_world["admin"])), "notices")
    # 7 more than the one unread before: counted all, the newest LISTED (5) shown, newest first.
    assert "未読 8件" in panel.get_text()
    assert [a.get_text() for a in panel.select(".notice-list a")] == [f"追加のお知らせ{n}" for n in (7, 6, 5, 4, 3)]


def test_seats_panel_shows_active_learners_against_the_limit(org_world, login_as):
    admin = login_as(org_world["admin"])
    panel = _panel(_page(admin), "seats")
    assert "利用者数(有効な受講者): 5 / 上限 4名" in panel.get_text()
    assert "上限を1名超えています" in panel.get_text() and "3,000円" in panel.get_text()
    listed = admin.get(_link(panel, "利用者数")).get_data(as_text=True)
    assert all(f"受講者u{n}" in listed for n in range(1, 6))


# --- the empty organization --------------------------------------------------------------------------


def test_an_empty_organization_gets_its_first_steps_instead_of_figures(make_org, make_user, login_as):
    org = make_org("株式会社からっぽ")
    soup = _page(login_as(make_user(Role.ORG_ADMIN, org, mfa=False)))
    steps = soup.find(id="getting-started")
    assert steps is not None
    assert [a["href"] for a in steps.select("ol a")] == ["/org/learners/", "/org/training/new", "/org/inspections/new"]
    assert "配信中の研修はありません" in _panel(soup, "training").get_text()
    assert "点検はまだありません" in _panel(soup, "inspections").get_text()
    assert "未完了の是正処置はありません" in _panel(soup, "actions").get_text()
    assert "未解決のお問い合わせはありません" in _panel(soup, "tickets").get_text()
    assert "受講者がまだ登録されていません" in _panel(soup, "seats").get_text()
    manager = _page(login_as(make_user(Role.MANAGER, org, mfa=False)))
    assert "担当の部署の受講者に研修や点検が配信されると" in manager.find(id="getting-started").get_text()


def test_a_manager_without_departments_sees_no_learner_figures(org_world, make_user, login_as):
    soup = _page(login_as(make_user(Role.MANAGER, org_world["org_a"], mfa=False)))
    assert _rows(_panel(soup, "training")) == [] and "配信中の研修はありません" in soup.get_text()
    assert _rows(_panel(soup, "inspections")) == [] and soup.select(".failing-list") == []
    assert _rows(_panel(soup, "actions")) == []


def test_another_organizations_administrator_sees_only_their_own_figures(org_world, login_as):
    soup = _page(login_as(org_world["admin_b"]))
    assert [r["配信"] for r in _rows(_panel(soup, "training"))] == ["B社の配信"]
    assert _rows(_panel(soup, "inspections"))[0]["点検回"] == "B 11月"
    assert [r["件名"] for r in _rows(_panel(soup, "actions"))] == ["Bの処置"]
    assert [r["件名"].split(" ", 1)[1] for r in _rows(_panel(soup, "tickets"))] == ["B社の質問"]
    text = soup.get_text()
    others = ("期限切れの配信", "最後に退室", "鍵の管理", "請求書の宛名", "ダッシュ社へ", "受講者u")
    assert [word for word in others if word in text] == []
