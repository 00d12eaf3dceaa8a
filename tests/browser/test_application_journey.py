"""Applying for the service end to end in Chromium, with the email going through a real SMTP server:
a company applies, confirms its address from the email, the operator approves, and the new
administrator sets a password from the invitation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.clock import today_in_tokyo
from portal.models import utcnow
from portal.worker import Worker
from tests.application_helpers import NTA_NUMBER, make_terms
from tests.browser.helpers import pass_second_step_if_asked
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "cherry blossoms along the river 58"


def deliver(app, smtp, to: str) -> str:
    """Run the worker once (``flask worker --once``) and return the plain text of the last email to ``to``."""
    with app.app_context():
        Worker(clock=utcnow).run_once()
    messages = [m for m in smtp.received() if m["To"] == to]
    assert messages, f"no email to {to}"
    return messages[-1].get_body(preferencelist=("plain",)).get_content()


def local(link_text: str, pattern: str, base: str) -> str:
    path = re.search(rf"http://portal\.test({pattern}\S+)", link_text).group(1)
    return base + path


def test_a_company_applies_confirms_and_is_approved(live_server, browser, desktop, world, run_in_app, app, smtp):
    base = live_server
    run_in_app(make_terms)
    start = today_in_tokyo() + timedelta(days=10)

    # The company applies on a desktop browser.
    page = desktop
    page.goto(f"{base}/apply/")
    assert "利用申込" in page.inner_text("h1")
    box = page.locator("#website").bounding_box()
    assert box is None or box["x"] + box["width"] <= 0  # the honeypot is off-screen
    page.fill("#corporate_name", "株式会社ブラウザ商事")
    page.fill("#corporate_number", "7-0000-1205-0002")
    page.fill("#postal_code", "100-0013")
    page.select_option("#prefecture", "東京都")
    page.fill("#address_line1", "千代田区霞が関3-1-1")
    page.fill("#applicant_name", "申込 太郎")
    page.fill("#applicant_department", "総務部")
    page.fill("#applicant_email", "taro@browser.example.com")
    page.fill("#admin_name", "管理 次郎")
    page.fill("#admin_department", "情報システム部")
    page.fill("#admin_email", "jiro@browser.example.com")
    page.fill("#expected_learners", "25")
    page.fill("#desired_start_on", start.isoformat())
    # Forgetting the services and the terms keeps everything typed and says what is missing.
    page.click("main form button[type=submit]")
    assert "ご利用になるサービスを1つ以上選んでください" in page.content()
    assert "利用規約への同意が必要です" in page.content()
    assert page.input_value("#corporate_name") == "株式会社ブラウザ商事"
    page.check("input[name=services][value=secutore]")
    page.check("#accept_terms")
    page.check("#declare_antisocial")
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/apply/thanks")
    assert "お申込みありがとうございます" in page.inner_text("h1")

    # The confirmation email arrives through SMTP; its link sends the application to the operator.
    text = deliver(app, smtp, "taro@browser.example.com")
    assert "株式会社ブラウザ商事" in text
    page.goto(local(text, "/apply/confirm/", base))
    page.get_by_role("button", name="確認してお申込みを送信する").click()
    page.wait_for_url(f"{base}/apply/confirmed")
    assert "お申込みを受け付けました" in page.content()

    # The operator reviews the queue and approves, completing the contract.
    operator = browser.new_context(locale="ja-JP").new_page()
    operator.goto(f"{base}/login")
    operator.fill("#email", world["operator"].email)
    operator.fill("#password", PASSWORD)
    operator.click("main button[type=submit]")
    pass_second_step_if_asked(operator)
    operator.wait_for_url(f"{base}/operator/")
    operator.get_by_role("link", name="利用申込").first.click()
    operator.wait_for_url(re.compile(r".*/operator/applications/$"))
    row = operator.locator("tr", has_text="株式会社ブラウザ商事")
    assert "審査待ち" in row.inner_text()
    row.get_by_role("link").first.click()
    assert NTA_NUMBER in operator.content()
    # Approval waits for the anti-social-forces screening (Art. 24): recorded first, on the same page.
    operator.select_option("#result", "clear")
    operator.get_by_role("button", name="確認結果を記録する").click()
    operator.wait_for_load_state()
    assert "反社チェックの結果を記録しました" in operator.content()
    assert operator.input_value("#seat_limit") == "25"
    assert operator.input_value("#starts_on") == start.isoformat()
    operator.fill("#annual_fee", "150000")
    operator.fill("#overage_unit_price", "2000")
    operator.get_by_role("button", name="承認して組織を登録する").click()
    operator.wait_for_url(re.compile(r".*/operator/organizations/\d+$"))
    assert "株式会社ブラウザ商事" in operator.inner_text("h1")

    # The administrator sets a password from the invitation of the back office.
    text = deliver(app, smtp, "jiro@browser.example.com")
    admin = browser.new_context(locale="ja-JP").new_page()
    admin.goto(local(text, "/invitation/", base))
    admin.fill("#new_password", ADMIN_PASSWORD)
    admin.fill("#confirm_password", ADMIN_PASSWORD)
    admin.click("main form button[type=submit]")
    # First the current terms, then the registration form, already holding the application's address.
    admin.wait_for_url(re.compile(rf"{re.escape(base)}/legal/accept.*"))
    assert "パスワードを設定しました" in admin.content()
    admin.click("main form button[type=submit]")
    admin.wait_for_url(f"{base}/org/profile")
    assert admin.input_value("#postal_code") == "100-0013"
    assert admin.input_value("#address_line1") == "千代田区霞が関3-1-1"
    approved = [m for m in smtp.received() if m["To"] == "taro@browser.example.com"]
    assert any("承認しました" in str(m["Subject"]) for m in approved)
