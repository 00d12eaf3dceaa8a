"""The delivery log and suppressions, as operators and org admins use them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    MailAddressFailures,
    MailSuppression,
    OutboxMessage,
    OutboxStatus,
    SuppressionReason,
)
from portal.tenancy import unscoped
from tests.conftest import csrf_token_from

_n = iter(range(1, 10_000))


@pytest.fixture
def add_message(run_in_app):
    def add(org=None, **fields):
        n = next(_n)

        def create():
            message = OutboxMessage(
                idempotency_key=f"view:{n}",
                template=fields.pop("template", "password_reset"),
                to_address=fields.pop("to_address", f"person{n}@example.com"),
                subject=fields.pop("subject", f"件名 {n}"),
                body_text=fields.pop("body_text", f"本文 {n} https://portal.test/secret-link-{n}"),
                organization_id=org.id if org else None,
                **fields,
            )
            db.session.add(message)
            db.session.flush()
            return message.id

        return run_in_app(create)

    return add


def table_rows(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return [row.get_text(" ", strip=True) for row in soup.select("tbody tr")]


def test_operator_sees_every_message_and_filters(world, login_as, add_message):
    a_sent = add_message(world["org_a"], subject="A 送信済み", status=OutboxStatus.SENT)
    add_message(world["org_a"], subject="A 失敗", status=OutboxStatus.DEAD, template="invitation")
    add_message(world["org_b"], subject="B 送信待ち")
    add_message(None, subject="運営あて")
    c = login_as(world["operator"])
    assert len(table_rows(c.get("/mail/").get_data(as_text=True))) == 4
    only_a = table_rows(c.get(f"/mail/?organization_id={world['org_a'].id}").get_data(as_text=True))
    assert len(only_a) == 2 and all("株式会社エー" in r for r in only_a)
    dead = table_rows(c.get("/mail/?status=dead").get_data(as_text=True))
    assert len(dead) == 1 and "A 失敗" in dead[0] and "送信失敗" in dead[0]
    invitations = table_rows(c.get("/mail/?template=invitation").get_data(as_text=True))
    assert len(invitations) == 1
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date().isoformat()  # the filter speaks Tokyo dates
    assert len(table_rows(c.get(f"/mail/?date_from={today}&date_to={today}").get_data(as_text=True))) == 4
    assert table_rows(c.get("/mail/?date_to=2000-01-01").get_data(as_text=True)) == []
    # Bad filter values are ignored, never a 500.
    assert c.get("/mail/?status=nonsense&organization_id=abc&date_from=yesterday&page=x").status_code == 200
    detail = c.get(f"/mail/{a_sent}").get_data(as_text=True)
    assert "A 送信済み" in detail and "secret-link" in detail  # operators read the rendered text


def test_htmx_filter_returns_only_the_results(world, login_as, add_message):
    add_message(world["org_a"])
    c = login_as(world["operator"])
    response = c.get("/mail/?status=pending", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "<tbody>" in html


def test_org_admin_sees_only_the_organizations_messages_without_bodies(world, login_as, add_message):
    mine = add_message(world["org_a"], subject="A あて")
    theirs = add_message(world["org_b"], subject="B あて")
    add_message(None, subject="運営あて")
    c = login_as(world["admin_a"])
    rows = table_rows(c.get("/mail/").get_data(as_text=True))
    assert len(rows) == 1 and "A あて" in rows[0]
    # Filtering by another organization does not widen the scope.
    assert table_rows(c.get(f"/mail/?organization_id={world['org_b'].id}").get_data(as_text=True)) == rows
    detail = c.get(f"/mail/{mine}")
    assert detail.status_code == 200
    assert "secret-link" not in detail.get_data(as_text=True)
    assert c.get(f"/mail/{theirs}").status_code == 404


def test_the_list_costs_the_same_queries_for_many_messages(app, world, login_as, add_message):
    c = login_as(world["operator"])

    def count_queries(url):
        statements = []

        def listener(conn, cursor, statement, *args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert c.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    for org in (world["org_a"], world["org_b"]):
        add_message(org)
    few = count_queries("/mail/")
    for _ in range(15):
        add_message(world["org_a"])
        add_message(world["org_b"])
    assert count_queries("/mail/") == few


def test_operator_retries_a_dead_message(app, world, login_as, add_message):
    dead = add_message(world["org_a"], status=OutboxStatus.DEAD, attempts=12, last_error="550 5.1.1 unknown")
    c = login_as(world["operator"])
    page = c.get(f"/mail/{dead}").get_data(as_text=True)
    assert "550 5.1.1 unknown" in page and "再送する" in page
    response = c.post(f"/mail/{dead}/retry", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        message = db.session.get(OutboxMessage, dead)
        assert message.status == OutboxStatus.PENDING and message.attempts == 0
        event_ = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "mail.retried"))
        assert event_.details["attempts"] == 12 and event_.actor_id == world["operator"].id
        assert event_.organization_id == world["org_a"].id


def test_a_sent_message_cannot_be_retried(app, world, login_as, add_message):
    sent = add_message(world["org_a"], status=OutboxStatus.SENT)
    c = login_as(world["operator"])
    token = csrf_token_from(c.get(f"/mail/{sent}").get_data(as_text=True))
    response = c.post(f"/mail/{sent}/retry", data={"csrf_token": token}, follow_redirects=True)
    assert "送信失敗または配信停止のメールだけを再送できます。" in response.get_data(as_text=True)
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "mail.retried")) is None


def test_retry_needs_csrf(world, login_as, add_message):
    dead = add_message(world["org_a"], status=OutboxStatus.DEAD)
    c = login_as(world["operator"])
    assert c.post(f"/mail/{dead}/retry").status_code == 400


def suppress(c, **data):
    token = csrf_token_from(c.get("/mail/suppressions").get_data(as_text=True))
    return c.post("/mail/suppressions", data={"csrf_token": token, **data})


def test_operator_suppresses_an_address_and_lifts_it(app, world, login_as):
    c = login_as(world["operator"])
    response = suppress(c, address=" Someone@Example.com ", note="本人から停止の依頼")
    assert response.status_code == 303
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        suppression = db.session.scalar(select(MailSuppression))
        assert suppression.address == "someone@example.com"
        assert suppression.reason == SuppressionReason.OPERATOR and suppression.created_by_id == world["operator"].id
        db.session.add(MailAddressFailures(address="someone@example.com", hard_failures=2))
        db.session.commit()
        suppression_id = suppression.id
    page = c.get("/mail/suppressions").get_data(as_text=True)
    assert "someone@example.com" in page and "本人から停止の依頼" in page
    response = c.post(f"/mail/suppressions/{suppression_id}/lift", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.get(MailSuppression, suppression_id) is None
        assert db.session.get(MailAddressFailures, "someone@example.com") is None
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "mail.address_suppressed" in actions and "mail.address_unsuppressed" in actions


def test_operator_suppresses_an_organization(app, world, login_as):
    c = login_as(world["operator"])
    assert suppress(c, organization_id=str(world["org_b"].id), note="第19条による停止").status_code == 303
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        suppression = db.session.scalar(select(MailSuppression))
        assert suppression.organization_id == world["org_b"].id and suppression.address is None
        event_ = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "mail.organization_suppressed"))
        assert event_.organization_id == world["org_b"].id
    assert "株式会社ビー" in c.get("/mail/suppressions").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "メールアドレスか組織のどちらかを指定してください。"),
        ({"address": "not-an-address"}, "メールアドレスの形式が正しくありません。"),
        ({"address": "x@example.com", "organization_id": "ORG"}, "どちらか一方だけを指定してください。"),
        ({"organization_id": "999999"}, "組織を一覧から選んでください。"),
        ({"organization_id": "abc"}, "組織を一覧から選んでください。"),
        ({"address": "x@example.com", "note": "あ" * 501}, "500文字以内で入力してください。"),
        ({"address": "a" * 250 + "@example.com"}, "254文字以内で入力してください。"),
    ],
)
def test_bad_suppression_input_is_refused_with_a_message(app, world, login_as, data, message):
    if data.get("organization_id") == "ORG":
        data = {**data, "organization_id": str(world["org_a"].id)}
    c = login_as(world["operator"])
    response = suppress(c, **data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(MailSuppression.id)) is None


def test_an_address_cannot_be_suppressed_twice(world, login_as):
    c = login_as(world["operator"])
    assert suppress(c, address="twice@example.com").status_code == 303
    response = suppress(c, address="TWICE@example.com")
    assert response.status_code == 422
    assert "このアドレスはすでに配信停止になっています。" in response.get_data(as_text=True)


def test_lifting_an_unknown_suppression_is_404(world, login_as):
    c = login_as(world["operator"])
    token = csrf_token_from(c.get("/mail/suppressions").get_data(as_text=True))
    assert c.post("/mail/suppressions/999999/lift", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/mail/99999999999999999999", 404),
        ("GET", "/mail/2147483648", 404),
        ("GET", "/mail/?organization_id=99999999999999999999", 200),
        ("GET", "/mail/?page=99999999999999999999999", 200),
        ("POST", "/mail/99999999999999999999/retry", 404),
        ("POST", "/mail/suppressions/99999999999999999999/lift", 404),
    ],
)
def test_out_of_range_numbers_in_urls_are_not_errors(world, login_as, method, url, status):
    c = login_as(world["operator"])
    if method == "GET":
        assert c.get(url).status_code == status
    else:
        token = csrf_token_from(c.get("/mail/suppressions").get_data(as_text=True))
        assert c.post(url, data={"csrf_token": token}).status_code == status
