"""The public contact page (#20, Art. 10): hours and the emergency address, a form that becomes a ticket
once the sender confirms their address, and the answer that reaches them by email without an account."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal.blueprints.tickets import services
from portal.extensions import db
from portal.models import ContactRequest, DeskBreak, Ticket, TicketEvent
from tests.clock import jst
from tests.conftest import csrf_token_from
from tests.learner_helpers import post_form

CONFIRM_LINK = re.compile(r"http://portal\.test(/contact/confirm/[A-Za-z0-9_\-]+)")
SENDER = "yamada@outside.example.com"


def form(**overrides) -> dict:
    data = {
        "name": "山田 太郎",
        "company": "株式会社アウトサイド",
        "email": SENDER,
        "category": "question",
        "subject": "パスワード再設定のメールが届きません",
        "body": "サインインできません。\n再設定のメールも届きません。",
    }
    data.update(overrides)
    return data


def send(client, **overrides):
    token = csrf_token_from(client.get("/contact/").get_data(as_text=True))
    return client.post("/contact/", data={**form(**overrides), "csrf_token": token})


def confirm(client, path):
    return post_form(client, path)


def count(run_in_app, model) -> int:
    return run_in_app(lambda: db.session.scalar(select(func.count()).select_from(model)))


def only_ticket(run_in_app) -> Ticket:
    def load():
        ticket = db.session.scalars(select(Ticket)).one()
        db.session.expunge(ticket)
        return ticket

    return run_in_app(load)


def link_in(mails: list[str]) -> str:
    [mail] = [m for m in mails if "/contact/confirm/" in m]
    return CONFIRM_LINK.search(mail).group(1)


def test_the_page_tells_the_hours_the_breaks_and_the_emergency_address(app, client, run_in_app, time_machine):
    time_machine.move_to(jst(2026, 11, 28, 10, 0))  # a Saturday
    run_in_app(lambda: db.session.add(DeskBreak(name="夏季休業", first_day=jst(2026, 12, 1).date(),
                                                last_day=jst(2026, 12, 2).date())))
    page = BeautifulSoup(client.get("/contact/").get_data(as_text=True), "html.parser")
    text = page.get_text(" ")
    assert "9:00〜18:00" in text and "2営業日以内" in text
    assert "ただいま対応時間外です" in text and "2026/11/30" in text  # the next opening: Monday
    assert "夏季休業" in text
    mail_link = page.select_one(f'a[href="mailto:{app.config["ONCALL_EMAIL"]}"]')
    assert mail_link is not None and "第10条第7項" in text
    # The honeypot is hidden by a class (strict CSP: no inline style).
    honeypot = page.select_one("input#website")
    assert "hp" in honeypot.find_parent("div")["class"] and not page.select("[style]")
    # Linked from the sign-in page and every page's footer.
    assert 'href="/contact/"' in client.get("/login").get_data(as_text=True)
    assert 'href="/contact/"' in client.get("/apply/").get_data(as_text=True)


def test_the_whole_flow_confirmation_ticket_alert_and_the_answer_by_email(
    app, client, world, login_as, mailbox, run_in_app, time_machine
):
    time_machine.move_to(jst(2026, 11, 25, 10, 0), tick=False)  # a Wednesday, in business hours
    response = send(client)
    assert response.status_code == 303 and response.headers["Location"].endswith("/contact/sent")
    assert "確認メールをお送りしました" in client.get("/contact/sent").get_data(as_text=True)
    # Nothing reaches the desk before the address is confirmed.
    assert count(run_in_app, Ticket) == 0 and count(run_in_app, ContactRequest) == 1
    path = link_in(mailbox(SENDER))

    # A mail scanner that opens the link changes nothing; the button does.
    page = client.get(path).get_data(as_text=True)
    assert "パスワード再設定のメールが届きません" in page and count(run_in_app, Ticket) == 0
    done = confirm(client, path)
    assert done.status_code == 303 and done.headers["Location"].endswith("/contact/received")
    ticket = only_ticket(run_in_app)
    received = client.get("/contact/received").get_data(as_text=True)
    assert f"#{ticket.id}" in received and "2026/11/27 10:00" in received  # 2 business days
    assert ticket.organization_id is None and ticket.requester_id is None
    assert (ticket.contact_name, ticket.contact_company, ticket.contact_email) == (
        "山田 太郎", "株式会社アウトサイド", SENDER)
    assert ticket.sla_due_at == jst(2026, 11, 27, 10, 0)
    assert count(run_in_app, ContactRequest) == 0
    # The desk is alerted as for any new ticket.
    [alert] = mailbox(app.config["SUPPORT_EMAIL"])
    assert f"/tickets/{ticket.id}" in alert and "株式会社アウトサイド" in alert

    # The link works once.
    again = confirm(client, path)
    assert again.status_code == 404 and "すでに使われた" in again.get_data(as_text=True)
    assert count(run_in_app, Ticket) == 1

    # Support sees the sender and answers from the desk; no customer organization sees the ticket.
    support = login_as(world["support"])
    desk = support.get("/tickets/desk").get_data(as_text=True)
    assert "パスワード再設定のメールが届きません" in desk and SENDER in desk
    assert SENDER in support.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    answer = post_form(support, f"/tickets/{ticket.id}/reply",
                       {"body": "ご登録の組織の管理者に再設定を依頼してください。", "next_status": "waiting"},
                       page=f"/tickets/{ticket.id}")
    assert answer.status_code == 303
    mails = mailbox(SENDER)
    [reply] = [m for m in mails if f"#{ticket.id}" in m]
    assert "ご登録の組織の管理者に再設定を依頼してください。" in reply and "山田 太郎 様" in reply
    assert "http://portal.test/contact/" in reply
    assert login_as(world["admin_a"]).get(f"/tickets/{ticket.id}").status_code == 404


def test_a_known_customer_address_files_the_ticket_under_their_organization(
    client, world, login_as, mailbox, run_in_app
):
    email = world["admin_a"].email
    assert send(client, email=email.upper(), category="emergency").status_code == 303
    assert confirm(client, link_in(mailbox(email))).status_code == 303
    ticket = only_ticket(run_in_app)
    assert ticket.organization_id == world["org_a"].id and ticket.requester_id == world["admin_a"].id
    assert ticket.contact_email == email and ticket.category == "emergency"
    listing = login_as(world["admin_a"]).get("/tickets/").get_data(as_text=True)
    assert "パスワード再設定のメールが届きません" in listing
    assert login_as(world["admin_b"]).get(f"/tickets/{ticket.id}").status_code == 404


def test_the_answer_does_not_tell_whether_an_address_is_known(client, world, mailbox, run_in_app):
    known = send(client, email=world["admin_a"].email)
    unknown = send(client, email="nobody@outside.example.com")
    assert (known.status_code, known.headers["Location"]) == (unknown.status_code, unknown.headers["Location"])
    assert len(mailbox(world["admin_a"].email)) == 1 and len(mailbox("nobody@outside.example.com")) == 1
    # A staff address never files a ticket under anyone.
    assert send(client, email=world["support"].email).status_code == 303
    assert confirm(client, link_in(mailbox(world["support"].email))).status_code == 303
    ticket = only_ticket(run_in_app)
    assert ticket.organization_id is None and ticket.requester_id is None


def test_an_emergency_out_of_hours_reaches_on_call_when_confirmed(app, client, mailbox, run_in_app, time_machine):
    time_machine.move_to(jst(2026, 11, 28, 22, 0))  # Saturday night
    assert send(client, category="emergency", subject="サービスに接続できません").status_code == 303
    done = confirm(client, link_in(mailbox(SENDER)))
    assert done.status_code == 303
    assert "当番の担当者にメールで連絡しました" in client.get("/contact/received").get_data(as_text=True)
    ticket = only_ticket(run_in_app)
    kinds = run_in_app(lambda: list(db.session.scalars(
        select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))))
    assert "oncall_notified" in kinds and "contact_confirmed" in kinds
    [alert] = mailbox(app.config["ONCALL_EMAIL"])
    assert "サービスに接続できません" in alert


def test_an_expired_link_creates_nothing_and_the_old_request_is_purged(
    app, client, mailbox, run_in_app, time_machine
):
    time_machine.move_to(jst(2026, 11, 25, 10, 0))
    assert send(client).status_code == 303
    path = link_in(mailbox(SENDER))
    time_machine.move_to(jst(2026, 11, 26, 10, 1))  # 24 hours and a minute later
    expired = client.get(path)
    assert expired.status_code == 410 and "有効期限が切れています" in expired.get_data(as_text=True)
    assert confirm(client, path).status_code == 410
    assert count(run_in_app, Ticket) == 0
    # A week after it expired, the unconfirmed message is deleted.
    assert run_in_app(lambda: services.purge_unconfirmed_contacts(jst(2026, 12, 2, 10, 0))) == 0
    assert run_in_app(lambda: services.purge_unconfirmed_contacts(jst(2026, 12, 3, 10, 2))) == 1
    assert count(run_in_app, ContactRequest) == 0


def test_a_wrong_link_is_not_found(client):
    assert client.get("/contact/confirm/" + "x" * 43).status_code == 404
    assert client.get("/contact/confirm/" + "x" * 300).status_code == 404


def test_the_honeypot_answers_politely_and_keeps_nothing(client, mailbox, run_in_app):
    response = send(client, website="http://spam.example.com")
    assert response.status_code == 303 and response.headers["Location"].endswith("/contact/sent")
    assert count(run_in_app, ContactRequest) == 0
    assert mailbox(SENDER) == []


def test_bad_input_keeps_what_was_typed_with_japanese_messages(client, run_in_app):
    response = send(client, email="not-an-address", subject="", category="incident")
    assert response.status_code == 422
    page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    text = page.get_text(" ")
    assert "メールアドレスの形式が正しくありません。" in text and "件名を入力してください。" in text
    assert page.select_one("#name")["value"] == "山田 太郎"
    assert page.select_one("#email")["value"] == "not-an-address"
    assert "再設定のメールも届きません。" in page.select_one("#body").get_text()
    # 事故・障害報告 belongs to signed-in customers: not offered here.
    assert [o["value"] for o in page.select("#category option")] == ["", "question", "request", "bug", "emergency"]
    too_long = send(client, body="あ" * 10_001)
    assert too_long.status_code == 422 and "10000文字以内" in too_long.get_data(as_text=True)
    assert count(run_in_app, ContactRequest) == 0


def test_without_csrf_nothing_is_kept(client, run_in_app):
    assert client.post("/contact/", data=form()).status_code in (400, 422)
    assert count(run_in_app, ContactRequest) == 0


def test_rate_limit_per_email(app, client, run_in_app):
    app.config["RATELIMIT_CONTACT_PER_EMAIL"] = "2 per hour"
    try:
        # Typing errors do not count; sent messages from the same address do.
        assert send(client, subject="").status_code == 422
        assert send(client).status_code == 303
        assert send(client).status_code == 303
        limited = send(client)
        assert limited.status_code == 429 and "しばらく待ってから" in limited.get_data(as_text=True)
        assert send(client, email="other@outside.example.com").status_code == 303
        assert count(run_in_app, ContactRequest) == 3
    finally:
        app.config["RATELIMIT_CONTACT_PER_EMAIL"] = "3 per hour"


def test_rate_limit_per_ip(app, client):
    app.config["RATELIMIT_CONTACT_PER_IP"] = "2 per hour"
    try:
        assert send(client, subject="").status_code == 422
        assert send(client, email="a@outside.example.com").status_code == 303
        assert send(client, email="b@outside.example.com").status_code == 429
    finally:
        app.config["RATELIMIT_CONTACT_PER_IP"] = "10 per hour"


def test_a_huge_request_is_refused_before_anything_is_read(client, run_in_app):
    token = csrf_token_from(client.get("/contact/").get_data(as_text=True))
    response = client.post("/contact/", data={**form(body="x" * 200_000), "csrf_token": token})
    assert response.status_code == 413
    assert count(run_in_app, ContactRequest) == 0

