"""Invoices by bank transfer and suspension for non-payment (part 3), seats (part 4), start page (part 5)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.jobs import REGISTRY
from portal.models import (
    AuditEvent,
    Invoice,
    Organization,
    OrganizationStatusChange,
    OutboxMessage,
    Role,
    SeatUsage,
)
from portal.seats import overage_report, record_seat_usage, seat_check
from tests.conftest import csrf_token_from
from tests.test_backoffice_orgs import fetch, post_form


@pytest.fixture
def operator_client(world, login_as):
    return login_as(world["operator"])


def invoice_form(**overrides) -> dict:
    today = today_in_tokyo()
    data = {
        "period_start": "2027-04-01",
        "period_end": "2028-03-31",
        "due_on": (today + timedelta(days=30)).isoformat(),
        "overage_seats": "2",
    }
    data.update(overrides)
    return data


def issue(c, world, **overrides):
    return post_form(c, f"/operator/organizations/{world['org_a'].id}/invoices/new", invoice_form(**overrides))


def invoice_count(run_in_app) -> int:
    return run_in_app(lambda: db.session.scalar(select(func.count()).select_from(Invoice)))


def make_overdue(run_in_app, invoice_id: int) -> None:
    def change():
        invoice = db.session.get(Invoice, invoice_id)
        invoice.due_on = today_in_tokyo() - timedelta(days=1)

    run_in_app(change)


# --- invoices -----------------------------------------------------------------------------------


def test_issue_invoice_with_qualified_invoice_fields_and_email(operator_client, world, run_in_app):
    response = issue(operator_client, world)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]

    def check():
        invoice = db.session.scalar(select(Invoice).where(Invoice.period_start == date(2027, 4, 1)))
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "invoice_issued"))
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invoice.issued"))
        return invoice, message, event

    invoice, message, event = fetch(run_in_app, check)
    # 300,000 base + 2 x 3,000 overage = 306,000; 10 % tax = 30,600; total 336,600.
    assert (invoice.base_amount, invoice.overage_amount, invoice.subtotal) == (300_000, 6_000, 306_000)
    assert (invoice.tax_rate, invoice.tax_amount, invoice.total) == (10, 30_600, 336_600)
    assert invoice.registration_number == "T1234567890123"
    assert invoice.issuer_name == "株式会社ワークストラスト" and "テスト銀行" in invoice.bank_account
    assert re.fullmatch(r"INV-\d{6}-\d{6}", invoice.number)
    assert event.organization_id == world["org_a"].id
    assert message.to_address == world["admin_a"].email
    assert invoice.number in message.subject
    assert f"http://portal.test/org/invoices/{invoice.id}" in message.body_text

    # The customer sees and prints it; the page carries every field of a qualified invoice.
    admin = operator_client.application.test_client()
    from tests.conftest import login

    login(admin, world["admin_a"].email)
    html = admin.get(f"/org/invoices/{invoice.id}").get_data(as_text=True)
    for text in ("T1234567890123", "株式会社エー 御中", "消費税(10%)", "30,600", "336,600", "テスト銀行", "お支払期限"):
        assert text in html, text
    assert invoice.number in admin.get("/org/invoices").get_data(as_text=True)


def test_tax_drops_fractions_of_a_yen(operator_client, world, run_in_app):
    run_in_app(lambda: db.session.execute(db.text("UPDATE contracts SET annual_fee = 12345")))
    assert issue(operator_client, world, overage_seats="0").status_code == 303
    invoice = fetch(run_in_app, lambda: db.session.scalar(select(Invoice).where(Invoice.total != 330_000)))
    assert (invoice.subtotal, invoice.tax_amount, invoice.total) == (12_345, 1_234, 13_579)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"period_end": "2027-03-01"}, "請求期間の終了日は開始日より後の日付にしてください。"),
        ({"overage_seats": "-1"}, "超過人数は0以上の整数で入力してください。"),
        ({"due_on": "2020-01-01"}, "お支払期限は発行日以降の日付にしてください。"),
        ({"period_start": "2026-04-01"}, "この期間の請求書はすでに発行されています。"),
    ],
)
def test_bad_invoice_input_is_refused(operator_client, world, run_in_app, overrides, message):
    before = invoice_count(run_in_app)
    response = issue(operator_client, world, **overrides)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html
    assert invoice_count(run_in_app) == before


def test_invoice_refused_without_registration_number(app, operator_client, world, run_in_app):
    app.config["INVOICE_REGISTRATION_NUMBER"] = "12345"
    try:
        response = issue(operator_client, world)
    finally:
        app.config["INVOICE_REGISTRATION_NUMBER"] = "T1234567890123"
    assert response.status_code == 422
    assert "登録番号(T+13桁)が設定されていません" in response.get_data(as_text=True)
    assert invoice_count(run_in_app) == 1


def test_mark_paid_once(operator_client, world, run_in_app):
    url = f"/operator/invoices/{world['invoice_a'].id}"
    assert post_form(operator_client, f"{url}/paid", {}, page=url).status_code == 303
    paid_at = run_in_app(lambda: db.session.get(Invoice, world["invoice_a"].id).paid_at)
    assert paid_at is not None
    response = post_form(operator_client, f"{url}/paid", {}, page=url)
    assert response.status_code == 303
    assert "この請求書はすでに入金済みです。" in operator_client.get(url).get_data(as_text=True)
    assert run_in_app(lambda: db.session.get(Invoice, world["invoice_a"].id).paid_at) == paid_at
    actions = run_in_app(lambda: db.session.scalars(select(AuditEvent.action)).all())
    assert actions.count("invoice.paid") == 1


# --- suspension for non-payment -----------------------------------------------------------------


def suspend_from_overdue_list(operator_client, world, run_in_app):
    make_overdue(run_in_app, world["invoice_a"].id)
    html = operator_client.get("/operator/invoices?overdue=1").get_data(as_text=True)
    assert world["invoice_a"].number in html and "未払いのため利用停止" in html
    token = csrf_token_from(html)
    return operator_client.post(f"/operator/invoices/{world['invoice_a'].id}/suspend", data={"csrf_token": token})


def test_not_overdue_invoice_cannot_suspend(operator_client, world, run_in_app):
    run_in_app(lambda: db.session.execute(db.text("UPDATE invoices SET due_on = :d"), {"d": date(2999, 1, 1)}))
    url = f"/operator/invoices/{world['invoice_a'].id}"
    response = post_form(operator_client, f"{url}/suspend", {}, page=url)
    assert response.status_code == 303
    assert "お支払期限を過ぎていない請求書では利用停止にできません。" in operator_client.get(url).get_data(as_text=True)
    assert run_in_app(lambda: db.session.get(Organization, world["org_a"].id).status) == "active"


def test_suspension_blocks_every_route_and_resuming_restores(operator_client, world, login_as, run_in_app, app):
    learner = login_as(world["learner_a"])
    manager = login_as(world["manager_a"])
    admin = login_as(world["admin_a"])
    other_org_admin = login_as(world["admin_b"])
    assert suspend_from_overdue_list(operator_client, world, run_in_app).status_code == 303

    def check():
        org = db.session.get(Organization, world["org_a"].id)
        change = db.session.scalar(select(OrganizationStatusChange).order_by(OrganizationStatusChange.id.desc()))
        mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "org_status_changed"))
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "org.status_changed"))
        return org.status, change.reason, mail, event.details

    status, reason, mail, details = fetch(run_in_app, check)
    assert status == "suspended"
    assert "第3条第4項" in reason and world["invoice_a"].number in reason
    assert mail.to_address == world["admin_a"].email and "停止" in mail.subject and reason in mail.body_text
    assert details["previous"] == "active" and details["status"] == "suspended"

    # Every route of every member of the organization shows the suspension page.
    urls = ("/", "/me/", "/org/", "/org/profile", "/org/members", "/org/audit", "/nope")
    for client, role in ((learner, "learner"), (manager, "manager"), (admin, "admin")):
        for url in urls:
            response = client.get(url)
            assert response.status_code == 403, (role, url)
            html = response.get_data(as_text=True)
            assert "ご利用を停止しています" in html and "第3条第4項" in html, (role, url)
    # POSTs too, and htmx requests get a fragment.
    token = csrf_token_from(admin.get("/org/invoices").get_data(as_text=True))
    response = admin.post("/org/members", data={"csrf_token": token, "name": "x", "email": "x@x.example.com"})
    assert response.status_code == 403
    response = admin.get("/org/", headers={"HX-Request": "true"})
    assert response.status_code == 403 and "<html" not in response.get_data(as_text=True)
    # The contact is shown to administrators; others are sent to their administrator.
    assert app.config["BILLING_CONTACT"] in admin.get("/org/").get_data(as_text=True)
    assert "組織の管理者にお問い合わせください" in learner.get("/me/").get_data(as_text=True)
    # Administrators can still read their invoices; managers cannot.
    assert admin.get("/org/invoices").status_code == 200
    assert admin.get(f"/org/invoices/{world['invoice_a'].id}").status_code == 200
    assert manager.get("/org/invoices").status_code == 403
    # Other organizations and staff are unaffected.
    assert other_org_admin.get("/org/").status_code == 200
    assert operator_client.get(f"/operator/organizations/{world['org_a'].id}").status_code == 200

    # Resume: everything works again, and the primary administrator is told.
    url = f"/operator/organizations/{world['org_a'].id}"
    response = post_form(operator_client, f"{url}/status", {"status": "active", "reason": "入金確認"}, page=url)
    assert response.status_code == 303
    for client, url in ((learner, "/me/"), (manager, "/org/"), (admin, "/org/members")):
        assert client.get(url).status_code == 200, url
    mails = run_in_app(
        lambda: db.session.scalars(
            select(OutboxMessage.subject).where(OutboxMessage.template == "org_status_changed")
        ).all()
    )
    assert len(mails) == 2 and "再開" in mails[1]


def test_terminated_organization_is_blocked_too(operator_client, world, login_as):
    learner = login_as(world["learner_a"])
    url = f"/operator/organizations/{world['org_a'].id}"
    data = {"status": "terminated", "reason": "お客様からの利用終了の申し入れ(第15条)"}
    assert post_form(operator_client, f"{url}/status", data, page=url).status_code == 303
    response = learner.get("/me/")
    assert response.status_code == 403 and "ご契約は終了しています" in response.get_data(as_text=True)


def test_overdue_list_and_start_page(operator_client, world, run_in_app):
    make_overdue(run_in_app, world["invoice_a"].id)
    html = operator_client.get("/operator/").get_data(as_text=True)
    assert "お支払期限を過ぎた請求書" in html and world["invoice_a"].number in html
    assert "利用中: <strong>2</strong>" in html
    run_in_app(lambda: db.session.execute(db.text("UPDATE invoices SET paid_at = CURRENT_TIMESTAMP")))
    assert world["invoice_a"].number not in operator_client.get("/operator/invoices?overdue=1").get_data(as_text=True)


# --- seats ----------------------------------------------------------------------------------------


def test_seat_check_counts_active_learners_and_estimates_the_charge(app, world, make_user, run_in_app):
    run_in_app(lambda: db.session.execute(db.text("UPDATE contracts SET seat_limit = 3")))
    make_user(Role.LEARNER, world["org_a"], login_id="A002")
    make_user(Role.LEARNER, world["org_a"], login_id="A003", is_active_flag=False)
    make_user(Role.MANAGER, world["org_a"])

    def check(adding):
        org = db.session.get(Organization, world["org_a"].id)
        return seat_check(org, adding=adding)

    within = run_in_app(lambda: check(1))
    assert (within.used, within.limit, within.after, within.over, within.estimated_charge) == (2, 3, 3, 0, 0)
    over = run_in_app(lambda: check(3))
    assert (over.after, over.over, over.newly_over, over.estimated_charge) == (5, 2, 2, 6_000)
    no_contract = run_in_app(lambda: seat_check(db.session.get(Organization, world["org_b"].id), adding=5))
    assert (no_contract.used, no_contract.limit, no_contract.over) == (1, None, 0)


def test_monthly_peak_only_rises_and_feeds_the_overage_report(world, make_user, run_in_app, operator_client):
    run_in_app(lambda: db.session.execute(db.text("UPDATE contracts SET seat_limit = 1")))
    november = datetime(2026, 11, 10, tzinfo=UTC)
    make_user(Role.LEARNER, world["org_a"], login_id="A002")
    make_user(Role.LEARNER, world["org_a"], login_id="A003")
    assert run_in_app(lambda: record_seat_usage(world["org_a"].id, november).peak) == 3
    run_in_app(lambda: db.session.execute(db.text("UPDATE users SET active = false WHERE login_id = 'A003'")))
    assert run_in_app(lambda: record_seat_usage(world["org_a"].id, november).peak) == 3
    # Months are Tokyo months: 16:00 UTC on 30 November is already 1 December in Tokyo.
    tokyo_december = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert run_in_app(lambda: record_seat_usage(world["org_a"].id, tokyo_december).month) == "2026-12"

    rows = run_in_app(lambda: [(r.organization.name, r.peak, r.over, r.charge) for r in overage_report("2026-11")])
    assert rows == [("株式会社エー", 3, 2, 6_000)]
    html = operator_client.get("/operator/seats?month=2026-11").get_data(as_text=True)
    assert "株式会社エー" in html and "6,000" in html
    assert "株式会社エー" not in operator_client.get("/operator/seats?month=2026-10").get_data(as_text=True)
    # Junk months fall back to the current month instead of failing.
    assert operator_client.get("/operator/seats?month=2026-13").status_code == 200


def test_periodic_job_records_every_active_organization(world, run_in_app):
    job = REGISTRY["seats.record_usage"]
    now = datetime(2026, 11, 10, tzinfo=UTC)
    run_in_app(lambda: job.func(now))
    peaks = run_in_app(
        lambda: dict(db.session.execute(select(SeatUsage.organization_id, SeatUsage.peak)).all())
    )
    assert peaks == {world["org_a"].id: 1, world["org_b"].id: 1}
    run_in_app(lambda: job.func(now))
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(SeatUsage))) == 2


def test_administrator_sees_seats_and_the_overage_on_the_home_page(world, login_as, make_user, run_in_app):
    admin = login_as(world["admin_a"])
    assert "利用者数(有効な受講者): 1 / 上限 100名" in admin.get("/org/").get_data(as_text=True)
    run_in_app(lambda: db.session.execute(db.text("UPDATE contracts SET seat_limit = 1")))
    make_user(Role.LEARNER, world["org_a"], login_id="A002")
    html = admin.get("/org/").get_data(as_text=True)
    assert "上限を1名超えています" in html and "3,000円" in html
    assert "利用者数" not in login_as(world["manager_a"]).get("/org/").get_data(as_text=True)
