"""A learner who enrolled a second factor opens the personal link from the email on a phone and takes the
test without signing in; the account's own pages (登録情報) ask for the password, then the code (#18)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.models import Role
from tests.conftest import PASSWORD, totp_code
from tests.training_helpers import add_course, deliver

pytestmark = pytest.mark.browser


def test_a_link_takes_the_test_and_the_profile_asks_for_password_and_code(
    live_server, phone, world, make_user, run_in_app, mailbox
):
    learner = make_user(Role.LEARNER, world["org_a"], name="受講 二段", mfa=True)

    def send():
        course = add_course(organization_id=None, questions=2, title="リンクで受ける講座")
        # The whole day, every day: the email goes out whatever the hour this test runs at.
        deliver(world["admin_a"], course.id, learner_ids=[learner.id], window_start_hour=0, window_end_hour=24,
                business_days_only=False)

    run_in_app(send)
    (body,) = mailbox(learner.email)
    path = re.search(r"http://portal\.test(/t/\S+)", body).group(1)

    page = phone
    page.goto(live_server + path)
    page.get_by_role("button", name="研修を始める").click()
    expect(page.get_by_text("メールのリンクから開いています")).to_be_visible()
    page.get_by_role("button", name="テストを始める").click()
    for number in (1, 2):
        expect(page.get_by_text(f"問題 {number} / 2")).to_be_visible()
        page.locator("label.choice", has_text="正しい").click()
        expect(page.locator("#answer-status")).to_have_text("回答を保存しました。")
        page.get_by_role("button", name=re.compile("保存して")).click()
    page.get_by_role("button", name="採点する").click()
    expect(page.locator(".score")).to_contain_text("100点")
    page.get_by_role("button", name="修了証を表示").first.click()
    expect(page.get_by_role("heading", name="修了証")).to_be_visible()

    # The account itself is not opened by the link: 登録情報 asks for the password, then the code.
    page.goto(live_server + "/me/profile")
    expect(page.get_by_role("heading", name="ログイン", exact=True)).to_be_visible()
    expect(page.get_by_text("パスワードでログインしてください")).to_be_visible()
    expect(page.get_by_label("メールアドレス")).to_have_value(learner.email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン", exact=True).click()
    expect(page.get_by_role("heading", name="2段階認証")).to_be_visible()
    page.get_by_label("確認コード").fill(totp_code())
    page.get_by_role("button", name="確認する").click()
    expect(page.get_by_role("heading", name="登録情報")).to_be_visible()
    expect(page.get_by_text(learner.email)).to_be_visible()
    assert page.url == live_server + "/me/profile"
