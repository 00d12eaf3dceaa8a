"""The administrator delivers the demo course; the learner opens the personal link from the email on a
phone, fails once (sees 不正解 without the answers), retakes and passes; the administrator sees 合格 and
downloads the record (受講記録)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.blueprints.training.courses.services import bank_questions
from portal.demo.courses import seed_demo_course
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def answer_key(run_in_app) -> dict[str, list[str]]:
    def read():
        course, _created = seed_demo_course()
        return {q.text: [c.text for c in q.choices if c.is_correct] for q in bank_questions(course)}

    return run_in_app(read)


def answer_all(page, key, *, wrong_first: bool) -> None:
    for number in range(1, 11):
        expect(page.get_by_text(f"問題 {number} / 10")).to_be_visible()
        legend = page.locator("fieldset legend strong").inner_text().strip()
        right = key[legend]
        labels = page.locator("label.choice")
        if wrong_first and number == 1:
            for i in range(labels.count()):
                if labels.nth(i).inner_text().strip() not in right:
                    labels.nth(i).click()
                    break
        else:
            for i in range(labels.count()):
                if labels.nth(i).inner_text().strip() in right:
                    labels.nth(i).click()
        # Saved by htmx when chosen, before moving on.
        expect(page.locator("#answer-status")).to_have_text("回答を保存しました。")
        page.get_by_role("button", name=re.compile("保存して")).click()
    expect(page.get_by_role("heading", name="回答の確認")).to_be_visible()
    page.get_by_role("button", name="採点する").click()


def test_deliver_fail_retake_pass_and_download(live_server, desktop, phone, world, run_in_app, mailbox):
    key = answer_key(run_in_app)
    admin = desktop
    admin.goto(live_server + "/login")
    admin.get_by_label("メールアドレス").fill(world["admin_a"].email)
    admin.get_by_label("パスワード").fill(PASSWORD)
    admin.get_by_role("button", name="ログイン").click()
    admin.get_by_role("link", name="研修", exact=True).click()
    admin.get_by_role("button", name="配信する").click()
    admin.get_by_label("講座").select_option(label="情報セキュリティ基礎（2026年度）")
    # Send at once, whatever the hour this test runs at: a window of the whole day, every day.
    admin.get_by_label("送信時間帯（開始時）").fill("0")
    admin.get_by_label("送信時間帯（終了時）").fill("24")
    admin.get_by_label("営業日だけ送る（土日祝・年末年始を除く）").uncheck()
    admin.get_by_role("button", name="配信する").click()
    expect(admin.get_by_text("配信を開始しました")).to_be_visible()
    expect(admin.get_by_text("未受講")).to_be_visible()

    # The worker sends the delivery over SMTP; the learner opens the personal link from the mailbox.
    (body,) = mailbox(world["learner_a"].email)
    path = re.search(r"http://portal\.test(/t/\S+)", body).group(1)

    page = phone
    page.goto(live_server + path)
    page.get_by_role("button", name="研修を始める").click()
    page.get_by_role("button", name="テストを始める").click()
    answer_all(page, key, wrong_first=True)
    expect(page.get_by_text("不合格").first).to_be_visible()
    expect(page.locator(".mark-incorrect")).to_have_count(1)
    expect(page.get_by_text("（正解）")).to_have_count(0)

    page.get_by_role("button", name="もう一度受ける").click()
    answer_all(page, key, wrong_first=False)
    expect(page.locator(".score")).to_contain_text("100点")
    expect(page.get_by_text("（正解）").first).to_be_visible()
    page.get_by_role("button", name="修了証を表示").first.click()
    expect(page.get_by_role("heading", name="修了証")).to_be_visible()

    admin.reload()
    expect(admin.get_by_text("全員が合格しました。")).to_be_visible()
    with admin.expect_download() as info:
        admin.get_by_role("button", name="受講記録 CSV").click()
    record = open(info.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115, PTH123
    assert "受講 A" in record and '"合格"' in record


# Without JavaScript, the learner's whole test (every kind of question) is in test_without_javascript.py.
