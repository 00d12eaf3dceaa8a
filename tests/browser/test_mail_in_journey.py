"""A customer answers a ticket notification from their mail program; the reply appears on the ticket page."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from playwright.sync_api import expect

from portal.blueprints.tickets import services
from portal.extensions import db
from portal.mail_listener import MailInListener
from portal.models import Ticket, User
from tests.browser.test_ticket_journey import sign_in
from tests.smtp_server import free_port

pytestmark = pytest.mark.browser


def test_a_reply_to_the_notification_email_appears_on_the_ticket(
    live_server, world, browser, browser_context_args, app, make_ticket, run_in_app, smtp, mailbox
):
    ticket = make_ticket(world["admin_a"], subject="証明書が表示されません", body="修了証のページが空白です。")
    run_in_app(lambda: services.staff_reply(
        db.session.get(Ticket, ticket.id), db.session.get(User, world["support"].id),
        "ブラウザのキャッシュを消して、もう一度お試しください。",
    ))
    assert any("このメールに返信すると" in body for body in mailbox(world["admin_a"].email))
    notification = [m for m in smtp.received() if world["admin_a"].email in str(m["To"])][-1]

    answer = EmailMessage()
    answer["From"] = world["admin_a"].email
    answer["To"] = str(notification["Reply-To"])
    answer["Subject"] = "Re: " + str(notification["Subject"])
    answer["Message-ID"] = make_msgid(domain="customer.example.com")
    answer["In-Reply-To"] = str(notification["Message-ID"])
    answer.set_content("キャッシュを消したら表示されました。\n\n"
                       "On Tue, Dec 1, 2026 at 10:00 AM Portal wrote:\n> ブラウザのキャッシュを消して\n")
    listener = MailInListener(app, "127.0.0.1", free_port()).start()
    try:
        with smtplib.SMTP(listener.host, listener.port, timeout=10) as client:
            client.send_message(answer)
    finally:
        listener.stop()

    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.set_default_timeout(10_000)
    sign_in(page, live_server, world["admin_a"].email)
    page.goto(f"{live_server}/tickets/{ticket.id}")
    messages = page.locator(".messages")
    expect(messages).to_contain_text("キャッシュを消したら表示されました。")
    expect(messages).not_to_contain_text("wrote:")
    expect(page.locator(".status-open")).to_be_visible()
    context.close()
