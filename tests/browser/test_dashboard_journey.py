"""The administrator signs in to the start page, reads the training panel, follows the overdue figure to the
delivery's results (which list exactly the overdue learner), comes back and reminds them from the panel;
then follows the セキュレジ panel's figure of sheets not submitted to the round's list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.models import Role
from tests.clock import jst
from tests.conftest import PASSWORD
from tests.inspection_helpers import add_edition, answer_all, open_round, response_of
from tests.training_helpers import add_course, assignment_of, deliver, take

pytestmark = pytest.mark.browser

NOW = jst(2027, 1, 20, 10, 0)


@pytest.fixture
def overdue_world(world, make_user, run_in_app, time_machine):
    """On 2027-01-20 10:00 JST (within the world's contract), a delivery of organization A due a week ago:
    受講 A has not started it, 合格 太郎 passed. This month's inspection: 合格 太郎 submitted, 受講 A has not."""
    time_machine.move_to(NOW)
    passed = make_user(Role.LEARNER, world["org_a"], name="合格 太郎", login_id="A002")

    def build():
        course_id = add_course(organization_id=world["org_a"].id, questions=3).id
        delivery = deliver(world["admin_a"], course_id, title="情報セキュリティ基礎 11月",
                           now=NOW - timedelta(days=21), due_in=timedelta(days=14))
        take(assignment_of(delivery.id, passed.id).id)
        edition_id, item_ids = add_edition(world["org_a"].id, items=2, title="従業員版")
        inspection = open_round(world["admin_a"], edition_id, title="今月の点検")
        answer_all(response_of(inspection.id, passed.id).id, dict.fromkeys(item_ids, "yes"))
        return delivery.id

    return {**world, "delivery": run_in_app(build)}


def test_the_administrator_follows_the_overdue_figure_and_reminds_from_the_dashboard(live_server, desktop,
                                                                                     overdue_world):
    page = desktop
    page.goto(live_server + "/login")
    page.get_by_label("メールアドレス").fill(overdue_world["admin_a"].email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()

    training = page.locator("#panel-training")
    expect(training.get_by_role("heading", name="研修（セキュトレ）")).to_be_visible()
    expect(training.get_by_text("期限切れの未合格 1人")).to_be_visible()
    row = training.get_by_role("row", name="情報セキュリティ基礎 11月")
    expect(row.get_by_role("cell", name="50%")).to_have_count(2)  # completion and pass rates: 1 of 2

    row.get_by_role("link", name="1人").click()
    expect(page.get_by_role("heading", name="期限を過ぎた未合格の受講者")).to_be_visible()
    unfinished = page.locator("#unfinished")
    expect(unfinished.get_by_role("cell", name="受講 A", exact=True)).to_be_visible()
    expect(unfinished.get_by_text("合格 太郎")).to_have_count(0)

    page.get_by_role("link", name="ホーム").first.click()
    page.locator("#panel-training").get_by_role("button", name="リマインド").click()
    expect(page.get_by_text("1人にリマインドを送ります")).to_be_visible()

    page.get_by_role("link", name="ホーム").first.click()
    inspections = page.locator("#panel-inspections")
    expect(inspections.get_by_role("cell", name="100%")).to_be_visible()
    inspections.get_by_role("link", name="今月の点検の未提出 1人").click()
    pending = page.locator("#pending")
    expect(pending.get_by_role("cell", name="受講 A")).to_be_visible()
    expect(pending.get_by_text("合格 太郎")).to_have_count(0)
