"""Someone who cannot sign in writes to the desk from a 360 px phone, confirms the address from the email
(through a real SMTP server), and support's answer reaches them by email: no account needed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.models import utcnow
from portal.worker import Worker
from tests.browser.experience import assert_fits_phone
from tests.browser.helpers import pass_second_step_if_asked
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SENDER = "hanako@somewhere.example.com"


def deliver(app, smtp, to: str) -> str:
    """Run the worker once and return the plain text of the last email to ``to``."""
    with app.app_context():
        Worker(clock=utcnow).run_once()
    messages = [m for m in smtp.received() if m["To"] == to]
    assert messages, f"no email to {to}"
    return messages[-1].get_body(preferencelist=("plain",)).get_content()


def test_a_person_who_cannot_sign_in_writes_confirms_and_gets_the_answer(
    live_server, browser, browser_context_args, world, app, smtp
):
    base = live_server
    context = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo", viewport={"width": 360, "height": 740},
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)

    # From the sign-in page to the contact page.
    page.goto(f"{base}/login")
    page.get_by_role("link", name="お問い合わせ", exact=True).click()
    page.wait_for_url(f"{base}/contact/")
    expect(page.get_by_role("heading", name="サポート窓口の対応時間")).to_be_visible()
    expect(page.get_by_role("link", name=app.config["ONCALL_EMAIL"])).to_be_visible()
    assert_fits_phone(page, "contact page")
    box = page.locator("#website").bounding_box()
    assert box is None or box["x"] + box["width"] <= 0  # the honeypot is off-screen

    page.get_by_label("お名前").fill("佐藤 花子")
    page.get_by_label("会社名").fill("株式会社サムウェア")
    page.get_by_label("メールアドレス").fill(SENDER)
    page.get_by_label("種類").select_option(label="不具合")
    # A missing subject keeps everything typed and says what is missing.
    page.get_by_label("内容").fill("パスワードを再設定してもサインインできません。")
    page.get_by_role("button", name="確認メールを送る").click()
    expect(page.locator("#subject-error")).to_contain_text("件名を入力してください")
    assert page.input_value("#email") == SENDER
    assert_fits_phone(page, "contact form with errors")
    page.get_by_label("件名").fill("サインインできません")
    page.get_by_role("button", name="確認メールを送る").click()
    page.wait_for_url(f"{base}/contact/sent")
    expect(page.get_by_role("heading", level=1)).to_have_text("確認メールをお送りしました")

    # The confirmation email arrives through SMTP; its link (then a button) sends the message to the desk.
    text = deliver(app, smtp, SENDER)
    path = re.search(r"http://portal\.test(/contact/confirm/\S+)", text).group(1)
    page.goto(base + path)
    assert_fits_phone(page, "confirmation page")
    page.get_by_role("button", name="お問い合わせを送信する").click()
    page.wait_for_url(f"{base}/contact/received")
    flash = page.locator("#flash")
    expect(flash).to_contain_text("受付番号 #")
    number = re.search(r"#(\d+)", flash.inner_text()).group(1)
    assert_fits_phone(page, "received page")

    # Support finds it at the desk and answers.
    support = browser.new_context(**browser_context_args).new_page()
    support.set_default_timeout(10_000)
    support.goto(f"{base}/login")
    support.get_by_label("メールアドレス").fill(world["support"].email)
    support.get_by_label("パスワード").fill(PASSWORD)
    support.get_by_role("button", name="ログイン").click()
    pass_second_step_if_asked(support)
    support.goto(f"{base}/tickets/desk")
    row = support.locator("table.queue tbody tr", has_text="サインインできません")
    expect(row).to_contain_text(SENDER)
    row.get_by_role("link", name="サインインできません").click()
    support.get_by_label("返信・メモ").fill("管理者の方にパスワードの再設定を依頼してください。")
    support.get_by_role("button", name="送信する").click()
    expect(support.locator("#flash")).to_contain_text("返信を送信しました")

    # The answer itself reaches the sender's mailbox.
    answer = deliver(app, smtp, SENDER)
    assert f"#{number}" in answer and "管理者の方にパスワードの再設定を依頼してください。" in answer
    support.context.close()
    context.close()
