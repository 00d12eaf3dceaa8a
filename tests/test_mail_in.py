"""Email into tickets: replies sent with smtplib to the real listener (``flask mail-in``) on a free port."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from portal.blueprints.tickets import mail_in, services
from portal.blueprints.tickets.reply_address import reply_address, ticket_id_from_address
from portal.extensions import db
from portal.mail_listener import MailInListener
from portal.models import AuditEvent, OutboxMessage, Ticket, TicketAttachment, TicketMessage, TicketStatus, User
from tests.conftest import PDF_BYTES
from tests.smtp_server import free_port

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def listener(app):
    server = MailInListener(app, "127.0.0.1", free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def ticket(world, make_ticket):
    return make_ticket(world["admin_a"], subject="ログインできません", body="パスワードを入れても戻されます。")


def address_of(app, ticket_id: int) -> str:
    with app.app_context():
        return reply_address(ticket_id)


def reply(sender: str, to: str, body: str, *, message_id: str | None = None, files=(), **headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "Re: お問い合わせ"
    msg["Message-ID"] = message_id or make_msgid(domain="customer.example.com")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    for name, data in files:
        maintype, subtype = ("application", "pdf") if name.endswith(".pdf") else ("application", "octet-stream")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def send(listener, msg: EmailMessage | bytes, to: str | None = None, sender: str = "someone@example.com"):
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as client:
        if isinstance(msg, bytes):
            return client.sendmail(sender, [to], msg)
        return client.send_message(msg)


def messages_of(run_in_app, ticket_id: int) -> list[tuple[str, bool, int]]:
    def read():
        rows = db.session.scalars(
            select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
        ).all()
        return [(m.body, m.from_staff, len(m.attachments)) for m in rows]

    return run_in_app(read)


def returned_mail(run_in_app) -> list[tuple[str, str]]:
    def read():
        rows = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.template == "tickets_mail_returned").order_by(OutboxMessage.id)
        ).all()
        return [(m.to_address, m.body_text) for m in rows]

    return run_in_app(read)


def refusals(run_in_app) -> list[dict]:
    def read():
        rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.mail_in_refused")).all()
        return [dict(r.details or {}) for r in rows]

    return run_in_app(read)


# --- the reply address ----------------------------------------------------------------------------------


def test_the_reply_address_names_its_ticket_and_a_changed_code_or_id_names_none(app):
    with app.app_context():
        address = reply_address(42)
        assert address.startswith("support+t42.") and address.endswith("@reply.portal.test")
        assert ticket_id_from_address(address) == 42
        assert ticket_id_from_address(address.upper()) == 42
        local, domain = address.split("@")
        assert ticket_id_from_address(local.replace("+t42.", "+t43.") + "@" + domain) is None
        assert ticket_id_from_address(local[:-1] + ("0" if local[-1] != "0" else "1") + "@" + domain) is None
        assert ticket_id_from_address(local + "@elsewhere.example.com") is None
        assert ticket_id_from_address("support@reply.portal.test") is None


def test_the_customers_notification_carries_the_reply_address(world, ticket, run_in_app, smtp, mailbox, app):
    def answer():
        services.staff_reply(db.session.get(Ticket, ticket.id), db.session.get(User, world["support"].id), "回答です。")

    run_in_app(answer)
    bodies = mailbox(world["admin_a"].email)
    assert any("このメールに返信すると" in body for body in bodies)
    sent = [m for m in smtp.received() if world["admin_a"].email in str(m["To"])]
    assert str(sent[-1]["Reply-To"]) == address_of(app, ticket.id)
    desk = [m for m in smtp.received() if "support-desk@staff.example.com" in str(m["To"])]
    assert desk and str(desk[0]["Reply-To"]) == address_of(app, ticket.id)


# --- replies that are added --------------------------------------------------------------------------


def test_a_reply_is_added_without_the_quoted_text(world, ticket, listener, run_in_app, app):
    run_in_app(lambda: services.staff_reply(db.session.get(Ticket, ticket.id),
                                            db.session.get(User, world["support"].id), "再起動してください。"))
    body = (
        "再起動したら直りました。\nありがとうございました。\n\n"
        "2026年12月1日(火) 10:00 サポート <support@reply.portal.test>:\n> 再起動してください。\n> 以上\n"
    )
    send(listener, reply(world["admin_a"].email, address_of(app, ticket.id), body))
    messages = messages_of(run_in_app, ticket.id)
    assert messages[-1] == ("再起動したら直りました。\nありがとうございました。", False, 0)
    state = get(run_in_app, ticket.id)
    assert state.status == TicketStatus.OPEN


def get(run_in_app, ticket_id):
    def read():
        t = db.session.get(Ticket, ticket_id)
        db.session.expunge(t)
        return t

    return run_in_app(read)


@pytest.mark.parametrize(
    "text",
    [
        "了解です。\n\nOn Tue, Dec 1, 2026 at 10:00 AM Support <s@example.com> wrote:\n> 前の文\n",
        "了解です。\n\nOn Tue, Dec 1, 2026 at 10:00 AM Support\n<s@example.com> wrote:\n> 前の文\n",
        "了解です。\n\n-----Original Message-----\nFrom: Support\nSent: Tuesday\n前の文\n",
        "了解です。\n\n-----元のメッセージ-----\n差出人: サポート\n送信日時: 2026年12月1日\n前の文\n",
        "了解です。\n\nFrom: Support <s@example.com>\nSent: Tuesday, December 1, 2026\nTo: a@example.com\n前の文\n",
        "了解です。\n\n山田さんは書きました:\n前の文\n",
        "> 前の文\n了解です。\n> もう一つ前\n",
    ],
)
def test_quoted_text_is_stripped(text):
    assert mail_in.strip_quoted(text) == "了解です。"


def test_an_html_only_reply_keeps_its_text_but_not_its_blockquote():
    raw = (
        "From: a@example.com\r\nMessage-ID: <h1@example.com>\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<div>了解です。<br>明日試します。</div><blockquote>前の文</blockquote>"
    ).encode()
    assert mail_in.parse(raw, "a@example.com").body == "了解です。\n明日試します。"


def test_staff_reply_by_email_is_an_answer_to_the_customer(world, ticket, listener, run_in_app, app):
    send(listener, reply(world["support"].email, address_of(app, ticket.id), "確認します。少々お待ちください。"))
    assert messages_of(run_in_app, ticket.id)[-1] == ("確認します。少々お待ちください。", True, 0)
    assert get(run_in_app, ticket.id).status == TicketStatus.WAITING


def test_an_attachment_is_kept(world, ticket, listener, run_in_app, app):
    send(listener, reply(world["admin_a"].email, address_of(app, ticket.id), "画面を添付します。",
                         files=[("画面.pdf", PDF_BYTES)]))
    assert messages_of(run_in_app, ticket.id)[-1] == ("画面を添付します。", False, 1)

    def stored():
        attachment = db.session.scalars(select(TicketAttachment).order_by(TicketAttachment.id.desc())).first()
        return attachment.filename, attachment.content_type, attachment.size

    assert run_in_app(stored) == ("画面.pdf", "application/pdf", len(PDF_BYTES))


def test_a_refused_attachment_adds_nothing_and_the_sender_is_told_why(world, ticket, listener, run_in_app, app):
    before = messages_of(run_in_app, ticket.id)
    send(listener, reply(world["admin_a"].email, address_of(app, ticket.id), "プログラムです。",
                         files=[("tool.exe", b"MZ\x90\x00binary")]))
    send(listener, reply(world["admin_a"].email, address_of(app, ticket.id), "PDFのふり。",
                         files=[("fake.pdf", PNG_BYTES)]))
    send(listener, reply(world["admin_a"].email, address_of(app, ticket.id), "多すぎ。",
                         files=[(f"{n}.pdf", PDF_BYTES) for n in range(4)]))
    assert messages_of(run_in_app, ticket.id) == before
    returned = returned_mail(run_in_app)
    assert [to for to, _body in returned] == [world["admin_a"].email] * 3
    assert "添付できない種類" in returned[0][1]
    assert "中身が一致しません" in returned[1][1]
    assert "3個まで" in returned[2][1]


def test_a_duplicate_message_id_adds_one_reply(world, ticket, listener, run_in_app, app):
    message = reply(world["admin_a"].email, address_of(app, ticket.id), "二回届くメール",
                    message_id="<same-id-1@customer.example.com>")
    send(listener, message)
    send(listener, message)
    bodies = [body for body, _staff, _files in messages_of(run_in_app, ticket.id)]
    assert bodies.count("二回届くメール") == 1


# --- refused -----------------------------------------------------------------------------------------


def test_an_unknown_sender_is_refused_and_audited(world, ticket, listener, run_in_app, app):
    before = messages_of(run_in_app, ticket.id)
    for outsider in ("stranger@example.net", world["admin_b"].email, world["learner_a"].email or "x@example.org"):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send(listener, reply(outsider, address_of(app, ticket.id), "割り込み"))
        assert refused.value.smtp_code == 550
        assert "ログイン" not in refused.value.smtp_error.decode()
    assert messages_of(run_in_app, ticket.id) == before
    assert returned_mail(run_in_app) == []
    assert [r["reason"] for r in refusals(run_in_app)] == ["unknown_sender"] * 3


def test_a_forged_address_is_refused_before_the_message(world, ticket, listener, run_in_app, app):
    local, domain = address_of(app, ticket.id).split("@")
    for forged in (f"support+t{ticket.id}.{'0' * 24}@{domain}", f"support+t{ticket.id}@{domain}",
                   f"{local}@other.example.com"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(listener, reply(world["admin_a"].email, forged, "偽の宛先"))
        assert next(iter(refused.value.recipients.values()))[0] == 550
    assert len(messages_of(run_in_app, ticket.id)) == 1


def test_a_reply_to_a_closed_ticket_is_refused_with_an_automatic_answer(world, ticket, listener, run_in_app, app):
    run_in_app(lambda: services.close_by_customer(db.session.get(Ticket, ticket.id),
                                                  db.session.get(User, world["admin_a"].id)))
    send(listener, reply(world["admin_a"].email, address_of(app, ticket.id), "まだ直りません"))
    assert len(messages_of(run_in_app, ticket.id)) == 1
    assert get(run_in_app, ticket.id).status == TicketStatus.CLOSED
    (to, body), = returned_mail(run_in_app)
    assert to == world["admin_a"].email
    assert "新しいお問い合わせを作成してください" in body and "http://portal.test/tickets/new" in body


def test_an_automatic_message_is_never_answered(world, ticket, listener, run_in_app, app):
    run_in_app(lambda: services.close_by_customer(db.session.get(Ticket, ticket.id),
                                                  db.session.get(User, world["admin_a"].id)))
    send(listener, reply(world["admin_a"].email, address_of(app, ticket.id), "不在です", Auto_Submitted="auto-replied"))
    assert returned_mail(run_in_app) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not an email at all\x00\xff\xfe",
        b"From: \r\nSubject: no sender\r\n\r\nbody",
        b"From: a@example.com, b@example.com\r\n\r\ntwo senders",
        b"From: =?x-unknown?B?////?= <admin@example.com>\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
        b"--zz\r\nContent-Type: text/plain; charset=x-no-such-charset\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"!!!not base64!!!\r\n--zz\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b"filename*=bogus''%ZZ\r\n\r\n%PDF-",
        b"Content-Type: multipart/mixed; boundary=\"\"\r\nFrom: x@example.com\r\n\r\n--\r\n--\r\n",
    ],
)
def test_malformed_input_never_breaks_the_listener(world, ticket, listener, run_in_app, app, raw):
    try:
        send(listener, raw, to=address_of(app, ticket.id), sender=world["admin_a"].email)
    except smtplib.SMTPDataError as refused:
        assert refused.smtp_code == 550
    # The listener still answers, and still adds a good reply.
    send(listener, reply(world["admin_a"].email, address_of(app, ticket.id), "正常なメール"))
    assert messages_of(run_in_app, ticket.id)[-1][0] == "正常なメール"


def test_an_email_over_the_size_limit_is_refused(world, ticket, listener, run_in_app, app):
    app.config["MAIL_IN_MAX_BYTES"] = 10_000
    small = MailInListener(app, "127.0.0.1", free_port()).start()
    try:
        with pytest.raises(smtplib.SMTPException):
            send(small, reply(world["admin_a"].email, address_of(app, ticket.id), "大" * 20_000))
    finally:
        small.stop()
        app.config["MAIL_IN_MAX_BYTES"] = 10 * 1024 * 1024
    assert len(messages_of(run_in_app, ticket.id)) == 1
