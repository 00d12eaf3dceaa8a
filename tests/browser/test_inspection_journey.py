"""セキュレジ on a phone: the administrator sends an inspection from the desktop; the learner opens the
personal link from the email (real SMTP) on an iPhone-sized screen, answers each item as they go (one いいえ
with a comment), submits; the administrator sees it counted, reads the compliance figures and opens a
corrective action for the いいえ. And the same answering with scripts off."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.clock import today_in_tokyo
from tests.conftest import PASSWORD
from tests.inspection_helpers import add_edition, link_for, open_round

pytestmark = pytest.mark.browser


def test_admin_sends_and_the_learner_answers_on_a_phone(live_server, desktop, phone, world, run_in_app, mailbox):
    run_in_app(lambda: add_edition(world["org_a"].id, items=3, title="月次点検"))
    admin = desktop
    admin.goto(live_server + "/login")
    admin.get_by_label("メールアドレス").fill(world["admin_a"].email)
    admin.get_by_label("パスワード").fill(PASSWORD)
    admin.get_by_role("button", name="ログイン").click()
    admin.get_by_role("link", name="点検", exact=True).click()
    admin.get_by_role("button", name="点検を配信する").click()
    admin.get_by_label("点検の版").select_option(label="月次点検（従業員版）")
    # Send at once, whatever the hour this test runs at.
    admin.get_by_label("送信時間帯（開始時）").fill("0")
    admin.get_by_label("送信時間帯（終了時）").fill("24")
    admin.get_by_label("営業日だけ送る（土日祝・年末年始を除く）").uncheck()
    admin.get_by_role("button", name="点検を配信する").click()
    expect(admin.get_by_text("点検を開始しました")).to_be_visible()
    expect(admin.locator("#response-counts tr.total td").nth(1)).to_have_text("1")

    (body,) = mailbox(world["learner_a"].email)
    path = re.search(r"http://portal\.test(/i/\S+)", body).group(1)

    page = phone
    page.goto(live_server + path)
    page.get_by_role("button", name="点検を始める").click()
    expect(page.get_by_role("heading", name=re.compile("月次点検"))).to_be_visible()
    items = page.locator("fieldset.inspection-item")
    expect(items).to_have_count(3)
    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]

    items.nth(0).get_by_label("はい", exact=True).check()
    expect(items.nth(0).locator(".answer-status")).to_have_text("保存しました。")
    items.nth(1).get_by_label("いいえ", exact=True).check()
    expect(items.nth(1).locator(".answer-status")).to_contain_text("コメントに入力してください")
    items.nth(1).locator("textarea").fill("会議室の施錠を忘れた日があった")
    items.nth(1).locator("textarea").press("Tab")
    expect(items.nth(1).locator(".answer-status")).to_have_text("保存しました。")
    items.nth(2).get_by_label("該当なし", exact=True).check()
    expect(items.nth(2).locator(".answer-status")).to_have_text("保存しました。")
    expect(page.locator("#progress")).to_contain_text("回答済み 3 / 3")
    page.get_by_role("button", name="提出する").click()
    expect(page.get_by_text("点検を提出しました")).to_be_visible()
    expect(page.locator("#progress")).to_contain_text("提出済")

    admin.reload()
    expect(admin.locator("#response-counts tr.total td").nth(3)).to_have_text("1")

    # The results: one はい and one いいえ (該当なし does not count) -> 50 %, in the figures and the SVG trend.
    admin.get_by_role("link", name="点検結果", exact=True).first.click()
    expect(admin.locator(".big-rate")).to_have_text("50%")
    expect(admin.locator("svg.trend-chart text.value").last).to_have_text("50")
    # The round's いいえ answers, with the learner's comment -> a corrective action owned by the manager.
    admin.locator("a", has_text="月次点検").first.click()
    admin.get_by_role("button", name="「いいえ」の回答とコメント").click()
    expect(admin.get_by_text("会議室の施錠を忘れた日があった")).to_be_visible()
    admin.get_by_role("button", name="是正処置を登録").first.click()
    admin.get_by_label("担当者").select_option(label=f"{world['manager_a'].name}（マネージャー）")
    admin.get_by_label("期限").fill((today_in_tokyo() + timedelta(days=14)).isoformat())
    admin.get_by_label("対応メモ").fill("退出時の施錠確認を当番制にする。")
    admin.get_by_role("button", name="登録する").click()
    expect(admin.get_by_text("是正処置を登録しました。")).to_be_visible()
    admin.get_by_role("link", name="是正処置", exact=True).first.click()
    row = admin.locator("tbody tr").first
    expect(row).to_contain_text(world["manager_a"].name)
    expect(row).to_contain_text("未着手")


def test_a_learner_without_javascript_answers_and_submits(live_server, browser, playwright, world, run_in_app):
    """Old phone, scripts off: the plain form saves every item at once, refuses いいえ without a comment
    (keeping the input) and submits."""

    def make():
        edition, _items = add_edition(world["org_a"].id, items=2, title="スクリプトなし版")
        found = open_round(world["admin_a"], edition, person_ids=[world["learner_a"].id])
        return link_for(found.id, world["learner_a"].id)

    link = run_in_app(make)
    device = {k: v for k, v in playwright.devices["iPhone 13"].items() if k != "default_browser_type"}
    context = browser.new_context(**device, java_script_enabled=False, locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        page.goto(f"{live_server}/i/{link}")
        page.get_by_role("button", name="点検を始める").click()
        items = page.locator("fieldset.inspection-item")
        items.nth(0).get_by_label("はい", exact=True).check()
        items.nth(1).get_by_label("いいえ", exact=True).check()
        page.get_by_role("button", name="提出する").click()
        expect(page.locator("#sheet-error")).to_be_visible()
        expect(items.nth(1).locator(".answer-status")).to_contain_text("コメントに入力してください")
        expect(items.nth(0).get_by_label("はい", exact=True)).to_be_checked()  # the input is kept
        expect(items.nth(1).get_by_label("いいえ", exact=True)).to_be_checked()
        items.nth(1).locator("textarea").fill("USBメモリを持ち出した")
        page.get_by_role("button", name="提出する").click()
        expect(page.get_by_text("点検を提出しました")).to_be_visible()
        expect(page.locator("#progress")).to_contain_text("提出済")
        expect(page.locator("textarea").nth(1)).to_have_value("USBメモリを持ち出した")
    finally:
        context.close()
