"""The operator's inbox (#20 item 1): what customers did reaches the operator by email (real SMTP) and as an
item on the start page; time-based items come from an idempotent job; handling records who and when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.jobs import REGISTRY
from portal.models import AuditEvent, InboxItem, OutboxMessage, OutboxStatus, Ticket
from portal.tenancy import unscoped
from tests.conftest import csrf_token_from
from tests.test_applications import confirm_link, submit, terms  # noqa: F401 (terms is a fixture)
from tests.test_backoffice_handover import handover_form
from tests.test_backoffice_orgs import post_form


def items(run_in_app, kind: str | None = None) -> list[InboxItem]:
    def load():
        stmt = select(InboxItem).order_by(InboxItem.id)
        if kind:
            stmt = stmt.where(InboxItem.kind == kind)
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows

    return run_in_app(load)


def sweep(run_in_app, now) -> int:
    return run_in_app(lambda: REGISTRY["inbox.sweep"].func(now))


def operator_mail(app, mailbox, kind_label: str) -> list[str]:
    """The inbox emails of one kind that reached the operator's address (the worker runs once)."""
    return [b for b in mailbox(app.config["OPERATOR_EMAIL"]) if f"種類: {kind_label}" in b]


@pytest.fixture
def operator_client(world, login_as):
    return login_as(world["operator"])


# --- each source opens an item and emails the operator ------------------------------------------------


def test_a_confirmed_application_reaches_the_inbox_and_the_operators_mailbox(
    app, client, terms, run_in_app, mailbox  # noqa: F811
):
    assert submit(client).status_code == 303
    assert items(run_in_app) == []  # not confirmed yet: nothing for the operator to review
    link = confirm_link(run_in_app)
    token = csrf_token_from(client.get(link).get_data(as_text=True))
    assert client.post(link, data={"csrf_token": token}).status_code == 303
    [item] = items(run_in_app)
    assert item.kind == "application" and item.subject_type == "Application"
    assert item.summary == "株式会社サンプル商事" and item.handled_at is None
    [body] = operator_mail(app, mailbox, "利用申込")
    assert "株式会社サンプル商事" in body
    assert f"/operator/inbox/{item.id}" in body


def test_a_termination_request_reaches_the_inbox_and_the_operators_mailbox(app, world, login_as, run_in_app, mailbox):
    admin = login_as(world["admin_a"])
    end_on = today_in_tokyo() + timedelta(days=30)
    assert post_form(admin, "/org/termination", {"end_on": end_on.isoformat(), "reason": "予算"}).status_code == 303
    [item] = items(run_in_app)
    assert item.kind == "termination" and item.organization_id == world["org_a"].id
    assert item.summary == f"株式会社エー ({end_on.isoformat()})"
    [body] = operator_mail(app, mailbox, "利用終了の申し入れ")
    assert "株式会社エー" in body and f"/operator/inbox/{item.id}" in body


def test_a_refused_termination_request_opens_nothing(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    yesterday = today_in_tokyo() - timedelta(days=1)
    assert post_form(admin, "/org/termination", {"end_on": yesterday.isoformat()}).status_code == 422
    assert items(run_in_app) == []
    inbox_mail = select(OutboxMessage.id).where(OutboxMessage.template == "inbox_item")
    queued = run_in_app(lambda: db.session.scalar(inbox_mail))
    assert queued is None


def test_a_leaked_password_report_is_one_email_and_one_item(app, world, login_as, run_in_app, mailbox):
    c = login_as(world["admin_a"])
    token = csrf_token_from(c.get("/password/change").get_data(as_text=True))
    assert c.post("/password/compromised", data={"csrf_token": token}).status_code == 303
    [item] = items(run_in_app)
    assert item.kind == "password_compromise" and item.subject_id == world["admin_a"].id
    # The report's own alert is the operator's email; the item adds no second one.
    bodies = mailbox(app.config["OPERATOR_EMAIL"])
    assert len([b for b in bodies if "パスワードを他人に知られたおそれがある" in b]) == 1
    assert operator_mail(app, mailbox, "パスワード漏えいの申告") == []


def test_a_customers_handover_reaches_the_inbox_but_the_operators_own_does_not(
    app, world, login_as, run_in_app, mailbox
):
    admin = login_as(world["admin_a"])
    assert post_form(admin, "/org/handover", handover_form()).status_code == 303
    [item] = items(run_in_app)
    assert item.kind == "handover" and item.organization_id == world["org_a"].id
    [body] = operator_mail(app, mailbox, "主管理者の引き継ぎ")
    assert "株式会社エー" in body

    # The operator starting one for a customer (org_b) is the operator's own act: no item.
    operator = login_as(world["operator"])
    url = f"/operator/organizations/{world['org_b'].id}/handover"
    page = f"/operator/organizations/{world['org_b'].id}"
    assert post_form(operator, url, handover_form(successor_email="jiro@b.example.com"), page=page).status_code == 303
    assert len(items(run_in_app, "handover")) == 1


# --- what time makes due: the periodic job ------------------------------------------------------------


def test_the_sweep_opens_overdue_invoices_tickets_near_their_promise_and_failed_alerts_once(
    app, world, make_ticket, run_in_app, mailbox
):
    ticket = make_ticket(world["admin_a"], subject="VPNにつながりません")
    due = run_in_app(lambda: db.session.get(Ticket, ticket.id).sla_due_at)

    def failed_alert():
        with unscoped("the test reads and writes rows directly"):
            message = OutboxMessage(
                idempotency_key="failed-desk-alert", template="tickets_new", to_address="desk@staff.example.com",
                subject="新しいお問い合わせ #1", body_text="-", body_html="-", status=OutboxStatus.DEAD,
                last_error="550 mailbox unavailable", created_at=due,
            )
            db.session.add(message)
            db.session.commit()
            return message.id

    alert_id = run_in_app(failed_alert)
    now = due + timedelta(minutes=1)  # the promise has just been missed

    opened = sweep(run_in_app, now)
    kinds = {i.kind: i for i in items(run_in_app)}
    assert opened == 3 and set(kinds) == {"invoice_overdue", "ticket_due", "staff_alert_failed"}
    assert kinds["invoice_overdue"].subject_id == world["invoice_a"].id
    assert kinds["invoice_overdue"].summary == "INV-202604-000001"
    assert kinds["ticket_due"].subject_id == ticket.id and kinds["ticket_due"].summary == "VPNにつながりません"
    assert kinds["staff_alert_failed"].subject_id == alert_id

    # Run again (a crash may repeat a job): nothing new, no second email.
    assert sweep(run_in_app, now) == 0
    assert len(items(run_in_app)) == 3
    bodies = [b for b in mailbox(app.config["OPERATOR_EMAIL"]) if "受付箱に届きました" in b]
    assert len(bodies) == 3
    assert any("INV-202604-000001" in b for b in bodies) and any("VPNにつながりません" in b for b in bodies)


def test_a_ticket_far_from_its_promise_and_a_paid_invoice_open_nothing(world, make_ticket, run_in_app):
    def pay():
        from portal.models import Invoice

        with unscoped("the test reads and writes rows directly"):
            db.session.get(Invoice, world["invoice_a"].id).paid_at = utcnow()
            db.session.commit()

    run_in_app(pay)
    ticket = make_ticket(world["admin_a"])
    created = run_in_app(lambda: db.session.get(Ticket, ticket.id).sla_started_at)
    assert sweep(run_in_app, created) == 0


# --- the operator's screens ---------------------------------------------------------------------------


def _open_termination(world, login_as, run_in_app) -> InboxItem:
    admin = login_as(world["admin_a"])
    end_on = today_in_tokyo() + timedelta(days=30)
    assert post_form(admin, "/org/termination", {"end_on": end_on.isoformat()}).status_code == 303
    [item] = items(run_in_app)
    return item


def test_the_start_page_counts_open_items_and_the_list_filters_them(world, login_as, run_in_app, operator_client):
    item = _open_termination(world, login_as, run_in_app)
    sweep(run_in_app, utcnow())  # the overdue invoice of org_a

    home = BeautifulSoup(operator_client.get("/operator/").get_data(as_text=True), "html.parser")
    assert "未対応 2 件" in home.find(id="inbox").get_text(" ", strip=True)

    page = BeautifulSoup(operator_client.get("/operator/inbox?kind=termination").get_data(as_text=True), "html.parser")
    rows = page.find(id="inbox-items").find("tbody").find_all("tr")
    assert len(rows) == 1 and "株式会社エー" in rows[0].get_text()
    link = rows[0].find("a", string="開く")["href"]
    assert link == f"/operator/organizations/{world['org_a'].id}"
    assert f"/operator/inbox/{item.id}" in str(rows[0])

    handled = operator_client.get("/operator/inbox?state=handled").get_data(as_text=True)
    assert "条件に合う項目はありません。" in handled
    # A malformed query is a list, not an error.
    for query in ("?kind=nope&state=nope", "?page=99999999999999999999", "?page=-3"):
        assert operator_client.get(f"/operator/inbox{query}").status_code == 200


def test_handling_records_who_when_and_the_note_and_is_audited(world, login_as, run_in_app, operator_client):
    item = _open_termination(world, login_as, run_in_app)
    url = f"/operator/inbox/{item.id}"
    page = operator_client.get(url).get_data(as_text=True)
    assert "対応済みにする" in page
    token = csrf_token_from(page)

    too_long = "あ" * 1001
    refused = operator_client.post(f"{url}/handle", data={"csrf_token": token, "note": too_long})
    assert refused.status_code == 422 and too_long in refused.get_data(as_text=True)
    assert items(run_in_app)[0].handled_at is None

    before = utcnow()
    response = operator_client.post(f"{url}/handle", data={"csrf_token": token, "note": "受領の手続きをしました"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/operator/inbox")
    [handled] = items(run_in_app)
    assert handled.handled_by_id == world["operator"].id and handled.handled_at >= before
    assert handled.note == "受領の手続きをしました"
    event = run_in_app(
        lambda: db.session.scalar(select(AuditEvent).where(AuditEvent.action == "inbox.item_handled"))
    )
    assert event.actor_id == world["operator"].id and event.target_id == str(item.id)
    assert event.organization_id == world["org_a"].id and event.details["note"] == "受領の手続きをしました"
    assert "対応済み" in operator_client.get(url).get_data(as_text=True)

    again = operator_client.post(f"{url}/handle", data={"csrf_token": token, "note": ""})
    assert again.status_code == 422 and "この項目はすでに対応済みです。" in again.get_data(as_text=True)


def test_handling_needs_the_csrf_token(world, login_as, run_in_app, operator_client):
    item = _open_termination(world, login_as, run_in_app)
    response = operator_client.post(f"/operator/inbox/{item.id}/handle", data={"note": "x"})
    assert response.status_code == 400
    assert items(run_in_app)[0].handled_at is None


@pytest.mark.parametrize("who", ["admin_a", "manager_a", "learner_a", "admin_b", "support"])
def test_customers_and_support_never_see_the_inbox(who, world, login_as, run_in_app):
    item = _open_termination(world, login_as, run_in_app)
    c = login_as(world[who])
    assert c.get("/operator/inbox").status_code == 403
    assert c.get(f"/operator/inbox/{item.id}").status_code == 403
    token = csrf_token_from(c.get("/password/change").get_data(as_text=True))
    assert c.post(f"/operator/inbox/{item.id}/handle", data={"csrf_token": token, "note": "x"}).status_code == 403
    assert items(run_in_app)[0].handled_at is None


def test_an_unknown_item_is_404(operator_client):
    assert operator_client.get("/operator/inbox/999999").status_code == 404


def test_the_list_takes_the_same_number_of_queries_for_one_item_or_many(
    app, world, login_as, run_in_app, operator_client
):
    from tests.test_query_counts import _statements

    _open_termination(world, login_as, run_in_app)
    one = _statements(app, operator_client, "/operator/inbox?state=all")

    def many():
        with unscoped("the test reads and writes rows directly"):
            for n in range(20):
                db.session.add(InboxItem(kind="application", key=f"application:x{n}", subject_type="Application",
                                         subject_id=n + 1000, summary=f"株式会社{n}", handled_at=utcnow(),
                                         handled_by_id=world["operator"].id))
            db.session.commit()

    run_in_app(many)
    assert _statements(app, operator_client, "/operator/inbox?state=all") == one
