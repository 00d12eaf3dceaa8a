"""The operator moves a maintenance window that is on, and the customer's next page is no longer the
maintenance page (#20 item 5)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.browser.test_backoffice_journey import sign_in
from tests.clock import jst
from tests.conftest import PASSWORD
from tests.test_backoffice_notices import local

pytestmark = pytest.mark.browser


def test_operator_moves_a_running_maintenance_and_the_customer_gets_back_in(live_server, browser, world, time_machine):
    now = jst(2027, 1, 20, 10, 0)
    time_machine.move_to(now)
    base = live_server
    operator = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo").new_page()
    sign_in(operator, base, world["operator"].email, PASSWORD)
    operator.wait_for_url(f"{base}/operator/")

    operator.goto(f"{base}/operator/notices/new")
    operator.select_option("#kind", "maintenance")
    operator.fill("#title", "データベースの緊急メンテナンス")
    operator.fill("#body", "ただいま作業中です。")
    operator.fill("#starts_at", local(now - timedelta(minutes=10)))
    operator.fill("#ends_at", local(now + timedelta(hours=3)))
    operator.click("main form button[type=submit]")
    operator.wait_for_url(re.compile(r".*/operator/notices/\d+$"))
    notice_url = operator.url

    customer = browser.new_context(locale="ja-JP", timezone_id="Asia/Tokyo").new_page()
    sign_in(customer, base, world["admin_a"].email, PASSWORD)
    customer.goto(f"{base}/org/")
    assert "ただいまメンテナンス中です" in customer.content()

    # The window was typed for the wrong day: the operator moves it to tomorrow.
    operator.get_by_role("button", name="訂正する").click()
    operator.wait_for_url(re.compile(r".*/operator/notices/\d+/edit$"))
    tomorrow = now + timedelta(days=1)
    operator.fill("#starts_at", local(tomorrow))
    operator.fill("#ends_at", local(tomorrow + timedelta(hours=2)))
    operator.fill("#reason", "日付の入力誤り")
    operator.click("main form button[type=submit]")
    operator.wait_for_url(notice_url)
    history = operator.locator("section", has=operator.locator("#sec-history")).inner_text()
    assert "日付の入力誤り" in history and "メンテナンス開始" in history

    customer.goto(f"{base}/org/")
    assert "ただいまメンテナンス中です" not in customer.content()
    assert customer.locator(".maintenance-banner").count() == 1  # announced for tomorrow instead
