"""Notices can be corrected (#20 item 5): edit or withdraw with the history kept, a maintenance window
moved or cancelled takes effect on the very next request (this process and another), no email unless
the operator ticks 再通知する, ended notices keep their dates, staff-only, bad input answered 422."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Notice, NoticeRevision, OutboxMessage, utcnow
from tests.app_process import app_process  # noqa: F401 - the fixture
from tests.conftest import PASSWORD
from tests.test_backoffice_notices import local, publish
from tests.test_backoffice_orgs import post_form


@pytest.fixture
def operator_client(world, login_as):
    return login_as(world["operator"])


def notice_id_of(run_in_app, title: str) -> int:
    return run_in_app(lambda: db.session.scalar(select(Notice.id).where(Notice.title == title)))


def notice_emails(run_in_app) -> list[tuple[str, str]]:
    return run_in_app(lambda: db.session.execute(
        select(OutboxMessage.idempotency_key, OutboxMessage.subject).where(OutboxMessage.template == "notice")
        .order_by(OutboxMessage.id)
    ).all())


def edit(c, notice_id: int, **fields):
    url = f"/operator/notices/{notice_id}/edit"
    page = BeautifulSoup(c.get(url).get_data(as_text=True), "html.parser")
    data = {i["name"]: i.get("value", "") for i in page.select("form input") if i.get("type") != "checkbox"}
    data["body"] = page.find("textarea", attrs={"name": "body"}).get_text().lstrip("\n")
    data.update(fields)
    return c.post(url, data=data)


def withdraw(c, notice_id: int, **fields):
    url = f"/operator/notices/{notice_id}"
    return post_form(c, f"{url}/withdraw", fields, page=url)


def maintenance_now(operator_client, run_in_app, title="緊急メンテナンス") -> int:
    now = utcnow()
    response = publish(operator_client, kind="maintenance", title=title, body="点検します。",
                       starts_at=local(now - timedelta(minutes=10)), ends_at=local(now + timedelta(hours=3)))
    assert response.status_code == 303
    return notice_id_of(run_in_app, title)


def test_a_correction_keeps_the_history_and_emails_only_when_asked(operator_client, world, login_as, run_in_app):
    assert publish(operator_client, title="年末のサポート窓口", body="12/28 まで営業します。").status_code == 303
    notice_id = notice_id_of(run_in_app, "年末のサポート窓口")
    sent_at_publication = notice_emails(run_in_app)
    assert len(sent_at_publication) == 1

    response = edit(operator_client, notice_id, body="12/27 まで営業します。", reason="日付の誤り")
    assert response.status_code == 303
    assert notice_emails(run_in_app) == sent_at_publication  # not re-sent without 再通知する
    admin = login_as(world["admin_a"])
    assert "12/27 まで営業します。" in admin.get(f"/org/notices/{notice_id}").get_data(as_text=True)

    response = edit(operator_client, notice_id, title="年末年始のサポート窓口", renotify="y")
    assert response.status_code == 303
    emails = notice_emails(run_in_app)
    assert len(emails) == 2 and "(訂正)" in emails[1][1] and "年末年始のサポート窓口" in emails[1][1]

    html = operator_client.get(f"/operator/notices/{notice_id}").get_data(as_text=True)
    history = BeautifulSoup(html, "html.parser").find(id="sec-history").find_parent("section")
    text = history.get_text(" ", strip=True)
    assert "12/28 まで営業します。" in text and "12/27 まで営業します。" in text and "日付の誤り" in text
    assert "年末のサポート窓口" in text and "再通知" in text
    revisions = run_in_app(lambda: db.session.execute(
        select(NoticeRevision.action, NoticeRevision.changes, NoticeRevision.renotified)
        .where(NoticeRevision.notice_id == notice_id).order_by(NoticeRevision.id)).all())
    assert revisions == [
        ("edited", {"body": ["12/28 まで営業します。", "12/27 まで営業します。"]}, False),
        ("edited", {"title": ["年末のサポート窓口", "年末年始のサポート窓口"]}, True),
    ]
    actions = run_in_app(lambda: db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("notice.corrected"))).all())
    assert len(actions) == 2


def test_a_withdrawn_notice_leaves_the_customers_screens_and_stays_for_the_operator(
    operator_client, world, login_as, run_in_app, client
):
    assert publish(operator_client, kind="incident", title="メール遅延", body="調査中です。").status_code == 303
    notice_id = notice_id_of(run_in_app, "メール遅延")
    admin = login_as(world["admin_a"])
    assert "メール遅延" in admin.get("/org/notices").get_data(as_text=True)
    assert "メール遅延" in client.get("/status/").get_data(as_text=True)

    response = withdraw(operator_client, notice_id, reason="誤って公開しました")
    assert response.status_code == 303
    assert "メール遅延" not in admin.get("/org/notices").get_data(as_text=True)
    assert "メール遅延" not in admin.get("/org/").get_data(as_text=True)
    assert admin.get(f"/org/notices/{notice_id}").status_code == 404
    assert "メール遅延" not in client.get("/status/").get_data(as_text=True)
    assert "メール遅延" not in operator_client.get("/operator/").get_data(as_text=True)  # no open incident
    listing = operator_client.get("/operator/notices").get_data(as_text=True)
    assert "メール遅延" in listing and "取り下げ" in listing
    detail = operator_client.get(f"/operator/notices/{notice_id}").get_data(as_text=True)
    assert "取り下げました" in detail and "誤って公開しました" in detail
    audit = run_in_app(lambda: db.session.scalar(select(AuditEvent).where(AuditEvent.action == "notice.withdrawn")))
    assert audit is not None and audit.details["reason"] == "誤って公開しました"
    assert len(notice_emails(run_in_app)) == 1  # withdrawn without 再通知する: no email

    # Withdrawn is final: no second withdrawal, no correction, no incident update.
    again = withdraw(operator_client, notice_id)
    assert again.status_code == 422 and "すでに取り下げています" in again.get_data(as_text=True)
    corrected = operator_client.post(f"/operator/notices/{notice_id}/edit", data={
        "title": "x", "body": "y", "csrf_token": _token(operator_client)})
    assert corrected.status_code == 422 and "取り下げたお知らせは変更できません。" in corrected.get_data(as_text=True)


def _token(c) -> str:
    from tests.conftest import csrf_token_from

    return csrf_token_from(c.get("/operator/notices/new").get_data(as_text=True))


def test_moving_a_window_that_is_on_ends_the_maintenance_page_on_the_next_request(
    operator_client, world, login_as, run_in_app
):
    notice_id = maintenance_now(operator_client, run_in_app)
    learner = login_as(world["learner_a"])
    assert learner.get("/me/").status_code == 503
    later = utcnow() + timedelta(days=1)
    response = edit(operator_client, notice_id, starts_at=local(later), ends_at=local(later + timedelta(hours=2)),
                    reason="日付の入力誤り")
    assert response.status_code == 303
    page = learner.get("/me/")
    assert page.status_code == 200
    assert "メンテナンスのお知らせ" in page.get_data(as_text=True)  # now the banner of an upcoming window

    # Ended early: an end before now stops it at once too.
    edit(operator_client, notice_id, starts_at=local(utcnow() - timedelta(minutes=30)),
         ends_at=local(utcnow() + timedelta(hours=1)))
    assert learner.get("/me/").status_code == 503
    assert edit(operator_client, notice_id, ends_at=local(utcnow() - timedelta(minutes=1))).status_code == 303
    assert learner.get("/me/").status_code == 200


def test_withdrawing_a_window_that_is_on_ends_the_maintenance_page_on_the_next_request(
    operator_client, world, login_as, run_in_app
):
    notice_id = maintenance_now(operator_client, run_in_app)
    learner = login_as(world["learner_a"])
    assert learner.get("/me/").status_code == 503
    assert withdraw(operator_client, notice_id, reason="中止").status_code == 303
    page = learner.get("/me/")
    assert page.status_code == 200 and "緊急メンテナンス" not in page.get_data(as_text=True)


def test_a_window_moved_in_another_process_takes_effect_here_on_the_next_request(
    app, operator_client, world, login_as, run_in_app, app_process  # noqa: F811 - the fixture
):
    """The operator corrects on one portal process (this one), the customer is served by another that
    keeps the windows in its cache: it must see the move at once, not when its cache's lifetime ends."""
    notice_id = maintenance_now(operator_client, run_in_app)
    server = app_process.start()
    customer = server.browser()
    customer.sign_in(world["admin_a"].email, PASSWORD)
    assert customer.get("/org/").status_code == 503  # the other process now has the window in its cache

    later = utcnow() + timedelta(days=1)
    moved = edit(operator_client, notice_id, starts_at=local(later), ends_at=local(later + timedelta(hours=1)))
    assert moved.status_code == 303
    assert customer.get("/org/").status_code == 200

    # Moved back to now, then withdrawn: each takes effect over there on the next request.
    edit(operator_client, notice_id, starts_at=local(utcnow() - timedelta(minutes=5)),
         ends_at=local(utcnow() + timedelta(hours=1)))
    assert customer.get("/org/").status_code == 503
    assert withdraw(operator_client, notice_id).status_code == 303
    assert customer.get("/org/").status_code == 200


def test_an_ended_notice_keeps_its_dates_but_its_text_can_be_corrected(operator_client, run_in_app, time_machine):
    now = utcnow()
    publish(operator_client, kind="maintenance", title="夜間点検", body="点検します。",
            starts_at=local(now + timedelta(hours=1)), ends_at=local(now + timedelta(hours=2)))
    notice_id = notice_id_of(run_in_app, "夜間点検")
    time_machine.move_to(now + timedelta(hours=3))
    refused = edit(operator_client, notice_id, ends_at=local(now + timedelta(hours=5)))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "終了したお知らせの日時は変更できません。" in html
    assert local(now + timedelta(hours=5)) in html  # what was typed is kept
    assert edit(operator_client, notice_id, body="点検しました。").status_code == 303
    assert run_in_app(lambda: db.session.get(Notice, notice_id).body) == "点検しました。"


def test_bad_input_is_refused_with_a_message_and_keeps_what_was_typed(operator_client, run_in_app):
    notice_id = maintenance_now(operator_client, run_in_app, title="点検")
    url = f"/operator/notices/{notice_id}/edit"
    backwards = edit(operator_client, notice_id, title="点検(延長)", starts_at=local(utcnow() + timedelta(hours=2)),
                     ends_at=local(utcnow() + timedelta(hours=1)))
    html = backwards.get_data(as_text=True)
    assert backwards.status_code == 422 and "終了日時は開始日時より後にしてください" in html and "点検(延長)" in html
    unchanged = edit(operator_client, notice_id)
    assert unchanged.status_code == 422 and "変更された項目がありません。" in unchanged.get_data(as_text=True)
    garbage = edit(operator_client, notice_id, starts_at="明日", ends_at="2026-13-45T99:99", title="")
    assert garbage.status_code == 422 and "件名を入力してください。" in garbage.get_data(as_text=True)
    no_csrf = operator_client.post(url, data={"title": "x", "body": "y"})
    assert no_csrf.status_code == 400
    assert operator_client.get("/operator/notices/999999/edit").status_code == 404
    assert operator_client.post("/operator/notices/999999/withdraw", data={}).status_code in (400, 404)
    assert run_in_app(lambda: db.session.get(Notice, notice_id).title) == "点検"


@pytest.mark.parametrize("who", ["support", "admin_a", "learner_a"])
def test_only_the_operator_corrects_or_withdraws(world, login_as, run_in_app, who):
    notice_id = world["notice_a"].id
    c = login_as(world[who])
    assert c.get(f"/operator/notices/{notice_id}/edit").status_code == 403
    token = _token(login_as(world["operator"]))
    assert c.post(f"/operator/notices/{notice_id}/withdraw", data={"csrf_token": token}).status_code in (400, 403)
    assert run_in_app(lambda: db.session.get(Notice, notice_id).withdrawn_at) is None
