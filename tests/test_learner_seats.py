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
