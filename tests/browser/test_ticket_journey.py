"""An administrator opens a ticket, support answers it, the administrator sees the answer and the kept promise."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import pass_second_step_if_asked
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    pass_second_step_if_asked(page)


def test_admin_opens_a_ticket_and_support_answers_within_the_promise(live_server, world, browser, browser_context_args):
    admin_context = browser.new_context(**browser_context_args)
    admin = admin_context.new_page()
    admin.set_default_timeout(10_000)
    sign_in(admin, live_server, world["admin_a"].email)
    admin.get_by_role("link", name="お問い合わせ").first.click()
    admin.get_by_role("button", name="新しいお問い合わせ").click()
    admin.get_by_label("種類").select_option(label="質問")
    admin.get_by_label("件名").fill("受講者の追加方法")
    admin.get_by_label("お問い合わせ内容").fill("CSVで受講者をまとめて追加する方法を教えてください。")
    admin.get_by_role("button", name="送信する").click()
    expect(admin.get_by_role("heading", level=1)).to_contain_text("受講者の追加方法")
    expect(admin.locator("#promise")).to_contain_text("回答期限")
    ticket_url = admin.url

    support_context = browser.new_context(**browser_context_args)
    support = support_context.new_page()
    support.set_default_timeout(10_000)
    sign_in(support, live_server, world["support"].email)
    support.goto(f"{live_server}/tickets/desk")
    row = support.locator("table.queue tbody tr", has_text="受講者の追加方法")
    expect(row).to_have_count(1)
    row.get_by_role("link", name="受講者の追加方法").click()
    support.get_by_label("返信・メモ").fill("受講者一覧の「CSVで追加」からアップロードできます。")
    support.get_by_label("返信後の状態").select_option(label="解決済み")
    support.get_by_role("button", name="送信する").click()
    expect(support.locator("#flash")).to_contain_text("返信を送信しました")

    admin.goto(ticket_url)
    expect(admin.locator(".messages")).to_contain_text("CSVで追加")
    expect(admin.locator("#promise")).to_contain_text("期限内に回答しました")
    expect(admin.locator(".status-resolved")).to_have_text(re.compile("解決済み"))
    admin_context.close()
    support_context.close()


def test_an_oversized_attachment_is_stopped_before_sending_and_the_text_stays(live_server, world, browser,
                                                                              browser_context_args):
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, live_server, world["admin_a"].email)
    page.goto(f"{live_server}/tickets/new")
    page.get_by_label("件名").fill("大きなファイル")
    page.get_by_label("お問い合わせ内容").fill("消えてほしくない本文")
    page.locator("#attachments").set_input_files(
        [{"name": "大きい.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * (6 * 1024 * 1024)}]
    )
    page.get_by_role("button", name="送信する").click()
    expect(page).to_have_url(f"{live_server}/tickets/new")
    expect(page.get_by_label("お問い合わせ内容")).to_have_value("消えてほしくない本文")
    assert page.locator("#attachments").evaluate("el => el.validationMessage").startswith("ファイルが大きすぎる")
    context.close()
