"""The operator's inbox end to end in Chromium (#20 item 1): a customer administrator asks to end the
service, the operator is emailed (real SMTP) and finds it in the inbox, and marks it handled."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import InboxItem
from tests.browser.test_backoffice_journey import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_a_termination_request_reaches_the_operators_inbox_and_is_handled(
    app, live_server, browser, world, run_in_app, mailbox
):
    base = live_server
    end_on = today_in_tokyo() + timedelta(days=45)

    # The customer's administrator asks to end the service (Art. 15).
    admin = browser.new_context(locale="ja-JP").new_page()
    sign_in(admin, base, world["admin_a"].email, PASSWORD)
    admin.goto(f"{base}/org/termination")
    admin.fill("#end_on", end_on.isoformat())
    admin.fill("#reason", "社内研修を内製化するため")
    admin.click("main form button[type=submit]")
    admin.wait_for_load_state()
    assert "運営事務局の受領待ち" in admin.content()

    # The operator's address gets the email over SMTP, with the item's link.
    [body] = [b for b in mailbox(app.config["OPERATOR_EMAIL"]) if "種類: 利用終了の申し入れ" in b]
    assert "株式会社エー" in body
    item_path = re.search(r"http://portal\.test(/operator/inbox/\d+)", body).group(1)

    # The start page counts it; the inbox lists it; the item page marks it handled with a note.
    operator = browser.new_context(locale="ja-JP").new_page()
    sign_in(operator, base, world["operator"].email, PASSWORD)
    operator.wait_for_url(f"{base}/operator/")
    assert "未対応" in operator.inner_text("#inbox")
    operator.click("#inbox h2 a")
    operator.wait_for_url(re.compile(r".*/operator/inbox$"))
    assert "株式会社エー" in operator.inner_text("#inbox-items")
    operator.click(f"#inbox-items a[href='{item_path}']")
    operator.wait_for_url(f"{base}{item_path}")
    operator.fill("#note", "受領処理を行い、お客さまに連絡済み")
    operator.click("main form button[type=submit]")
    operator.wait_for_url(re.compile(r".*/operator/inbox$"))
    assert "対応済みにしました。" in operator.content()
    # Still open: the world's overdue invoice, which the worker's sweep put in the inbox; not the termination.
    assert "利用終了の申し入れ" not in operator.inner_text("#inbox-items")

    def handled():
        item = db.session.scalar(select(InboxItem).where(InboxItem.kind == "termination"))
        return item.handled_by_id, item.note

    assert run_in_app(handled) == (world["operator"].id, "受領処理を行い、お客さまに連絡済み")
