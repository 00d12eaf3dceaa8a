"""Reminders that escalate: the administrator reminds one learner of an overdue delivery from its results
page; the worker (real SMTP) sends the reminder and tells the learner's manager, in one email, who in their
department has not passed; the manager opens the link from that email and sees the learner; the
administrator's page counts the delivery's emails."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.extensions import db
from portal.models import Department, ManagerDepartment, Role
from tests.clock import jst
from tests.conftest import PASSWORD
from tests.training_helpers import add_course, deliver

pytestmark = pytest.mark.browser


def sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state()


def test_a_reminder_by_hand_and_the_managers_escalation_email(
    live_server, desktop, browser, world, make_user, run_in_app, mailbox, time_machine
):
    org = world["org_a"]

    def department():
        sales = Department(organization_id=org.id, name="営業部", depth=1)
        db.session.add(sales)
        db.session.flush()
        db.session.add(ManagerDepartment(organization_id=org.id, user_id=world["manager_a"].id,
                                         department_id=sales.id))
        return sales.id

    sales = run_in_app(department)
    learner = make_user(Role.LEARNER, org, name="営業 一郎", login_id="S1", department_id=sales)
    # Started three weeks ago, due ten days ago; managers are told 3 days after the due date. The sending window
    # is the whole day, every day.
    now = jst(2027, 1, 20, 10, 0)  # a Wednesday, within the world's contract
    time_machine.move_to(now)
    delivery_id = run_in_app(lambda: deliver(
        world["admin_a"], add_course(organization_id=None, questions=1).id, learner_ids=[learner.id],
        now=now - timedelta(days=21), due_in=timedelta(days=11), title="標的型メール訓練",
        window_start_hour=0, window_end_hour=24, business_days_only=False, escalate_after_days=3,
    ).id)

    admin = desktop
    sign_in(admin, live_server, world["admin_a"].email)
    admin.get_by_role("link", name="研修", exact=True).click()
    admin.get_by_role("link", name="標的型メール訓練").click()
    expect(admin.locator("#delivery-escalations")).to_contain_text("期限の3日後から")
    expect(admin.locator("#delivery-emails")).to_contain_text("送信待ち 1通")
    admin.get_by_role("button", name="営業 一郎さんにリマインドを送る").click()
    expect(admin.get_by_text("営業 一郎さんにリマインドを送ります。")).to_be_visible()
    expect(admin.locator("#delivery-emails")).to_contain_text("送信待ち 2通")
    expect(admin.get_by_role("button", name="営業 一郎さんにリマインドを送る")).to_have_count(0)

    # The worker runs its periodic jobs (the escalation among them) and sends everything over SMTP.
    invitation, reminder = mailbox(learner.email)
    assert "研修「標的型メール訓練」が配信されました" in invitation
    assert "期限" in reminder and "を過ぎています" in reminder
    (escalation,) = mailbox(world["manager_a"].email)
    assert "営業 一郎（S1） 営業部 未受講" in escalation
    path = re.search(r"http://portal\.test(/org/training/\d+)", escalation).group(1)
    assert path == f"/org/training/{delivery_id}"

    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 800})
    try:
        manager = context.new_page()
        sign_in(manager, live_server, world["manager_a"].email)
        manager.goto(live_server + path)
        expect(manager.get_by_role("heading", name="標的型メール訓練")).to_be_visible()
        expect(manager.get_by_role("cell", name="営業 一郎")).to_be_visible()
        expect(manager.get_by_role("button", name=re.compile("リマインド"))).to_have_count(0)
    finally:
        context.close()

    admin.reload()
    expect(admin.locator("#delivery-emails")).to_contain_text("送信済み 3通")
    expect(admin.locator("#delivery-escalations")).to_contain_text("これまで1回・1通")
