"""With scripts disabled in Chromium: an administrator imports learners from a CSV and launches a delivery,
and a learner answers every question of the demo course to the result. Nothing needs JavaScript; htmx
only makes it quicker where it runs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.blueprints.training.courses.services import bank_questions
from portal.demo.courses import seed_demo_course
from tests.conftest import PASSWORD
from tests.training_helpers import deliver, link_for

pytestmark = pytest.mark.browser

CSV = ("受講者ID,氏名,メールアドレス,部署,雇用形態,初期パスワード\r\n"
       "00201,山本 陽菜,hina@example.co.jp,営業部,正社員,\r\n"
       "00202,中村 蓮,,総務部,契約社員,shoki-pass-1\r\n").encode("cp932")


@pytest.fixture
def no_script(browser):
    context = browser.new_context(java_script_enabled=False, locale="ja-JP", timezone_id="Asia/Tokyo",
                                  viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture
def no_script_phone(browser):
    context = browser.new_context(java_script_enabled=False, locale="ja-JP", timezone_id="Asia/Tokyo",
                                  viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def test_an_administrator_imports_learners_and_launches_a_delivery(live_server, no_script, world, run_in_app):
    run_in_app(seed_demo_course)
    page = no_script
    page.goto(f"{live_server}/login")
    assert page.evaluate("typeof window.htmx") == "undefined"  # the page's scripts really did not run
    page.get_by_label("メールアドレス").fill(world["admin_a"].email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/org/$"))

    page.get_by_role("link", name="受講者", exact=True).click()
    page.get_by_role("link", name="CSVで一括登録").click()
    page.get_by_label("CSVファイル").set_input_files(
        files=[{"name": "受講者.csv", "mimeType": "text/csv", "buffer": CSV}])
    page.get_by_role("button", name="内容を確認する").click()
    expect(page.get_by_text("新しく登録: 2 人")).to_be_visible()
    page.get_by_role("button", name="この内容で読み込む").click()
    expect(page.get_by_text("読み込みました。新規 2 人")).to_be_visible()
    expect(page.get_by_role("link", name="00201")).to_be_visible()

    page.get_by_role("link", name="研修", exact=True).click()
    page.get_by_role("button", name="配信する").click()  # a link styled as a button
    page.get_by_label("講座").select_option(label="情報セキュリティ基礎（2026年度）")
    page.get_by_label("送信時間帯（開始時）").fill("0")
    page.get_by_label("送信時間帯（終了時）").fill("24")
    page.get_by_label("営業日だけ送る（土日祝・年末年始を除く）").uncheck()
    page.get_by_role("button", name="配信する").click()
    expect(page.get_by_text("配信を開始しました")).to_be_visible()
    expect(page.get_by_text("山本 陽菜")).to_be_visible()


def test_a_learner_answers_the_demo_course_to_the_result(live_server, no_script_phone, world, run_in_app):
    """Every kind of question (single, multiple, true/false) as plain radio buttons and checkboxes."""
    def make():
        course, _created = seed_demo_course()
        key = {q.text: [c.text for c in q.choices if c.is_correct] for q in bank_questions(course)}
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        return key, link_for(delivery.id, world["learner_a"].id)

    key, link = run_in_app(make)
    page = no_script_phone
    page.goto(f"{live_server}/t/{link}")
    page.get_by_role("button", name="研修を始める").click()
    page.get_by_role("button", name="テストを始める").click()
    for number in range(1, 11):
        expect(page.get_by_text(f"問題 {number} / 10")).to_be_visible()
        right = key[page.locator("fieldset legend strong").inner_text().strip()]
        labels = page.locator("label.choice")
        for i in range(labels.count()):
            if labels.nth(i).inner_text().strip() in right:
                labels.nth(i).click()
        page.get_by_role("button", name=re.compile("保存して")).click()
    expect(page.get_by_text("すべての問題に答えました。")).to_be_visible()
    page.get_by_role("button", name="採点する").click()
    expect(page.locator(".score")).to_contain_text("100点")
    expect(page.get_by_text("合格").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
