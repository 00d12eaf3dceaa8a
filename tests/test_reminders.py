"""Reminders that escalate (#19 item 4): one learner reminded from the results page, the managers told of
their overdue learners, the administrators' weekly summary, emails no longer needed cancelled, and the
delivery page's count of its emails. Email goes through the outbox and the real SMTP server of the tests."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, select, update

from portal.blueprints.training.deliveries import services as delivery_services
from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Delivery,
    DeliveryEscalation,
    Department,
    MailSuppression,
    ManagerDepartment,
    Organization,
    OrganizationStatus,
    OutboxMessage,
    OutboxStatus,
    Role,
    User,
    WeeklySummary,
)
from portal.tenancy import tenant_scope, unscoped
from portal.weekly_summary import send_weekly_summaries, summary_week
from tests.clock import jst
from tests.conftest import csrf_token_from
from tests.training_helpers import add_course, assignment_of, deliver, take

MONDAY = jst(2026, 6, 1, 10, 0)  # a business day, inside the default sending window (9-18)
DUE = MONDAY + timedelta(days=7)  # Monday 6/8 10:00
FIRST_ESCALATION = DUE + timedelta(days=3)  # Thursday 6/11 10:00
SATURDAY_NIGHT = jst(2026, 6, 6, 22, 0)  # the window next opens on Monday 6/8 at 9:00


@pytest.fixture
def team(world, make_user, run_in_app):
    """営業部 with its 第一課 (looked after by manager_a), 開発部 (another manager); a learner in each, one
    without a department and one without an email address; a delivery to all of them, due a week after
    MONDAY, telling managers 3 days after."""
    org = world["org_a"]

    def departments():
        sales = Department(organization_id=org.id, name="営業部", depth=1)
        dev = Department(organization_id=org.id, name="開発部", depth=1)
        db.session.add_all([sales, dev])
        db.session.flush()
        first = Department(organization_id=org.id, name="第一課", depth=2, parent_id=sales.id)
        db.session.add(first)
        db.session.flush()
        return sales.id, first.id, dev.id

    sales, first, dev = run_in_app(departments)
    dev_manager = make_user(Role.MANAGER, org, name="開発 課長", email="dev-boss@example.com")
    run_in_app(lambda: db.session.add_all([
        ManagerDepartment(organization_id=org.id, user_id=world["manager_a"].id, department_id=sales),
        ManagerDepartment(organization_id=org.id, user_id=dev_manager.id, department_id=dev),
    ]))
    people = SimpleNamespace(
        sales1=make_user(Role.LEARNER, org, name="営業 一郎", login_id="S1", department_id=first),
        sales2=make_user(Role.LEARNER, org, name="営業 二郎", login_id="S2", department_id=sales),
        dev1=make_user(Role.LEARNER, org, name="開発 三郎", login_id="D1", department_id=dev),
        loose=make_user(Role.LEARNER, org, name="所属なし 四郎", login_id="X1"),
        silent=make_user(Role.LEARNER, org, name="メールなし 五郎", login_id="N1", email=None, department_id=first),
    )
    ids = [p.id for p in vars(people).values()]
    delivery_id = run_in_app(lambda: deliver(world["admin_a"], add_course(organization_id=None, questions=1).id,
                                             learner_ids=ids, now=MONDAY, due_in=DUE - MONDAY,
                                             title="標的型メール訓練").id)
    return SimpleNamespace(delivery_id=delivery_id, dev_manager=dev_manager, manager=world["manager_a"],
                           admin=world["admin_a"], org=org, **vars(people))


def _outbox(run_in_app, *criteria) -> list[OutboxMessage]:
    return run_in_app(lambda: db.session.scalars(select(OutboxMessage).where(*criteria)
                                                 .order_by(OutboxMessage.id)).all())


def _remind(client, team, learner):
    page = client.get(f"/org/training/{team.delivery_id}").get_data(as_text=True)
    return client.post(f"/org/training/{team.delivery_id}/remind/{learner.id}",
                       data={"csrf_token": csrf_token_from(page)}, follow_redirects=True)


def _page(client, team) -> BeautifulSoup:
    return BeautifulSoup(client.get(f"/org/training/{team.delivery_id}").get_data(as_text=True), "html.parser")


# --- one learner reminded by hand ------------------------------------------------------------------------


def test_an_administrator_reminds_one_learner_once_a_day(
    team, login_as, run_in_app, mailbox, time_machine
):
    time_machine.move_to(MONDAY + timedelta(days=2))
    admin = login_as(team.admin)
    row = next(tr for tr in _page(admin, team).select("tbody tr") if "営業 一郎" in tr.get_text())
    assert row.select_one("button").get("aria-label") == "営業 一郎さんにリマインドを送る"
    mailbox(team.sales1.email)  # the invitation goes out first

    response = _remind(admin, team, team.sales1)
    assert response.status_code == 200
    assert "営業 一郎さんにリマインドを送ります。" in response.get_data(as_text=True)
    reminders = _outbox(run_in_app, OutboxMessage.template == "training_reminder")
    assert [(m.user_id, m.topic) for m in reminders] == [(team.sales1.id, f"delivery:{team.delivery_id}")]
    bodies = mailbox(team.sales1.email)
    assert len(bodies) == 2 and "研修「標的型メール訓練」の期限は" in bodies[1] and "/t/" in bodies[1]
    assert mailbox(team.sales2.email) and len(mailbox(team.sales2.email)) == 1  # only the invitation

    again = _remind(admin, team, team.sales1)
    assert again.status_code == 422
    assert "営業 一郎さんには本日すでにリマインドを送りました（同じ人には1日1回まで）。" in again.get_data(as_text=True)
    # The button for everyone skips the one reminded today; the next day, the learner can be reminded again.
    page = admin.get(f"/org/training/{team.delivery_id}").get_data(as_text=True)
    admin.post(f"/org/training/{team.delivery_id}/remind", data={"csrf_token": csrf_token_from(page)})
    told = admin.get(f"/org/training/{team.delivery_id}").get_data(as_text=True)
    assert "3人にリマインドを送ります" in told and "メールアドレスのない1人には送れません。" in told
    reminded = [m.user_id for m in _outbox(run_in_app, OutboxMessage.template == "training_reminder")]
    assert reminded.count(team.sales1.id) == 1 and team.sales2.id in reminded
    time_machine.move_to(MONDAY + timedelta(days=3))
    assert _remind(login_as(team.admin), team, team.sales1).status_code == 200
    events = run_in_app(lambda: db.session.scalars(
        select(AuditEvent.details).where(AuditEvent.action == "training.reminder_one")).all())
    assert [e["learner"] for e in events] == [team.sales1.id, team.sales1.id]


def test_a_learner_without_email_or_with_a_suppressed_address_gets_nothing_and_the_admin_is_told(
    team, login_as, run_in_app, time_machine
):
    time_machine.move_to(MONDAY + timedelta(hours=1))
    admin = login_as(team.admin)
    row = next(tr for tr in _page(admin, team).select("tbody tr") if "メールなし 五郎" in tr.get_text())
    assert row.select_one("button") is None and "メールアドレスなし" in row.get_text()
    before = len(_outbox(run_in_app))

    refused = _remind(admin, team, team.silent)
    assert refused.status_code == 422
    assert "メールなし 五郎さんはメールアドレスが登録されていないため、メールは送れません。" in \
        refused.get_data(as_text=True)

    run_in_app(lambda: db.session.add(MailSuppression(address=team.dev1.email, note="本人の希望")))
    refused = _remind(admin, team, team.dev1)
    assert refused.status_code == 422
    assert "配信停止中のため送れません" in refused.get_data(as_text=True)
    assert len(_outbox(run_in_app)) == before
    assert run_in_app(lambda: assignment_of(team.delivery_id, team.dev1.id).last_manual_reminder_on) is None


def test_a_passed_learner_is_not_reminded_and_another_deliverys_learner_is_not_found(
    team, world, login_as, run_in_app, time_machine
):
    time_machine.move_to(MONDAY + timedelta(hours=1))
    run_in_app(lambda: take(assignment_of(team.delivery_id, team.sales2.id).id))
    admin = login_as(team.admin)
    refused = _remind(admin, team, team.sales2)
    assert refused.status_code == 422 and "営業 二郎さんは合格済みです。" in refused.get_data(as_text=True)
    page = admin.get(f"/org/training/{team.delivery_id}").get_data(as_text=True)
    stranger = admin.post(f"/org/training/{team.delivery_id}/remind/{world['learner_a'].id}",
                          data={"csrf_token": csrf_token_from(page)})
    assert stranger.status_code == 404
    without_token = admin.post(f"/org/training/{team.delivery_id}/remind/{team.sales1.id}")
    assert without_token.status_code in (303, 400)
    assert _outbox(run_in_app, OutboxMessage.template == "training_reminder") == []


def test_a_reminder_waits_for_the_sending_window(team, login_as, run_in_app, time_machine):
    time_machine.move_to(SATURDAY_NIGHT)
    response = _remind(login_as(team.admin), team, team.sales1)
    assert "送信時間帯の始まる 2026/06/08 09:00 に送ります" in response.get_data(as_text=True)
    (reminder,) = _outbox(run_in_app, OutboxMessage.template == "training_reminder")
    assert reminder.next_attempt_at == jst(2026, 6, 8, 9, 0)


# --- emails no longer needed, and the delivery's count of its emails ----------------------------------------


def test_a_held_invitation_is_cancelled_when_the_learner_passes_before_the_window_opens(
    world, make_user, login_as, run_in_app, mailbox, time_machine
):
    other = make_user(Role.LEARNER, world["org_a"], name="待つ 人")
    time_machine.move_to(SATURDAY_NIGHT)
    delivery_id = run_in_app(lambda: deliver(world["admin_a"], add_course(organization_id=None, questions=1).id,
                                             learner_ids=[world["learner_a"].id, other.id]).id)
    admin = login_as(world["admin_a"])
    emails = _page(admin, SimpleNamespace(delivery_id=delivery_id)).select_one("#delivery-emails").get_text()
    assert "送信時間帯待ち 2通" in emails and "送信済み 0通" in emails

    # learner_a signs in on Sunday (the training is on their home page) and passes.
    time_machine.move_to(SATURDAY_NIGHT + timedelta(hours=12))
    run_in_app(lambda: take(assignment_of(delivery_id, world["learner_a"].id).id))
    (cancelled,) = _outbox(run_in_app, OutboxMessage.status == OutboxStatus.CANCELLED)
    assert cancelled.user_id == world["learner_a"].id and cancelled.last_error.startswith("cancelled: passed")

    time_machine.move_to(jst(2026, 6, 8, 9, 5))
    assert mailbox(world["learner_a"].email) == []
    assert len(mailbox(other.email)) == 1
    emails = _page(login_as(world["admin_a"]), SimpleNamespace(delivery_id=delivery_id))
    text = emails.select_one("#delivery-emails").get_text()
    assert "送信待ち 0通" in text and "送信時間帯待ち 0通" in text and "送信済み 1通" in text
    assert "不要になり取り消し 1通" in text


def test_the_delivery_page_counts_queued_held_and_failed_emails_in_one_query(
    app, team, smtp, login_as, run_in_app, mailbox, time_machine
):
    time_machine.move_to(MONDAY + timedelta(hours=1))
    smtp.handler.rcpt_always[team.dev1.email.lower()] = "550 5.1.1 User unknown"
    mailbox(team.sales1.email)  # every invitation goes out, dev1's is refused for good
    run_in_app(lambda: deliver(team.admin, add_course(organization_id=None, questions=1).id,
                               learner_ids=[team.sales1.id]))  # another delivery's email is not counted
    counts = run_in_app(lambda: delivery_services.outbox.topic_counts(f"delivery:{team.delivery_id}", utcnow()))
    assert (counts.queued, counts.held, counts.failed, counts.sent, counts.cancelled) == (0, 0, 1, 3, 0)
    time_machine.move_to(SATURDAY_NIGHT)
    admin = login_as(team.admin)
    _remind(admin, team, team.sales2)  # held until Monday
    text = _page(admin, team).select_one("#delivery-emails").get_text()
    assert "送信時間帯待ち 1通" in text and "送信失敗 1通" in text and "送信済み 3通" in text

    statements = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):
        if "outbox_messages" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        admin.get(f"/org/training/{team.delivery_id}")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_closing_a_delivery_cancels_its_emails_still_waiting(team, login_as, run_in_app, time_machine):
    time_machine.move_to(SATURDAY_NIGHT)
    run_in_app(lambda: deliver(team.admin, add_course(organization_id=None, questions=1).id,
                               learner_ids=[team.sales1.id]))
    admin = login_as(team.admin)
    _remind(admin, team, team.sales1)
    page = admin.get(f"/org/training/{team.delivery_id}").get_data(as_text=True)
    admin.post(f"/org/training/{team.delivery_id}/close", data={"csrf_token": csrf_token_from(page)})
    mine = _outbox(run_in_app, OutboxMessage.topic == f"delivery:{team.delivery_id}")
    others = _outbox(run_in_app, OutboxMessage.topic != f"delivery:{team.delivery_id}")
    assert {m.status for m in mine} == {OutboxStatus.CANCELLED}
    assert {m.status for m in others} == {OutboxStatus.PENDING}


# --- escalation to the managers ------------------------------------------------------------------------------


def _escalate(run_in_app, at):
    return run_in_app(lambda: delivery_services.run_escalations(at))


def test_managers_get_one_email_listing_their_overdue_learners_at_the_threshold_then_weekly(
    team, run_in_app, mailbox, time_machine
):
    run_in_app(lambda: take(assignment_of(team.delivery_id, team.sales2.id).id, now=MONDAY + timedelta(hours=1)))
    assert _escalate(run_in_app, DUE + timedelta(days=2, hours=23)) == 0

    time_machine.move_to(FIRST_ESCALATION + timedelta(minutes=5))
    assert _escalate(run_in_app, utcnow()) == 2
    assert _escalate(run_in_app, utcnow()) == 0  # a second run (or a second worker) sends nothing more
    (to_manager,) = mailbox(team.manager.email)
    # 第一課 is under 営業部: its learners are manager_a's; the passed one, 開発部's and the one without a
    # department are not listed.
    assert "営業 一郎（S1） 営業部/第一課" in to_manager and "メールなし 五郎（N1）" in to_manager
    assert "営業 二郎" not in to_manager and "開発 三郎" not in to_manager and "所属なし" not in to_manager
    assert "次の2人がまだ合格していません" in to_manager
    assert f"http://portal.test/org/training/{team.delivery_id}" in to_manager
    (to_dev,) = mailbox(team.dev_manager.email)
    assert "開発 三郎（D1）" in to_dev and "営業 一郎" not in to_dev
    assert mailbox(team.sales1.email)[-1:] and not any("まだ合格していません" in b for b in mailbox(team.sales1.email))

    time_machine.move_to(FIRST_ESCALATION + timedelta(days=4))
    assert _escalate(run_in_app, utcnow()) == 0  # not again every day
    run_in_app(lambda: take(assignment_of(team.delivery_id, team.dev1.id).id))  # late, but passed

    time_machine.move_to(FIRST_ESCALATION + timedelta(days=7, minutes=5))
    assert _escalate(run_in_app, utcnow()) == 1  # a week later: manager_a's people remain, 開発部's passed
    assert len(mailbox(team.manager.email)) == 2 and len(mailbox(team.dev_manager.email)) == 1
    rows = run_in_app(lambda: [(r.manager_id, r.round_no, sorted(r.learner_ids)) for r in db.session.scalars(
        select(DeliveryEscalation).order_by(DeliveryEscalation.id))])
    both = sorted([team.sales1.id, team.silent.id])
    assert rows == [(team.manager.id, 0, both), (team.dev_manager.id, 0, [team.dev1.id]), (team.manager.id, 1, both)]
    assert run_in_app(lambda: db.session.get(Delivery, team.delivery_id).escalation_rounds) == 2


def test_a_worker_that_was_down_sends_only_the_current_round(team, run_in_app):
    late = FIRST_ESCALATION + timedelta(days=15)
    assert _escalate(run_in_app, late) == 2
    rounds = run_in_app(lambda: sorted({r.round_no for r in db.session.scalars(select(DeliveryEscalation))}))
    assert rounds == [2]
    with_claim = run_in_app(lambda: delivery_services.escalate(db.session.get(Delivery, team.delivery_id), 2, late))
    assert with_claim == 0


def _in_two_workers(app, job, at) -> list:
    """``job(at)`` in two threads at once, each with its own session as two workers would; their results."""
    results, errors = [], []
    barrier = threading.Barrier(2)

    def work():
        try:
            barrier.wait(timeout=5)
            with app.app_context(), unscoped("the test reads and writes rows directly"):
                results.append(job(at))
                db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return sorted(results)


def test_two_workers_at_once_tell_each_manager_once(app, team, run_in_app):
    assert _in_two_workers(app, delivery_services.run_escalations, FIRST_ESCALATION) == [0, 2]
    assert len(_outbox(run_in_app, OutboxMessage.template == "training_escalation")) == 2


def test_a_long_list_names_the_first_people_and_counts_the_rest(
    team, run_in_app, mailbox, monkeypatch, time_machine
):
    monkeypatch.setattr(delivery_services, "ESCALATION_LIST_LIMIT", 1)
    time_machine.move_to(FIRST_ESCALATION)
    _escalate(run_in_app, utcnow())
    (body,) = mailbox(team.manager.email)
    assert "次の3人がまだ合格していません" in body and "ほか2人。全員の状況は次のページで確認できます。" in body
    assert body.count("\n- ") == 1


def test_escalation_waits_for_the_sending_window_and_can_be_turned_off(team, run_in_app, login_as, time_machine):
    saturday = jst(2026, 6, 13, 10, 0)
    time_machine.move_to(saturday)
    _escalate(run_in_app, saturday)
    sends = {m.next_attempt_at for m in _outbox(run_in_app, OutboxMessage.template == "training_escalation")}
    assert sends == {jst(2026, 6, 15, 9, 0)}
    shown = _page(login_as(team.admin), team).select_one("#delivery-escalations").get_text()
    assert "期限の3日後から" in shown and "これまで1回・2通（最終 2026/06/13 10:00）" in shown

    off = run_in_app(lambda: deliver(team.admin, add_course(organization_id=None, questions=1).id,
                                     learner_ids=[team.sales1.id], now=MONDAY, due_in=DUE - MONDAY,
                                     escalate_after_days=0).id)
    _escalate(run_in_app, saturday + timedelta(days=30))
    assert run_in_app(lambda: db.session.scalars(
        select(DeliveryEscalation).where(DeliveryEscalation.delivery_id == off)).all()) == []
    text = _page(login_as(team.admin), SimpleNamespace(delivery_id=off)).select_one("#delivery-escalations")
    assert text.get_text().strip() == "知らせない"


def test_the_escalation_setting_is_chosen_on_the_form_and_kept_by_the_next_round(world, run_in_app, login_as):
    course_id = run_in_app(lambda: add_course(organization_id=None).id)
    admin = login_as(world["admin_a"])
    page = admin.get("/org/training/new").get_data(as_text=True)
    assert 'name="escalate_after_days"' in page and 'value="3"' in page
    base = {"csrf_token": csrf_token_from(page), "course_id": course_id, "target_kind": "everyone",
            "starts_at": "2099-01-01T09:00", "due_at": "2099-01-15T18:00", "window_start_hour": 9,
            "window_end_hour": 18, "recurrence": "monthly"}
    refused = admin.post("/org/training/new", data={**base, "escalate_after_days": "61"})
    assert refused.status_code == 422 and "0から60までの日数を入力してください。" in refused.get_data(as_text=True)
    assert admin.post("/org/training/new", data={**base, "escalate_after_days": "5"}).status_code == 303
    first = run_in_app(lambda: db.session.scalar(select(Delivery)))
    assert first.escalate_after_days == 5
    run_in_app(lambda: delivery_services.launch_delivery(db.session.get(Delivery, first.id), now=first.starts_at))
    following = run_in_app(lambda: db.session.scalar(select(Delivery).where(Delivery.previous_round_id == first.id)))
    assert following.escalate_after_days == 5


def test_the_worker_runs_the_escalation_and_summary_jobs():
    from portal.jobs import REGISTRY

    assert REGISTRY["training.escalations"].func is delivery_services.run_escalations
    assert REGISTRY["weekly_summary.send"].func is send_weekly_summaries


# --- the administrators' weekly summary ---------------------------------------------------------------------


def test_the_summary_week_starts_on_monday_at_eight_in_tokyo():
    assert summary_week(jst(2026, 6, 8, 7, 59)) is None
    assert str(summary_week(jst(2026, 6, 8, 8, 0))) == "2026-06-08"
    assert str(summary_week(jst(2026, 6, 14, 23, 59))) == "2026-06-08"


def test_administrators_get_the_weekly_summary_once_unless_they_turned_it_off(
    team, world, make_user, make_org, login_as, run_in_app, mailbox, time_machine
):
    from tests.inspection_helpers import add_edition, answer_all, open_round, response_of

    quiet_admin = make_user(Role.ORG_ADMIN, team.org, name="静か 管理者")
    idle_org = make_org("株式会社アイドル")
    idle_admin = make_user(Role.ORG_ADMIN, idle_org)
    suspended = make_org("株式会社停止中", status=OrganizationStatus.SUSPENDED)
    make_user(Role.ORG_ADMIN, suspended, email="suspended-admin@example.com")
    run_in_app(lambda: take(assignment_of(team.delivery_id, team.sales2.id).id, now=MONDAY + timedelta(hours=1)))

    def inspection():
        edition_id, items = add_edition(team.org.id, items=2)
        inspection_round = open_round(team.admin, edition_id, person_ids=[team.sales1.id, team.dev1.id],
                                      now=DUE, due_in=timedelta(days=10), title="6月の点検")
        answer_all(response_of(inspection_round.id, team.sales1.id).id, {items[0]: "yes", items[1]: "no"}, now=DUE)

    run_in_app(inspection)
    # Organizations that started after Monday 8:00 wait for the next Monday: these started long before.
    run_in_app(lambda: db.session.execute(update(Organization).values(created_at=MONDAY - timedelta(days=90))))

    # The administrator who does not want it says so on the organization's home page.
    time_machine.move_to(DUE + timedelta(hours=1))
    quiet = login_as(quiet_admin)
    home = quiet.get("/org/").get_data(as_text=True)
    switch = BeautifulSoup(home, "html.parser").select_one("#mail-settings input[name=wanted]")
    assert switch.has_attr("checked")
    response = quiet.post("/org/weekly-summary", data={"csrf_token": csrf_token_from(home)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/org/#mail-settings")
    assert run_in_app(lambda: db.session.get(User, quiet_admin.id).wants_weekly_summary) is False
    home = BeautifulSoup(quiet.get("/org/").get_data(as_text=True), "html.parser")
    assert not home.select_one("#mail-settings input[name=wanted]").has_attr("checked")
    assert "週次サマリーを止めました。" in home.get_text()

    monday = jst(2026, 6, 15, 8, 0)  # DUE + 7 days: the delivery is overdue
    assert run_in_app(lambda: send_weekly_summaries(monday - timedelta(minutes=1))) == 0
    time_machine.move_to(monday + timedelta(minutes=10))
    assert run_in_app(lambda: send_weekly_summaries(utcnow())) == 1
    assert run_in_app(lambda: send_weekly_summaries(utcnow() + timedelta(days=2))) == 0  # once a week
    (summary,) = mailbox(team.admin.email)
    assert "標的型メール訓練（期限 2026/06/08 10:00）: 合格 1 / 5人 20%" in summary
    assert "期限切れ 4人" in summary
    assert "6月の点検" in summary and "提出 1 / 2件 遵守率 50%" in summary
    assert "http://portal.test/org/#mail-settings" in summary
    assert mailbox(quiet_admin.email) == [] and mailbox(idle_admin.email) == []
    assert mailbox("suspended-admin@example.com") == []
    # An organization that started on Sunday evening gets its first summary the next Monday.
    newcomer = make_org("株式会社ニューカマー")
    run_in_app(lambda: db.session.execute(update(Organization).where(Organization.id == newcomer.id)
                                          .values(created_at=monday - timedelta(hours=14))))
    make_user(Role.LEARNER, newcomer)
    run_in_app(lambda: deliver(make_user(Role.ORG_ADMIN, newcomer), add_course(organization_id=None).id))
    assert run_in_app(lambda: send_weekly_summaries(monday + timedelta(hours=2))) == 0
    assert not run_in_app(lambda: db.session.scalars(
        select(WeeklySummary).where(WeeklySummary.organization_id == newcomer.id)).all())
    claimed = run_in_app(lambda: {(r.organization_id, str(r.week_of), r.recipients)
                                  for r in db.session.scalars(select(WeeklySummary))})
    # Organizations with nothing open get no email, but their week is done all the same.
    assert claimed == {(team.org.id, "2026-06-15", 1), (world["org_b"].id, "2026-06-15", 0),
                       (idle_org.id, "2026-06-15", 0)}
    changed = run_in_app(lambda: db.session.scalar(
        select(AuditEvent.details).where(AuditEvent.action == "account.weekly_summary_changed")))
    assert changed == {"wanted": False}


def test_two_workers_at_once_queue_the_summary_once(app, team, run_in_app):
    monday = jst(2026, 6, 15, 8, 30)
    run_in_app(lambda: db.session.execute(update(Organization).values(created_at=MONDAY)))
    assert _in_two_workers(app, send_weekly_summaries, monday) == [0, 1]
    assert len(_outbox(run_in_app, OutboxMessage.template == "weekly_summary")) == 1


def test_a_manager_has_no_summary_setting(team, login_as):
    manager = login_as(team.manager)
    assert 'id="mail-settings"' not in manager.get("/org/").get_data(as_text=True)
    token = csrf_token_from(manager.get("/org/").get_data(as_text=True))
    assert manager.post("/org/weekly-summary", data={"csrf_token": token}).status_code == 403


def test_tenant_scope_keeps_each_organizations_summary_apart(team, world, run_in_app):
    with_b = run_in_app(lambda: deliver(world["admin_b"], add_course(organization_id=None, questions=1).id,
                                        now=MONDAY, title="B社の研修").id)
    assert with_b
    texts = {}

    def read():
        from portal.weekly_summary import organization_summary

        for org_id in (team.org.id, world["org_b"].id):
            with tenant_scope(org_id):
                texts[org_id] = [d.title for d in organization_summary(DUE).deliveries]
        return texts

    seen = run_in_app(read)
    assert seen == {team.org.id: ["標的型メール訓練"], world["org_b"].id: ["B社の研修"]}
    assert run_in_app(lambda: db.session.get(Organization, team.org.id).status) == OrganizationStatus.ACTIVE
