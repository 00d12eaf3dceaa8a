"""Billing that follows the money (#20 item 6): payments recorded and assigned, the balance and status of an
invoice, reminders before and after the due date, resuming an organization suspended for non-payment, and
the amount received in the last 12 months (Art. 23-2)."""

from __future__ import annotations

from datetime import date

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal.extensions import db
from portal.jobs import REGISTRY
from portal.models import AuditEvent, Invoice, InvoiceReminder, Organization, Payment
from tests.clock import jst
from tests.test_backoffice_orgs import post_form

# invoice_a of the world: 330,000 yen, issued 2026-04-01, due 2026-04-30.
AFTER_DUE = jst(2026, 5, 10, 10, 0)


@pytest.fixture
def after_due(time_machine):
    """Ten days after invoice_a's due date; set before signing in (a session does not outlive a jump)."""
    time_machine.move_to(AFTER_DUE)
    return time_machine


@pytest.fixture
def operator_client(after_due, world, login_as):
    return login_as(world["operator"])


@pytest.fixture
def invoice_url(world):
    return f"/operator/invoices/{world['invoice_a'].id}"


def pay(client, invoice_url, amount, **extra):
    data = {"received_on": "2026-05-08", "amount": str(amount), "payer_name": "ｶ)ｴｰ", "note": ""}
    data.update(extra)
    return post_form(client, f"{invoice_url}/payments", data, page=invoice_url)


def invoice_state(run_in_app, invoice_id):
    def read():
        invoice = db.session.get(Invoice, invoice_id)
        return invoice.amount_received, invoice.balance, invoice.payment_status, invoice.paid_at is not None

    return run_in_app(read)


def payment_count(run_in_app) -> int:
    return run_in_app(lambda: db.session.scalar(select(func.count()).select_from(Payment)))


def actions(run_in_app) -> list[str]:
    return run_in_app(lambda: list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))))


def text_of(response) -> str:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").get_text(" ", strip=True)


def test_partial_then_full_payment(operator_client, world, run_in_app, invoice_url, time_machine):
    invoice_id = world["invoice_a"].id
    assert pay(operator_client, invoice_url, 100_000).status_code == 303
    assert invoice_state(run_in_app, invoice_id) == (100_000, 230_000, "partial", False)
    page = text_of(operator_client.get(invoice_url))
    assert "残高は 230,000円 です" in page and "一部入金" in page
    # The payer name is kept as banks print it, in full-width katakana.
    assert run_in_app(lambda: db.session.scalar(select(Payment.payer_name))) == "カ)エー"
    # Still overdue (partially paid), so still on the overdue list with its balance.
    overdue = text_of(operator_client.get("/operator/invoices?overdue=1"))
    assert world["invoice_a"].number in overdue and "一部入金(残高 230,000円)" in overdue

    assert pay(operator_client, invoice_url, 230_000).status_code == 303
    assert invoice_state(run_in_app, invoice_id) == (330_000, 0, "paid", True)
    assert "全額入金済みになりました" in text_of(operator_client.get(invoice_url))
    assert world["invoice_a"].number not in text_of(operator_client.get("/operator/invoices?overdue=1"))
    recorded = actions(run_in_app)
    assert recorded.count("payment.recorded") == 2 and recorded.count("invoice.paid") == 1


def test_overpayment_is_refused_until_confirmed_then_kept_as_a_refund(
    operator_client, world, run_in_app, invoice_url, time_machine
):
    response = pay(operator_client, invoice_url, 400_000)
    assert response.status_code == 422
    page = text_of(response)
    assert "入金額 400,000円 は請求書" in page and "残高 330,000円 を 70,000円 超えています" in page
    # What was typed is still there, nothing is written but the refusal's audit event.
    assert BeautifulSoup(response.get_data(as_text=True), "html.parser").find("input", {"name": "amount"})["value"] == (
        "400000"
    )
    assert payment_count(run_in_app) == 0
    assert "payment.refused" in actions(run_in_app)

    assert pay(operator_client, invoice_url, 400_000, allow_overpayment="y").status_code == 303
    assert invoice_state(run_in_app, world["invoice_a"].id) == (400_000, -70_000, "overpaid", True)
    page = text_of(operator_client.get(invoice_url))
    assert "返金額 70,000円" in page and "過入金(返金あり)" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "abc"}, ""),
        ({"amount": "-5"}, "入金額は1円以上の整数で入力してください。"),
        ({"amount": "0"}, "入金額は1円以上の整数で入力してください。"),
        ({"amount": ""}, "入金額を半角数字(円)で入力してください。"),
        ({"amount": "99999999999999"}, "数値が大きすぎます。"),
        ({"received_on": "2026-05-11"}, "入金日に未来の日付は指定できません。"),
        ({"received_on": "2026-13-01"}, ""),
        ({"payer_name": "山田太郎"}, "振込名義は通帳や明細に印字されたとおり"),
    ],
)
def test_bad_payment_input_is_refused_in_japanese(
    operator_client, run_in_app, invoice_url, time_machine, data, message
):
    response = pay(operator_client, invoice_url, data.pop("amount", 1_000), **data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'class="error"' in html or "error" in html
    assert payment_count(run_in_app) == 0


def test_unassigned_payment_assigned_later_from_the_suggestions(
    operator_client, world, run_in_app, time_machine
):
    data = {"received_on": "2026-05-09", "amount": "330000", "payer_name": "カ)エー", "invoice_number": ""}
    response = post_form(operator_client, "/operator/payments", data)
    assert response.status_code == 303
    detail = response.headers["Location"]
    assert "/operator/payments/" in detail
    assert run_in_app(lambda: db.session.scalar(select(Payment.organization_id))) is None
    assert "カ)エー" in text_of(operator_client.get("/operator/payments"))

    page = operator_client.get(detail)
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    suggested = [i["value"] for i in soup.select("input[name=invoice_number][type=hidden]")]
    assert suggested[0] == world["invoice_a"].number and "金額が一致" in soup.get_text()

    # An unknown number is refused and nothing is assigned.
    bad = post_form(operator_client, f"{detail}/assign", {"invoice_number": "INV-000000-999999"}, page=detail)
    assert bad.status_code == 422 and "この番号の請求書は見つかりません" in bad.get_data(as_text=True)

    done = post_form(operator_client, f"{detail}/assign", {"invoice_number": suggested[0]}, page=detail)
    assert done.status_code == 303
    assert invoice_state(run_in_app, world["invoice_a"].id) == (330_000, 0, "paid", True)
    assert run_in_app(lambda: db.session.scalar(select(Payment.organization_id))) == world["org_a"].id
    # A payment is assigned once.
    again = post_form(operator_client, f"{detail}/assign", {"invoice_number": suggested[0]}, page=detail)
    assert again.status_code == 422 and "すでに請求書に割り当てられています" in again.get_data(as_text=True)
    assert "payment.assigned" in actions(run_in_app)


def run_reminders(run_in_app, when):
    return run_in_app(lambda: REGISTRY["payments.reminders"].func(when))


def test_reminders_before_and_after_the_due_date_once_per_step(
    world, run_in_app, mailbox, time_machine, login_as, invoice_url
):
    to = world["admin_a"].email
    # Before 9:00 in Tokyo, nothing; a week before the due date, the first reminder.
    time_machine.move_to(jst(2026, 4, 23, 8, 0))
    assert run_reminders(run_in_app, jst(2026, 4, 23, 8, 0)) == 0
    time_machine.move_to(jst(2026, 4, 23, 10, 0))
    assert run_reminders(run_in_app, jst(2026, 4, 23, 10, 0)) == 1
    assert run_reminders(run_in_app, jst(2026, 4, 23, 11, 0)) == 0  # idempotent: one row per step
    mails = mailbox(to)
    assert len(mails) == 1 and "お支払期限が近づいています" in mails[0] and "330,000円" in mails[0]
    # Nothing between the warning and the due date.
    time_machine.move_to(jst(2026, 4, 28, 10, 0))
    assert run_reminders(run_in_app, jst(2026, 4, 28, 10, 0)) == 0

    # The day after the due date, then weekly; a partial payment lowers the balance the email states.
    time_machine.move_to(jst(2026, 5, 1, 10, 0))
    assert run_reminders(run_in_app, jst(2026, 5, 1, 10, 0)) == 1
    assert pay(login_as(world["operator"]), invoice_url, 30_000, received_on="2026-05-01").status_code == 303
    time_machine.move_to(jst(2026, 5, 7, 10, 0))
    assert run_reminders(run_in_app, jst(2026, 5, 7, 10, 0)) == 0
    time_machine.move_to(jst(2026, 5, 8, 10, 0))
    assert run_reminders(run_in_app, jst(2026, 5, 8, 10, 0)) == 1
    assert run_reminders(run_in_app, jst(2026, 5, 8, 15, 0)) == 0
    mails = mailbox(to)
    assert len(mails) == 3
    assert "お支払期限を過ぎています" in mails[1] or "お支払期限を過ぎていますが" in mails[1]
    assert "300,000円" in mails[2]
    steps = run_in_app(lambda: list(db.session.scalars(select(InvoiceReminder.step).order_by(InvoiceReminder.id))))
    assert steps == ["due_soon", "overdue_0", "overdue_1"]

    # Paid: no more reminders.
    assert pay(login_as(world["operator"]), invoice_url, 300_000).status_code == 303
    time_machine.move_to(jst(2026, 5, 15, 10, 0))
    assert run_reminders(run_in_app, jst(2026, 5, 15, 10, 0)) == 0
    assert len(mailbox(to)) == 3
    assert actions(run_in_app).count("invoice.reminder_sent") == 3


def suspend(operator_client, invoice_url):
    return post_form(operator_client, f"{invoice_url}/suspend", {}, page=invoice_url)


def test_resume_offered_once_fully_paid_and_audited(operator_client, world, run_in_app, invoice_url, time_machine):
    assert suspend(operator_client, invoice_url).status_code == 303
    org_status = lambda: run_in_app(lambda: db.session.get(Organization, world["org_a"].id).status)  # noqa: E731
    assert org_status() == "suspended"

    assert pay(operator_client, invoice_url, 100_000).status_code == 303
    assert "利用を再開する" not in text_of(operator_client.get(invoice_url))
    refused = post_form(operator_client, f"{invoice_url}/resume", {}, page=invoice_url)
    assert refused.status_code == 303 and org_status() == "suspended"
    assert "まだ全額入金されていません" in text_of(operator_client.get(invoice_url))

    assert pay(operator_client, invoice_url, 230_000).status_code == 303
    page = BeautifulSoup(operator_client.get(invoice_url).get_data(as_text=True), "html.parser")
    offer = page.find(id="resume-offer")
    assert offer is not None and "利用を再開する" in offer.get_text()
    assert post_form(operator_client, f"{invoice_url}/resume", {}, page=invoice_url).status_code == 303
    assert org_status() == "active"
    assert {"org.resumed_after_payment", "org.status_changed"} <= set(actions(run_in_app))
    assert page.find(id="resume-offer") is not None
    assert BeautifulSoup(operator_client.get(invoice_url).get_data(as_text=True), "html.parser").find(
        id="resume-offer"
    ) is None


def test_received_in_the_last_12_months_on_the_organization_page(
    operator_client, world, run_in_app, invoice_url, time_machine
):
    assert pay(operator_client, invoice_url, 100_000).status_code == 303

    def old_payment():
        db.session.add(Payment(organization_id=world["org_a"].id, invoice_id=world["invoice_a"].id,
                               received_on=date(2025, 5, 10), amount=50_000, payer_name="カ)エー"))
        db.session.add(Payment(organization_id=world["org_a"].id, invoice_id=world["invoice_a"].id,
                               received_on=date(2025, 5, 11), amount=7_000, payer_name="カ)エー"))

    run_in_app(old_payment)
    page = BeautifulSoup(
        operator_client.get(f"/operator/organizations/{world['org_a'].id}").get_data(as_text=True), "html.parser"
    )
    # 2025-05-10 is twelve months ago to the day: outside; the day after is inside.
    assert "107,000円" in page.find(id="received-12-months").get_text()
    other = BeautifulSoup(
        operator_client.get(f"/operator/organizations/{world['org_b'].id}").get_data(as_text=True), "html.parser"
    )
    assert "0円" in other.find(id="received-12-months").get_text()
