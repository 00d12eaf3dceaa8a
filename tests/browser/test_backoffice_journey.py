"""The back office end to end in Chromium: an organization from creation to suspension and back."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import Contract, Invoice, Organization
from tests.browser.helpers import pass_second_step_if_asked
from tests.conftest import PASSWORD

ADMIN_PASSWORD = "maple leaves on a long train 77"

pytestmark = pytest.mark.browser


def sign_in(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    pass_second_step_if_asked(page)


def test_organization_lifecycle(live_server, browser, world, run_in_app, mailbox):
    base = live_server
    operator = browser.new_context(locale="ja-JP").new_page()
    sign_in(operator, base, world["operator"].email, PASSWORD)
    operator.wait_for_url(f"{base}/operator/")

    # The operator creates the organization and its primary administrator.
    operator.goto(f"{base}/operator/organizations/new")
    operator.fill("#name", "株式会社ジャーニー")
    operator.fill("#plan_name", "スタンダード")
    operator.fill("#starts_on", "2026-04-01")
    operator.fill("#ends_on", "2027-03-31")
    operator.fill("#seat_limit", "30")
    operator.fill("#annual_fee", "180000")
    operator.fill("#overage_unit_price", "2000")
    operator.fill("#admin_name", "旅 太郎")
    operator.fill("#admin_email", "taro@journey.example.com")
    operator.click("main form button[type=submit]")
    operator.wait_for_url(re.compile(r".*/operator/organizations/\d+$"))
    assert "株式会社ジャーニー" in operator.inner_text("h1")
    assert "招待中" in operator.content()
    org_url = operator.url

    # The worker sends the invitation over SMTP; the administrator opens it from the mailbox.
    (body,) = mailbox("taro@journey.example.com")
    link = re.search(r"http://portal\.test(/invitation/\S+)", body).group(1)
    admin = browser.new_context(locale="ja-JP").new_page()
    admin.goto(base + link)
    admin.fill("#new_password", ADMIN_PASSWORD)
    admin.fill("#confirm_password", ADMIN_PASSWORD)
    admin.click("main form button[type=submit]")

    # Before anything else, the organization must be registered.
    admin.wait_for_url(f"{base}/org/profile")
    assert "組織の登録" in admin.inner_text("h1")
    admin.fill("#postal_code", "101-0062")
    admin.select_option("#prefecture", "東京都")
    admin.fill("#address_line1", "千代田区神田駿河台3-1-7")
    admin.fill("#phone", "03-1234-5678")
    admin.click("main form button[type=submit]")
    admin.wait_for_url(f"{base}/org/")
    assert "登録が完了しました" in admin.content()

    # The operator publishes a notice; the administrator reads it on the notice board.
    operator.goto(f"{base}/operator/notices/new")
    operator.fill("#title", "メンテナンス窓口のご案内")
    operator.fill("#body", "お問い合わせはサポート窓口まで。")
    operator.click("main form button[type=submit]")
    operator.wait_for_url(re.compile(r".*/operator/notices/\d+$"))
    admin.goto(f"{base}/org/")
    assert "未読 1件" in admin.content()
    admin.get_by_role("link", name="お知らせ").first.click()
    admin.get_by_role("link", name="メンテナンス窓口のご案内").click()
    assert "お問い合わせはサポート窓口まで。" in admin.content()
    operator.reload()
    assert "1 / 3 組織が既読" in operator.content()  # org_a, org_b and the new one

    # An unpaid invoice past its due date; the operator suspends from the overdue list.
    def overdue_invoice():
        org = db.session.scalar(select(Organization).where(Organization.name == "株式会社ジャーニー"))
        contract = db.session.scalar(select(Contract).where(Contract.organization_id == org.id))
        today = today_in_tokyo()
        db.session.add(
            Invoice(
                organization_id=org.id,
                number="INV-JOURNEY-1",
                recipient_name=org.name,
                plan_name=contract.plan_name,
                period_start=contract.starts_on,
                period_end=contract.ends_on,
                base_amount=180_000,
                seat_limit=30,
                overage_seats=0,
                overage_unit_price=2_000,
                overage_amount=0,
                subtotal=180_000,
                tax_rate=10,
                tax_amount=18_000,
                total=198_000,
                issuer_name="株式会社ワークストラスト",
                registration_number="T1234567890123",
                bank_account="テスト銀行",
                issued_on=today - timedelta(days=40),
                due_on=today - timedelta(days=10),
            )
        )

    run_in_app(overdue_invoice)
    operator.goto(f"{base}/operator/invoices?overdue=1")
    row = operator.locator("tr", has_text="INV-JOURNEY-1")
    row.get_by_role("button", name="未払いのため利用停止").click()
    operator.wait_for_url(re.compile(r".*/operator/invoices\?overdue=1$"))
    assert "利用停止にしました" in operator.content()

    # The administrator sees why, and whom to contact.
    admin.goto(f"{base}/org/")
    assert "ご利用を停止しています" in admin.inner_text("h1")
    assert "第3条第4項" in admin.content()
    admin.get_by_role("link", name="請求書を確認する").click()
    admin.wait_for_url(f"{base}/org/invoices")
    assert "INV-JOURNEY-1" in admin.content()

    # The operator resumes; the administrator is back.
    operator.goto(org_url)
    operator.select_option("#status", "active")
    operator.fill("#reason", "入金を確認しました")
    operator.get_by_role("button", name="状態を変更する").click()
    operator.wait_for_url(org_url)
    assert "利用中" in operator.content()
    admin.goto(f"{base}/org/")
    assert admin.inner_text("h1") == "株式会社ジャーニー"
