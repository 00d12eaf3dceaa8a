"""The support desk: the customer's and the staff's flows, the promise clock, email, and bad input."""

from __future__ import annotations

import io
import os
from datetime import datetime

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, func, select

from portal.blueprints.tickets import services
from portal.business_calendar import TOKYO
from portal.extensions import db
from portal.models import (
    CannedReply,
    DeskBreak,
    Organization,
    OutboxMessage,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketMessage,
    User,
)
from tests.conftest import PDF_BYTES, csrf_token_from

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


def outbox(run_in_app, template=None):
    def read():
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if template:
            stmt = stmt.where(OutboxMessage.template == template)
        rows = db.session.scalars(stmt).all()
        return [(m.to_address, m.subject, m.body_text) for m in rows]

    return run_in_app(read)


def get_ticket(run_in_app, ticket_id):
    def read():
        t = db.session.get(Ticket, ticket_id)
        db.session.expunge(t)
        return t

    return run_in_app(read)


def post_form(c, url, page_url, data, files=None):
    token = csrf_token_from(c.get(page_url).get_data(as_text=True))
    payload = {"csrf_token": token, **data}
    if files:
        payload["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return c.post(url, data=payload, content_type="multipart/form-data")


def open_via_form(c, subject="ログインできません", body="パスワードを入れても戻されます。", category="question",
                  files=None):
    return post_form(c, "/tickets/new", "/tickets/new",
                     {"category": category, "subject": subject, "body": body}, files)


def latest_ticket_id(run_in_app):
    return run_in_app(lambda: db.session.scalar(select(func.max(Ticket.id))))


# --- the customer's side ----------------------------------------------------------------------------


def test_admin_opens_a_ticket_with_an_attachment_and_the_desk_is_told(world, login_as, run_in_app, app):
    admin = login_as(world["admin_a"])
    response = open_via_form(admin, files=[("画面.pdf", PDF_BYTES)])
    assert response.status_code == 303
    ticket_id = latest_ticket_id(run_in_app)
    page = admin.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "回答期限" in page and "画面.pdf" in page
    [(to, subject, body)] = outbox(run_in_app, "tickets_new")
    assert to == app.config["SUPPORT_EMAIL"]
    assert f"#{ticket_id}" in subject and "ログインできません" in subject
    assert f"http://portal.test/tickets/{ticket_id}" in body
    ticket = get_ticket(run_in_app, ticket_id)
    assert ticket.status == "new" and ticket.sla_due_at is not None
    assert ticket.first_answer_due_at == ticket.sla_due_at


def test_the_attachment_is_stored_outside_the_web_root_by_a_random_name(world, make_ticket, run_in_app, app):
    record = make_ticket(world["admin_a"], files=[("請求書.pdf", "application/pdf", PDF_BYTES)])
    item = run_in_app(lambda: db.session.get(TicketAttachment, record.attachment_ids[0]).stored_name)
    path = os.path.join(app.instance_path, "ticket_files", item)
    assert os.path.exists(path) and "請求書" not in item
    assert not path.startswith(os.path.join(app.root_path, "static"))


def test_attachment_download_is_a_download_with_nosniff(world, make_ticket, login_as):
    record = make_ticket(world["admin_a"], files=[("請求書.pdf", "application/pdf", PDF_BYTES)])
    url = f"/tickets/{record.id}/files/{record.attachment_ids[0]}"
    response = login_as(world["manager_a"]).get(url)
    assert response.status_code == 200
    assert response.data == PDF_BYTES
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "application/pdf"
    assert login_as(world["admin_b"]).get(url).status_code == 404


def test_the_whole_organization_sees_its_tickets_and_no_other(world, make_ticket, login_as):
    make_ticket(world["admin_a"], subject="A社の質問")
    make_ticket(world["admin_b"], subject="B社の質問")
    page = login_as(world["manager_a"]).get("/tickets/").get_data(as_text=True)
    assert "A社の質問" in page and "B社の質問" not in page


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("大きな.pdf", b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024), "大きすぎます"),
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 64, "添付できない種類"),
        ("請求書.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64, "中身が一致しません"),
        ("写真.png", PDF_BYTES, "中身が一致しません"),
        ("メモ.txt", b"\x00\x01\x02binary", "中身が一致しません"),
        ("空.pdf", b"", "空のファイル"),
    ],
)
def test_refused_attachments_keep_what_was_typed_and_write_nothing(world, login_as, run_in_app, name, content, message):
    admin = login_as(world["admin_a"])
    response = open_via_form(admin, subject="残しておきたい件名", body="残しておきたい本文", files=[(name, content)])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert "残しておきたい件名" in page and "残しておきたい本文" in page
    assert run_in_app(lambda: db.session.scalar(select(func.count(Ticket.id)))) == 0
    assert outbox(run_in_app) == []


def test_too_many_attachments_are_refused(world, login_as):
    admin = login_as(world["admin_a"])
    response = open_via_form(admin, files=[(f"{i}.pdf", PDF_BYTES) for i in range(4)])
    assert response.status_code == 422
    assert "3個まで" in response.get_data(as_text=True)


def test_office_text_and_image_files_are_accepted(world, login_as, run_in_app):
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    files = [("表.xlsx", buffer.getvalue()), ("ログ.csv", "日時,内容\n1,2\n".encode("cp932")), ("画面.png", PNG_BYTES)]
    assert open_via_form(login_as(world["admin_a"]), files=files).status_code == 303
    kinds = run_in_app(lambda: sorted(db.session.scalars(select(TicketAttachment.content_type)).all()))
    assert kinds == [
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "image/png",
        "text/csv",
    ]


def test_empty_subject_and_message_are_refused_in_japanese(world, login_as, run_in_app):
    response = open_via_form(login_as(world["admin_a"]), subject="  ", body="")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "件名を入力してください" in page and "本文を入力してください" in page
    assert run_in_app(lambda: db.session.scalar(select(func.count(Ticket.id)))) == 0


def test_learners_ask_only_where_the_organization_allows_it(world, login_as, run_in_app, make_ticket):
    learner = login_as(world["learner_a"])
    assert learner.get("/tickets/new").status_code == 403
    assert "受け付けていません" in learner.get("/tickets/").get_data(as_text=True)
    admin = login_as(world["admin_a"])
    assert post_form(admin, "/tickets/settings", "/tickets/settings", {"learners_may_ask": "y"}).status_code == 303
    assert run_in_app(lambda: db.session.get(Organization, world["org_a"].id).learners_may_ask) is True
    page = learner.get("/tickets/new").get_data(as_text=True)
    options = [o["value"] for o in BeautifulSoup(page, "html.parser").select("#category option")]
    assert options == ["question"]
    assert open_via_form(learner, category="bug").status_code == 422
    assert open_via_form(learner, subject="受講の質問").status_code == 303
    # A learner sees their own questions, not the rest of the organization's tickets.
    other = make_ticket(world["admin_a"], subject="管理者の相談")
    listing = learner.get("/tickets/").get_data(as_text=True)
    assert "受講の質問" in listing and "管理者の相談" not in listing
    assert learner.get(f"/tickets/{other.id}").status_code == 404
    # Another organization's learners are not affected.
    assert login_as(world["learner_b"]).get("/tickets/new").status_code == 403


# --- answers, notes and states ----------------------------------------------------------------------


def staff_reply(c, ticket_id, body, **extra):
    data = {"body": body, "next_status": "waiting", **extra}
    return post_form(c, f"/tickets/{ticket_id}/reply", f"/tickets/{ticket_id}", data)


def test_support_answers_and_the_customer_is_told_and_sees_the_promise_kept(world, make_ticket, login_as, run_in_app):
    record = make_ticket(world["admin_a"])
    support = login_as(world["support"])
    assert staff_reply(support, record.id, "再設定の手順はこちらです。").status_code == 303
    [(to, subject, body)] = outbox(run_in_app, "tickets_reply_customer")
    assert to == world["admin_a"].email
    assert f"#{record.id}" in subject and f"http://portal.test/tickets/{record.id}" in body
    ticket = get_ticket(run_in_app, record.id)
    assert ticket.status == "waiting" and ticket.first_answer_met is True
    assert ticket.assignee_id == world["support"].id and ticket.sla_due_at is None
    page = login_as(world["admin_a"]).get(f"/tickets/{record.id}").get_data(as_text=True)
    assert "再設定の手順はこちらです。" in page and "期限内に回答しました" in page


def test_internal_notes_are_never_shown_to_customers(world, make_ticket, login_as, run_in_app):
    record = make_ticket(world["admin_a"])
    support = login_as(world["support"])
    response = post_form(
        support, f"/tickets/{record.id}/reply", f"/tickets/{record.id}",
        {"body": "社内だけの秘密メモ", "internal": "y", "next_status": "waiting"},
        files=[("内部資料.pdf", PDF_BYTES)],
    )
    assert response.status_code == 303
    assert "社内だけの秘密メモ" in support.get(f"/tickets/{record.id}").get_data(as_text=True)
    for role in ("admin_a", "manager_a"):
        page = login_as(world[role]).get(f"/tickets/{record.id}").get_data(as_text=True)
        assert "社内だけの秘密メモ" not in page and "内部資料.pdf" not in page
    note_file = run_in_app(
        lambda: db.session.scalar(select(TicketAttachment.id).where(TicketAttachment.filename == "内部資料.pdf"))
    )
    assert login_as(world["admin_a"]).get(f"/tickets/{record.id}/files/{note_file}").status_code == 404
    assert support.get(f"/tickets/{record.id}/files/{note_file}").status_code == 200
    # A note is no answer: no email to the customer, the clock still runs, status unchanged.
    assert outbox(run_in_app, "tickets_reply_customer") == []
    ticket = get_ticket(run_in_app, record.id)
    assert ticket.status == "new" and ticket.sla_due_at is not None and ticket.first_answered_at is None


def test_a_customer_reply_reopens_and_tells_the_assignee(world, make_ticket, login_as, run_in_app):
    record = make_ticket(world["admin_a"])
    support = login_as(world["support"])
    staff_reply(support, record.id, "解決しました。", next_status="resolved")
    assert get_ticket(run_in_app, record.id).status == "resolved"
    admin = login_as(world["admin_a"])
    response = post_form(admin, f"/tickets/{record.id}/reply", f"/tickets/{record.id}", {"body": "まだ直りません。"})
    assert response.status_code == 303
    ticket = get_ticket(run_in_app, record.id)
    assert ticket.status == "open" and ticket.sla_due_at is not None
    [(to, subject, _body)] = outbox(run_in_app, "tickets_reply_staff")
    assert to == world["support"].email and f"#{record.id}" in subject
    kinds = run_in_app(lambda: db.session.scalars(
        select(TicketEvent.kind).where(TicketEvent.ticket_id == record.id).order_by(TicketEvent.id)).all())
    assert "reopened" in kinds and kinds[0] == "created"


def test_a_reply_to_a_closed_ticket_is_refused_and_the_text_kept(world, make_ticket, login_as, run_in_app):
    record = make_ticket(world["admin_a"])
    admin = login_as(world["admin_a"])
    assert post_form(admin, f"/tickets/{record.id}/close", f"/tickets/{record.id}", {}).status_code == 303
    assert get_ticket(run_in_app, record.id).status == "closed"
    # The page no longer offers a reply; a stale form posted anyway is refused with the text kept.
    token = csrf_token_from(admin.get(f"/tickets/{record.id}").get_data(as_text=True))
    response = admin.post(f"/tickets/{record.id}/reply", data={"csrf_token": token, "body": "追伸です"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "完了しています" in page and "追伸です" in page
    count = run_in_app(lambda: db.session.scalar(
        select(func.count(TicketMessage.id)).where(TicketMessage.ticket_id == record.id)))
    assert count == 1


def test_an_empty_reply_is_refused(world, make_ticket, login_as):
    record = make_ticket(world["admin_a"])
    admin = login_as(world["admin_a"])
    response = post_form(admin, f"/tickets/{record.id}/reply", f"/tickets/{record.id}", {"body": "   "})
    assert response.status_code == 422
    assert "本文を入力してください" in response.get_data(as_text=True)


def test_merging_duplicates_and_replying_to_a_merged_ticket(world, make_ticket, login_as, run_in_app):
    first = make_ticket(world["admin_a"], subject="元の質問")
    dup = make_ticket(world["manager_a"], subject="同じ質問")
    other_org = make_ticket(world["admin_b"], subject="B社")
    support = login_as(world["support"])
    refused = post_form(support, f"/tickets/{dup.id}/merge", f"/tickets/{dup.id}", {"target_id": other_org.id})
    assert refused.status_code == 409 and "別の組織" in refused.get_data(as_text=True)
    merged = post_form(support, f"/tickets/{dup.id}/merge", f"/tickets/{dup.id}", {"target_id": first.id})
    assert merged.status_code == 303
    ticket = get_ticket(run_in_app, dup.id)
    assert ticket.merged_into_id == first.id and ticket.status == "closed"
    manager = login_as(world["manager_a"])
    token = csrf_token_from(manager.get(f"/tickets/{dup.id}").get_data(as_text=True))
    response = manager.post(f"/tickets/{dup.id}/reply", data={"csrf_token": token, "body": "続きです"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert f"#{first.id} に統合されました" in page and "続きです" in page


def test_rating_once_after_resolution(world, make_ticket, login_as, run_in_app):
    record = make_ticket(world["admin_a"])
    admin = login_as(world["admin_a"])
    early = post_form(admin, f"/tickets/{record.id}/rate", f"/tickets/{record.id}", {"rating": "5"})
    assert early.status_code == 409 and "解決したあと" in early.get_data(as_text=True)
    staff_reply(login_as(world["support"]), record.id, "対応しました。", next_status="resolved")
    assert post_form(admin, f"/tickets/{record.id}/rate", f"/tickets/{record.id}",
                     {"rating": "4", "comment": "早かった"}).status_code == 303
    assert get_ticket(run_in_app, record.id).rating == 4
    token = csrf_token_from(admin.get("/tickets/").get_data(as_text=True))
    again = admin.post(f"/tickets/{record.id}/rate", data={"csrf_token": token, "rating": "1"})
    assert again.status_code == 409 and "すでに評価済み" in again.get_data(as_text=True)
    assert get_ticket(run_in_app, record.id).rating == 4


def test_staff_assign_and_every_change_is_in_the_history(world, make_ticket, login_as, run_in_app):
    record = make_ticket(world["admin_a"])
    support = login_as(world["support"])
    assert post_form(support, f"/tickets/{record.id}/assign", f"/tickets/{record.id}",
                     {"assignee_id": world["operator"].id}).status_code == 303
    assert post_form(support, f"/tickets/{record.id}/status", f"/tickets/{record.id}",
                     {"status": "open"}).status_code == 303
    ticket = get_ticket(run_in_app, record.id)
    assert ticket.assignee_id == world["operator"].id and ticket.status == "open"
    page = support.get(f"/tickets/{record.id}").get_data(as_text=True)
    for kind in ("created", "assigned", "status"):
        assert f'data-kind="{kind}"' in page
    assert "新規 → 対応中" in page
    refused = post_form(support, f"/tickets/{record.id}/assign", f"/tickets/{record.id}",
                        {"assignee_id": world["admin_a"].id})
    assert refused.status_code == 422


def test_canned_replies_are_managed_by_staff_and_fill_the_reply(world, make_ticket, login_as, run_in_app):
    record = make_ticket(world["admin_a"])
    support = login_as(world["support"])
    assert post_form(support, "/tickets/canned", "/tickets/canned",
                     {"title": "再設定", "body": "ログイン画面の「パスワードを忘れた方」から"}).status_code == 303
    canned_id = run_in_app(lambda: db.session.scalar(select(CannedReply.id)))
    page = support.get(f"/tickets/{record.id}?canned={canned_id}").get_data(as_text=True)
    textarea = BeautifulSoup(page, "html.parser").select_one("#reply textarea[name=body]")
    assert "パスワードを忘れた方" in textarea.text
    assert post_form(support, "/tickets/canned", "/tickets/canned", {"title": "", "body": ""}).status_code == 422
    assert post_form(support, f"/tickets/canned/{canned_id}/delete", "/tickets/canned", {}).status_code == 303
    assert run_in_app(lambda: db.session.scalar(select(func.count(CannedReply.id)))) == 0


# --- the promise clock (services with a fixed "now") ------------------------------------------------


def _user(user_id):
    return db.session.get(User, user_id)


def test_waiting_for_the_customer_pauses_the_clock(world, make_ticket, run_in_app):
    record = make_ticket(world["admin_a"], now=jst(2026, 11, 24, 10, 0))
    assert get_ticket(run_in_app, record.id).sla_due_at == jst(2026, 11, 26, 10, 0)

    def pause():
        services.change_status(db.session.get(Ticket, record.id), "waiting", _user(world["support"].id),
                               now=jst(2026, 11, 24, 12, 0))

    run_in_app(pause)
    ticket = get_ticket(run_in_app, record.id)
    assert ticket.sla_due_at is None and ticket.sla_budget_minutes == 16 * 60

    def customer_writes():
        services.customer_reply(db.session.get(Ticket, record.id), _user(world["admin_a"].id), "追加情報です",
                                now=jst(2026, 11, 25, 10, 0))

    run_in_app(customer_writes)
    ticket = get_ticket(run_in_app, record.id)
    # 16 h left from Wednesday 10:00: 8 h on Wednesday, 8 h on Thursday.
    assert ticket.status == "open" and ticket.sla_due_at == jst(2026, 11, 26, 17, 0)


def test_an_answer_after_the_due_time_breaks_the_promise(world, make_ticket, run_in_app):
    record = make_ticket(world["admin_a"], now=jst(2026, 11, 24, 10, 0))

    def late_answer():
        services.staff_reply(db.session.get(Ticket, record.id), _user(world["support"].id), "遅くなりました",
                             now=jst(2026, 11, 27, 10, 0))

    run_in_app(late_answer)
    ticket = get_ticket(run_in_app, record.id)
    assert ticket.first_answer_met is False and ticket.first_answer_business_minutes == 27 * 60


def test_a_break_the_operator_adds_moves_running_due_times(world, make_ticket, login_as, run_in_app):
    record = make_ticket(world["admin_a"], now=jst(2026, 8, 12, 10, 0))
    assert get_ticket(run_in_app, record.id).sla_due_at == jst(2026, 8, 14, 10, 0)
    operator = login_as(world["operator"])
    response = post_form(operator, "/tickets/breaks", "/tickets/breaks",
                         {"name": "夏季休業", "first_day": "2026-08-13", "last_day": "2026-08-14"})
    assert response.status_code == 303
    assert get_ticket(run_in_app, record.id).sla_due_at == jst(2026, 8, 18, 10, 0)
    break_id = run_in_app(lambda: db.session.scalar(select(DeskBreak.id)))
    assert post_form(operator, f"/tickets/breaks/{break_id}/delete", "/tickets/breaks", {}).status_code == 303
    assert get_ticket(run_in_app, record.id).sla_due_at == jst(2026, 8, 14, 10, 0)
    bad = post_form(operator, "/tickets/breaks", "/tickets/breaks",
                    {"name": "逆", "first_day": "2026-08-14", "last_day": "2026-08-13"})
    assert bad.status_code == 422 and "開始日以降" in bad.get_data(as_text=True)


# --- email: emergencies and warnings ----------------------------------------------------------------


def test_an_emergency_out_of_hours_goes_to_on_call_at_once(world, make_ticket, run_in_app, app):
    record = make_ticket(world["admin_a"], category="emergency", subject="停止", now=jst(2026, 11, 24, 22, 0))
    [(to, subject, body)] = outbox(run_in_app, "tickets_emergency")
    assert to == app.config["ONCALL_EMAIL"]
    assert f"#{record.id}" in subject and f"http://portal.test/tickets/{record.id}" in body


def test_an_emergency_in_hours_goes_to_the_desk_only(world, make_ticket, run_in_app):
    make_ticket(world["admin_a"], category="emergency", now=jst(2026, 11, 24, 11, 0))
    assert outbox(run_in_app, "tickets_emergency") == []
    assert len(outbox(run_in_app, "tickets_new")) == 1


def test_warnings_before_the_due_time_and_at_the_breach_are_sent_once(world, make_ticket, run_in_app, app):
    record = make_ticket(world["admin_a"], now=jst(2026, 11, 24, 10, 0))
    waiting = make_ticket(world["admin_a"], now=jst(2026, 11, 24, 10, 0))
    run_in_app(lambda: services.change_status(db.session.get(Ticket, waiting.id), "waiting",
                                              _user(world["support"].id), now=jst(2026, 11, 24, 11, 0)))
    run_in_app(lambda: services.send_due_warnings(jst(2026, 11, 25, 10, 0)))
    assert outbox(run_in_app, "tickets_due_soon") == []
    for _ in range(2):
        run_in_app(lambda: services.send_due_warnings(jst(2026, 11, 26, 8, 30)))
    [(to, subject, _body)] = outbox(run_in_app, "tickets_due_soon")
    assert to == app.config["SUPPORT_EMAIL"] and f"#{record.id}" in subject
    for _ in range(2):
        run_in_app(lambda: services.send_due_warnings(jst(2026, 11, 26, 10, 5)))
    [(to, subject, _body)] = outbox(run_in_app, "tickets_overdue")
    assert f"#{record.id}" in subject


# --- the staff queue --------------------------------------------------------------------------------


def test_emergencies_stand_at_the_top_of_every_queue(world, make_ticket, login_as):
    make_ticket(world["admin_a"], subject="普通の質問", now=jst(2026, 11, 24, 10, 0))
    urgent = make_ticket(world["admin_b"], category="emergency", subject="全員ログイン不可")
    support = login_as(world["support"])
    for queue in ("active", "new", "unassigned"):
        soup = BeautifulSoup(support.get(f"/tickets/desk?queue={queue}").get_data(as_text=True), "html.parser")
        rows = soup.select("table.queue tbody tr")
        assert rows[0]["data-ticket"] == str(urgent.id) and "emergency" in rows[0]["class"]


def test_queue_counts_and_filters(world, make_ticket, login_as, run_in_app):
    overdue = make_ticket(world["admin_a"], category="bug", subject="古い不具合", now=jst(2026, 1, 6, 10, 0))
    make_ticket(world["admin_b"], subject="新しい質問")
    waiting = make_ticket(world["admin_a"], subject="待ち")
    run_in_app(lambda: services.change_status(db.session.get(Ticket, waiting.id), "waiting",
                                              _user(world["support"].id)))
    mine = make_ticket(world["admin_a"], subject="私の担当")
    run_in_app(lambda: services.assign(db.session.get(Ticket, mine.id), _user(world["support"].id),
                                       _user(world["support"].id)))
    support = login_as(world["support"])
    soup = BeautifulSoup(support.get("/tickets/desk").get_data(as_text=True), "html.parser")
    counts = {span["data-count"]: int(span.text) for span in soup.select("[data-count]")}
    assert counts["active"] == 4 and counts["waiting"] == 1 and counts["mine"] == 1
    assert counts["overdue"] == 1 and counts["unassigned"] == 3 and counts["new"] == 3
    rows = soup.select("table.queue tbody tr")
    assert rows[0]["data-ticket"] == str(overdue.id)  # the earliest due time first
    filtered = BeautifulSoup(support.get("/tickets/desk?category=bug").get_data(as_text=True), "html.parser")
    assert [r["data-ticket"] for r in filtered.select("table.queue tbody tr")] == [str(overdue.id)]
    by_org = BeautifulSoup(support.get(f"/tickets/desk?organization_id={world['org_b'].id}").get_data(as_text=True),
                           "html.parser")
    assert {int(s.text) for s in by_org.select("[data-count=active]")} == {1}
    assert "新しい質問" in support.get("/tickets/desk?q=新しい").get_data(as_text=True)


def test_the_queue_answers_htmx_with_the_fragment_only(world, make_ticket, login_as):
    make_ticket(world["admin_a"], subject="質問1")
    support = login_as(world["support"])
    response = support.get("/tickets/desk?queue=new", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    soup = BeautifulSoup(html, "html.parser")
    root = soup.find(id="queue")
    assert root is not None and root["hx-trigger"] == "every 60s"
    assert soup.select_one("[data-count=new]").text == "1"
    # The filter form outside the swapped region learns the chosen queue out of band.
    oob = soup.select_one("#queue-input")
    assert oob["hx-swap-oob"] == "true" and oob["value"] == "new"
    full = support.get("/tickets/desk?queue=new").get_data(as_text=True)
    assert "<html" in full and 'hx-target="#queue"' in full


def test_the_queue_page_makes_the_same_number_of_queries_for_1_and_30_tickets(world, make_ticket, login_as, app):
    support = login_as(world["support"])

    def count_queries():
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert support.get("/tickets/desk").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    people = [world["admin_a"], world["manager_a"], world["admin_b"]]
    make_ticket(people[0])
    one = count_queries()
    for i in range(29):
        make_ticket(people[i % 3], subject=f"質問{i}")
    thirty = count_queries()
    assert one == thirty


# --- reports ----------------------------------------------------------------------------------------


def test_the_monthly_report(world, make_ticket, run_in_app, login_as, time_machine):
    time_machine.move_to(jst(2026, 11, 25, 10, 0))  # the page's month is still running
    kept = make_ticket(world["admin_a"], category="question", now=jst(2026, 11, 2, 10, 0))
    late = make_ticket(world["admin_a"], category="bug", now=jst(2026, 11, 2, 10, 0))
    make_ticket(world["admin_b"], category="bug", now=jst(2026, 11, 24, 10, 0))
    make_ticket(world["admin_b"], category="question", now=jst(2026, 10, 30, 10, 0))
    support_id = world["support"].id

    def answer():
        services.staff_reply(db.session.get(Ticket, kept.id), _user(support_id), "回答", next_status="resolved",
                             now=jst(2026, 11, 2, 13, 0))
        services.staff_reply(db.session.get(Ticket, late.id), _user(support_id), "回答", next_status="resolved",
                             now=jst(2026, 11, 6, 10, 0))
        services.rate(db.session.get(Ticket, kept.id), _user(world["admin_a"].id), 5, now=jst(2026, 11, 3, 10, 0))
        services.rate(db.session.get(Ticket, late.id), _user(world["admin_a"].id), 2, now=jst(2026, 11, 7, 10, 0))

    run_in_app(answer)

    def report():
        return services.month_report(2026, 11, now=jst(2026, 11, 25, 10, 0))

    r = run_in_app(report)
    assert r.total == 3 and r.by_category["bug"] == 2 and r.by_category["question"] == 1
    assert r.answered == 2 and r.within_promise == 1 and r.missed == 1
    assert r.within_promise_share == 0.5
    # 11/3 is 文化の日: Monday 8 h, Wednesday and Thursday 9 h each, Friday 1 h.
    assert r.average_first_answer_minutes == (3 * 60 + 27 * 60) / 2
    assert r.average_rating == 3.5
    page = login_as(world["support"]).get("/tickets/reports?month=2026-11")
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    assert soup.select_one("[data-share]").text.strip().startswith("50%")
    assert soup.select_one("[data-category=bug]").text == "2"
    bad = login_as(world["support"]).get("/tickets/reports?month=11月")
    assert bad.status_code == 400 and "2026-11" in bad.get_data(as_text=True)


def test_settings_are_the_org_admins_own(world, login_as, run_in_app):
    assert login_as(world["manager_a"]).get("/tickets/settings").status_code == 403
    admin_b = login_as(world["admin_b"])
    assert post_form(admin_b, "/tickets/settings", "/tickets/settings", {"learners_may_ask": "y"}).status_code == 303
    flags = run_in_app(lambda: {o.id: o.learners_may_ask for o in db.session.scalars(select(Organization))})
    assert flags == {world["org_a"].id: False, world["org_b"].id: True}




def test_another_organization_cannot_write_to_a_ticket(world, make_ticket, login_as, run_in_app):
    record = make_ticket(world["admin_a"])
    admin_b = login_as(world["admin_b"])
    token = csrf_token_from(admin_b.get("/tickets/").get_data(as_text=True))
    for action, data in (("reply", {"body": "のぞき見"}), ("close", {}), ("rate", {"rating": "1"})):
        response = admin_b.post(f"/tickets/{record.id}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 404, action
    ticket = get_ticket(run_in_app, record.id)
    assert ticket.status == "new" and ticket.rating is None
    bodies = run_in_app(lambda: db.session.scalars(select(TicketMessage.body)).all())
    assert bodies == ["教えてください。"]


def test_the_warning_job_needs_no_scope_from_the_worker(app, world, make_ticket, run_in_app):
    record = make_ticket(world["admin_a"], now=jst(2026, 11, 24, 10, 0))
    with app.app_context():
        assert services.send_due_warnings(jst(2026, 11, 26, 10, 5)) == 1
        db.session.commit()
    [(_to, subject, _body)] = outbox(run_in_app, "tickets_overdue")
    assert f"#{record.id}" in subject


def test_a_rolled_back_ticket_leaves_no_attachment_file_behind(world, app):
    from portal.blueprints.tickets import services
    from portal.blueprints.tickets.files import CheckedFile, storage_dir
    from portal.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world["admin_a"].organization_id):
        before = set(os.listdir(storage_dir()))
        user = db.session.get(User, world["admin_a"].id)
        services.open_ticket(user, "question", "件名", "本文", [CheckedFile("a.pdf", "application/pdf", PDF_BYTES)])
        assert len(set(os.listdir(storage_dir())) - before) == 1
        db.session.rollback()
        assert set(os.listdir(storage_dir())) == before
