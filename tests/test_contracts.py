"""Contracts with history and renewal, credit notes (返還インボイス), fees until the end of the term (Art. 16-4),
each month's overage against the limit in force that month, and an organization before its contract starts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Contract, CreditNote, Invoice, Organization, Role, SeatUsage, User
from portal.seats import overage_report, record_seat_usage, seat_check
from tests.clock import jst
from tests.test_backoffice_orgs import fetch, post_form


@pytest.fixture
def operator_client(world, login_as, time_machine):
    # Inside org_a's first contract period (2026-04-01 to 2027-03-31).
    time_machine.move_to(jst(2026, 12, 10, 10, 0))
    return login_as(world["operator"])


def org_url(world, path: str = "") -> str:
    return f"/operator/organizations/{world['org_a'].id}{path}"


def count(run_in_app, model, *where) -> int:
    return run_in_app(lambda: db.session.scalar(select(func.count()).select_from(model).where(*where)))


def renewal_form(**overrides) -> dict:
    data = {"plan_name": "スタンダード", "starts_on": "2027-04-01", "ends_on": "2028-03-31", "seat_limit": "150",
            "annual_fee": "400000", "overage_unit_price": "3000", "due_on": "2027-01-31"}
    data.update(overrides)
    return data


# --- renewal and history ------------------------------------------------------------------------


def test_renewal_defaults_to_the_same_terms_for_a_year(operator_client, world):
    html = operator_client.get(org_url(world, "/contract/renew")).get_data(as_text=True)
    assert 'value="2027-04-01"' in html and 'value="2028-03-31"' in html
    assert 'value="100"' in html and 'value="300000"' in html


def test_renewal_adds_a_period_issues_its_invoice_and_keeps_the_history(operator_client, world, run_in_app,
                                                                        mailbox, time_machine):
    response = post_form(operator_client, org_url(world, "/contract/renew"), renewal_form())
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]

    def check():
        periods = db.session.execute(
            select(Contract.starts_on, Contract.seat_limit).where(Contract.organization_id == world["org_a"].id)
            .order_by(Contract.starts_on)
        ).all()
        invoice = db.session.scalar(select(Invoice).where(Invoice.period_start == date(2027, 4, 1)))
        return periods, invoice

    periods, invoice = fetch(run_in_app, check)
    assert periods == [(date(2026, 4, 1), 100), (date(2027, 4, 1), 150)]
    # 400,000 + 10 % = 440,000, the next period's limit on the invoice.
    assert (invoice.period_end, invoice.subtotal, invoice.tax_amount, invoice.total) == (
        date(2028, 3, 31), 400_000, 40_000, 440_000)
    assert invoice.seat_limit == 150 and invoice.due_on == date(2027, 1, 31)
    assert any(invoice.number in body for body in mailbox(world["admin_a"].email))
    assert count(run_in_app, AuditEvent, AuditEvent.action == "contract.renewed") == 1

    html = operator_client.get(org_url(world)).get_data(as_text=True)
    assert "2026/04/01 〜 2027/03/31" in html and "2027/04/01 〜 2028/03/31" in html
    assert "契約の履歴" in html

    # The first period stays in force until the next one starts.
    org_seat_limit = lambda: seat_check(db.session.get(Organization, world["org_a"].id)).limit  # noqa: E731
    assert run_in_app(org_seat_limit) == 100
    time_machine.move_to(jst(2027, 4, 1, 9, 0))
    assert run_in_app(org_seat_limit) == 150


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"starts_on": "2027-03-01"}, "現在の契約の終了日(2027/03/31)より後に始めて"),
        ({"ends_on": "2027-03-31"}, "契約終了日は契約開始日より後の日付"),
        ({"seat_limit": "abc"}, "上限利用者数は1以上の整数"),
        ({"due_on": "2026-12-01"}, "お支払期限は発行日以降"),
    ],
)
def test_bad_renewal_is_refused_and_keeps_what_was_typed(operator_client, world, run_in_app, overrides, message):
    response = post_form(operator_client, org_url(world, "/contract/renew"), renewal_form(**overrides))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    assert 'value="スタンダード"' in html
    assert count(run_in_app, Contract, Contract.organization_id == world["org_a"].id) == 1
    assert count(run_in_app, Invoice) == 1


# --- credit notes -------------------------------------------------------------------------------


def credit_url(world) -> str:
    return f"/operator/invoices/{world['invoice_a'].id}/credit-notes/new"


def mark_paid(run_in_app, world) -> None:
    """The operator records the invoice's whole balance as received (portal/payments.py)."""
    from portal import payments

    def change():
        invoice = db.session.get(Invoice, world["invoice_a"].id)
        payments.pay_balance(invoice, db.session.get(User, world["operator"].id))

    run_in_app(change)


def test_credit_note_needs_a_paid_invoice(operator_client, world, run_in_app):
    response = post_form(operator_client, credit_url(world), {"amount": "10000", "reason": "点検による停止"})
    assert response.status_code == 422
    assert "入金が確認されていない請求書" in response.get_data(as_text=True)
    assert count(run_in_app, CreditNote) == 0


def test_credit_note_content_email_and_the_customers_copy(operator_client, world, run_in_app, login_as, mailbox):
    mark_paid(run_in_app, world)
    reason = "点検による1か月を超える停止の返還(第20条第1項)"
    response = post_form(operator_client, credit_url(world), {"amount": "25001", "reason": reason})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]

    note = fetch(run_in_app, lambda: db.session.scalar(select(CreditNote)))
    # The tax is computed once at the invoice's rate, fractions of a yen dropped: 25,001 x 10 % = 2,500.
    assert (note.amount, note.tax_rate, note.tax_amount, note.total) == (25_001, 10, 2_500, 27_501)
    assert note.invoice_id == world["invoice_a"].id and note.registration_number == "T1234567890123"
    assert note.number.startswith("CN-") and note.issued_on == date(2026, 12, 10)
    assert count(run_in_app, AuditEvent, AuditEvent.action == "credit_note.issued") == 1
    assert any(note.number in body and "27,501" in body for body in mailbox(world["admin_a"].email))

    admin = login_as(world["admin_a"])
    html = admin.get(f"/org/credit-notes/{note.id}").get_data(as_text=True)
    for fact in ("適格返還請求書", "T1234567890123", "INV-202604-000001", "2026/12/10", "25,001", "2,500", "27,501",
                 reason):
        assert fact in html
    assert note.number in admin.get(f"/org/invoices/{world['invoice_a'].id}").get_data(as_text=True)
    assert note.number in operator_client.get(f"/operator/invoices/{world['invoice_a'].id}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("300001", "お支払い済みで未返還の金額(330,000円)を超えています"),
        ("0", "返還する金額は1円以上の整数"),
        ("１万", "返還する金額は1円以上の整数"),
        ("99999999999999999999", "返還する金額は1円以上の整数"),
    ],
)
def test_credit_notes_return_no_more_than_was_paid(operator_client, world, run_in_app, amount, message):
    mark_paid(run_in_app, world)
    response = post_form(operator_client, credit_url(world), {"amount": amount, "reason": "返還"})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert count(run_in_app, CreditNote) == 0


def test_credit_notes_add_up_to_at_most_the_paid_total(operator_client, world, run_in_app):
    mark_paid(run_in_app, world)
    assert post_form(operator_client, credit_url(world), {"amount": "200000", "reason": "一部"}).status_code == 303
    # 220,000 returned of 330,000: 110,000 left, so 100,001 + tax (110,001) is refused and 100,000 is not.
    refused = post_form(operator_client, credit_url(world), {"amount": "100001", "reason": "残り"})
    assert refused.status_code == 422 and "110,000円" in refused.get_data(as_text=True)
    assert post_form(operator_client, credit_url(world), {"amount": "100000", "reason": "残り"}).status_code == 303
    assert count(run_in_app, CreditNote) == 2


# --- fees until the end of the term (Art. 16-4) -------------------------------------------------------


def cancel(operator_client, world):
    return post_form(operator_client, org_url(world, "/cancel"), {"ground": "16-2-1", "note": ""}, page=org_url(world))


def test_cancellation_issues_the_final_invoice_when_the_period_was_not_invoiced(operator_client, world, run_in_app):
    run_in_app(lambda: db.session.execute(db.delete(Invoice)))
    assert cancel(operator_client, world).status_code == 303

    invoice = fetch(run_in_app, lambda: db.session.scalar(select(Invoice)))
    assert (invoice.period_start, invoice.period_end) == (date(2026, 4, 1), date(2027, 3, 31))
    assert (invoice.base_amount, invoice.total) == (300_000, 330_000)
    assert count(run_in_app, AuditEvent, AuditEvent.action == "contract.final_invoice_issued") == 1
    html = operator_client.get(org_url(world)).get_data(as_text=True)
    assert "契約期間満了までの利用料" in html and "未払い 330,000円" in html


def test_cancellation_invoices_nothing_more_when_the_period_was_invoiced(operator_client, world, run_in_app):
    assert cancel(operator_client, world).status_code == 303
    assert count(run_in_app, Invoice) == 1
    html = operator_client.get(org_url(world)).get_data(as_text=True)
    assert world["invoice_a"].number in html and "未払い 330,000円" in html
    mark_paid(run_in_app, world)
    assert "未払い" not in operator_client.get(org_url(world)).get_data(as_text=True)


def test_receiving_a_customers_request_issues_the_final_invoice(operator_client, world, run_in_app, login_as):
    run_in_app(lambda: db.session.execute(db.delete(Invoice)))
    admin = login_as(world["admin_a"])
    requested = post_form(admin, "/org/termination", {"end_on": "2027-01-31", "reason": "予算"})
    assert requested.status_code in (200, 303)
    assert count(run_in_app, Invoice) == 0
    received = post_form(operator_client, org_url(world, "/termination/receive"), {}, page=org_url(world))
    assert received.status_code == 303
    assert count(run_in_app, Invoice, Invoice.period_start == date(2026, 4, 1)) == 1


# --- seats: a month's overage against the limit in force that month ---------------------------------


def test_raising_the_limit_does_not_rewrite_a_past_months_overage(operator_client, world, make_user, run_in_app):
    run_in_app(lambda: db.session.execute(db.text("UPDATE contracts SET seat_limit = 1")))
    make_user(Role.LEARNER, world["org_a"], login_id="A002")
    make_user(Role.LEARNER, world["org_a"], login_id="A003")
    november = datetime(2026, 11, 10, tzinfo=UTC)
    assert run_in_app(lambda: record_seat_usage(world["org_a"].id, november).seat_limit) == 1

    edit = {"plan_name": "スタンダード", "starts_on": "2026-04-01", "ends_on": "2027-03-31", "seat_limit": "10",
            "annual_fee": "300000", "overage_unit_price": "3000"}
    assert post_form(operator_client, org_url(world, "/contract"), edit).status_code == 303
    december = datetime(2026, 12, 10, tzinfo=UTC)
    run_in_app(lambda: record_seat_usage(world["org_a"].id, december))

    limits = run_in_app(lambda: dict(db.session.execute(select(SeatUsage.month, SeatUsage.seat_limit)).all()))
    assert limits == {"2026-11": 1, "2026-12": 10}
    rows = run_in_app(lambda: [(r.peak, r.seat_limit, r.over, r.charge) for r in overage_report("2026-11")])
    assert rows == [(3, 1, 2, 6_000)]
    assert run_in_app(lambda: overage_report("2026-12")) == []
    # The invoice form still suggests the 2 seats over in November.
    html = operator_client.get(org_url(world, "/invoices/new")).get_data(as_text=True)
    assert 'name="overage_seats" type="text" value="2"' in html or 'value="2"' in html


# --- before the contract starts -----------------------------------------------------------------------


def test_before_the_start_people_prepare_but_nothing_is_sent_or_counted(operator_client, world, run_in_app, login_as):
    from tests.training_helpers import add_course, deliver

    def move_start():
        contract = db.session.scalar(select(Contract).where(Contract.organization_id == world["org_a"].id))
        contract.starts_on, contract.ends_on = date(2027, 1, 1), date(2027, 12, 31)

    run_in_app(move_start)
    assert run_in_app(lambda: record_seat_usage(world["org_a"].id)) is None
    assert count(run_in_app, SeatUsage) == 0
    assert "契約済み・開始前" in operator_client.get(org_url(world)).get_data(as_text=True)

    admin = login_as(world["admin_a"])
    assert admin.get("/org/").status_code == 200

    course_id = run_in_app(lambda: add_course(organization_id=world["org_a"].id).id)
    from portal.blueprints.training.deliveries.services import DeliveryRuleError

    admin_user = world["admin_a"]
    with pytest.raises(DeliveryRuleError, match="ご契約の開始日\\(2027/01/01\\)より前には配信できません"):
        run_in_app(lambda: deliver(admin_user, course_id))
    # Scheduled from the start date on, it is accepted.
    starts_in = jst(2027, 1, 1, 9, 0) - jst(2026, 12, 10, 10, 0)
    delivery = run_in_app(
        lambda: deliver(admin_user, course_id, starts_in=starts_in, due_in=starts_in + timedelta(days=14)).status
    )
    assert delivery == "scheduled"
