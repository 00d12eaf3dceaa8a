"""Billing that follows the money, end to end in Chromium (#20): an organization suspended for an overdue
invoice; the operator records a partial payment, then the rest, and resumes the organization; its
administrator is back in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import Invoice
from tests.browser.test_backoffice_journey import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_partial_then_full_payment_resumes_the_organization(
    app, live_server, browser, world, run_in_app, mailbox
):
    base = live_server
    today = today_in_tokyo()
    number = world["invoice_a"].number
    invoice_url = f"{base}/operator/invoices/{world['invoice_a'].id}"
    org_url = f"{base}/operator/organizations/{world['org_a'].id}"

    # org_a's invoice (330,000 yen) ten days past its due date, whatever day the suite runs on.
    def overdue():
        invoice = db.session.get(Invoice, world["invoice_a"].id)
        invoice.issued_on = today - timedelta(days=40)
        invoice.due_on = today - timedelta(days=10)

    run_in_app(overdue)

    # The operator suspends the organization for non-payment from the invoice page.
    operator = browser.new_context(locale="ja-JP").new_page()
    sign_in(operator, base, world["operator"].email, PASSWORD)
    operator.wait_for_url(f"{base}/operator/")
    operator.goto(invoice_url)
    operator.get_by_role("button", name="未払いのため利用停止").click()
    operator.wait_for_url(re.compile(r".*/operator/invoices\?overdue=1$"))
    assert "株式会社エー を利用停止にしました" in operator.content()

    # The administrator signs in and finds the suspended page, not the organization's start page.
    admin = browser.new_context(locale="ja-JP").new_page()
    sign_in(admin, base, world["admin_a"].email, PASSWORD)
    admin.goto(f"{base}/org/")
    assert "ご利用を停止しています" in admin.inner_text("h1")

    # Bad amounts: the Japanese message, and everything typed is still there. Letters typed into the
    # number field reach the server as nothing; 0 reaches it as 0.
    operator.goto(invoice_url)
    assert "利用を再開する" not in operator.content()
    received = (today - timedelta(days=3)).isoformat()
    operator.fill("#received_on", received)
    operator.fill("#amount", "")
    operator.locator("#amount").press_sequentially("abc")
    operator.fill("#payer_name", "ｶ)ｴｰ")
    operator.fill("#note", "一回目の振込")
    operator.get_by_role("button", name="入金を記録する", exact=True).click()
    operator.wait_for_load_state()
    assert "入金額を半角数字(円)で入力してください。" in operator.inner_text("#amount-error")
    assert operator.input_value("#received_on") == received
    assert operator.input_value("#payer_name") == "ｶ)ｴｰ"
    assert operator.input_value("#note") == "一回目の振込"
    operator.fill("#amount", "0")
    operator.get_by_role("button", name="入金を記録する", exact=True).click()
    operator.wait_for_load_state()
    assert "入金額は1円以上の整数で入力してください。" in operator.inner_text("#amount-error")
    assert operator.input_value("#received_on") == received
    assert operator.input_value("#amount") == "0"
    assert operator.input_value("#payer_name") == "ｶ)ｴｰ"
    assert operator.input_value("#note") == "一回目の振込"
    assert "入金はまだありません。" in operator.content()

    # A partial payment: 一部入金, with the balance left.
    operator.fill("#amount", "100000")
    operator.get_by_role("button", name="入金を記録する", exact=True).click()
    operator.wait_for_url(invoice_url)
    assert f"請求書 {number} の残高は 230,000円 です。" in operator.content()
    balance = operator.inner_text("#invoice-balance")
    assert "一部入金" in balance and "230,000円" in balance and "100,000円" in balance
    # Kept as the bank prints it: half-width katakana folded to full width.
    assert "カ)エー" in operator.inner_text("section[aria-labelledby=sec-payments] table")
    assert "利用を再開する" not in operator.content()

    # The rest (the form offers the balance): 入金済み, and the page offers to resume.
    assert operator.input_value("#amount") == "230000"
    operator.fill("#received_on", today.isoformat())
    operator.fill("#payer_name", "カ)エー")
    operator.get_by_role("button", name="入金を記録する", exact=True).click()
    operator.wait_for_url(invoice_url)
    assert f"請求書 {number} は全額入金済みになりました。" in operator.content()
    balance = operator.inner_text("#invoice-balance")
    assert "入金済み" in balance and "330,000円" in balance
    assert operator.locator("#amount").count() == 0  # nothing left to record

    # The operator resumes; the offer is gone and the organization page shows it active.
    operator.locator("#resume-offer").get_by_role("button", name="利用を再開する").click()
    operator.wait_for_url(invoice_url)
    assert "株式会社エー の利用を再開しました" in operator.content()
    assert operator.locator("#resume-offer").count() == 0
    operator.goto(org_url)
    assert "状態: 利用中" in operator.inner_text("main")
    assert f"ご入金を確認しました(請求書 {number})。" in operator.inner_text("section[aria-labelledby=sec-status]")

    # The primary administrator is told by email (real SMTP), and is back on the start page.
    bodies = mailbox(world["admin_a"].email)
    assert any("次の理由により、本サービスのご利用を停止しました。" in body for body in bodies)
    assert any("本サービスのご利用を再開しました。" in body for body in bodies)
    admin.goto(f"{base}/org/")
    assert admin.inner_text("h1") == "株式会社エー"
    again = browser.new_context(locale="ja-JP").new_page()
    sign_in(again, base, world["admin_a"].email, PASSWORD)
    again.goto(f"{base}/org/")
    assert again.inner_text("h1") == "株式会社エー"
