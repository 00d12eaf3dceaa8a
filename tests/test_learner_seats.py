"""Learner management meets the contract's seat limit (Art. 3-2): going over is allowed, told first."""

from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import Contract, Role, SeatUsage
from tests.conftest import csrf_token_from


def _limit_org_a_to(run_in_app, world, limit):
    def update():
        contract = db.session.scalar(select(Contract).where(Contract.organization_id == world["org_a"].id))
        contract.seat_limit = limit
        contract.overage_unit_price = 3_000
        assert contract.starts_on <= date(2027, 3, 31)

    run_in_app(update)


def test_the_form_warns_before_going_over_and_creation_records_the_peak(world, login_as, run_in_app, make_user):
    _limit_org_a_to(run_in_app, world, 1)  # learner_a already uses the only seat
    admin = login_as(world["admin_a"])
    page = admin.get("/org/learners/new").get_data(as_text=True)
    assert "上限利用者数(1名)を1名超えます" in page and "3,000円" in page
    response = admin.post(
        "/org/learners/new",
        data={"csrf_token": csrf_token_from(page), "login_id": "A002", "name": "追加 受講者"},
    )
    assert response.status_code == 303  # allowed: the terms charge the difference instead
    peaks = run_in_app(lambda: db.session.scalars(select(SeatUsage.peak)).all())
    assert peaks == [2]


def test_no_warning_within_the_limit(world, login_as, run_in_app):
    _limit_org_a_to(run_in_app, world, 50)
    page = login_as(world["admin_a"]).get("/org/learners/new").get_data(as_text=True)
    assert "上限利用者数" not in page
    assert Role.LEARNER == "learner"


def test_an_import_of_the_valid_rows_tells_the_seats_they_take_and_goes_over_as_allowed(world, login_as, run_in_app):
    from tests.learner_helpers import batch_id_from, csv_bytes, learners, post_form, upload

    _limit_org_a_to(run_in_app, world, 1)  # learner_a already uses the only seat
    admin = login_as(world["admin_a"])
    data = csv_bytes([["受講者ID", "雇用形態"], ["N1", ""], ["N2", "社長"], ["N3", ""]])
    batch_id = batch_id_from(upload(admin, data))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    # Only the two valid rows count; going over is charged (Art. 3-2), not refused.
    assert "上限利用者数(1名)を2名超えます(登録後 3名)" in page and "6,000円" in page
    from bs4 import BeautifulSoup

    form = BeautifulSoup(page, "html.parser").select_one("#import-valid-rows form")
    choice = {i["name"]: i.get("value", "") for i in form.select("input[type=hidden]")}
    post_form(admin, f"/org/learners/import/{batch_id}/confirm", choice)
    assert {"N1", "N3"} <= set(learners(run_in_app, world["org_a"]))
    assert run_in_app(lambda: db.session.scalars(select(SeatUsage.peak)).all()) == [3]


def test_should_the_seat_rule_refuse_the_rows_beyond_the_seats_left_are_refused():
    from portal.blueprints.learners.imports import rows_beyond_seats
    from portal.blueprints.learners.services import SeatEffect
    from portal.seats import SeatCheck

    lines = [2, 3, 5, 8]
    warned = SeatEffect(SeatCheck(used=9, adding=4, limit=10, unit_price=3_000))
    assert rows_beyond_seats(lines, warned) == [] and rows_beyond_seats(lines, None) == []
    refusing = SeatEffect(SeatCheck(used=9, adding=4, limit=10, unit_price=3_000), allowed=False)
    assert rows_beyond_seats(lines, refusing) == [3, 5, 8]
    full = SeatEffect(SeatCheck(used=12, adding=4, limit=10, unit_price=3_000), allowed=False)
    assert rows_beyond_seats(lines, full) == lines
