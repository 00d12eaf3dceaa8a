"""The administrator opens the inspection results of a seeded year, sees the compliance figures and the
server-drawn SVG trend, and opens a corrective action from a いいえ answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from portal.blueprints.inspections.results.services import month_window
from portal.clock import this_month, today_in_tokyo
from portal.extensions import db
from portal.models import Role, User
from tests.conftest import PASSWORD
from tests.inspection_results_helpers import launch, make_edition, make_items, make_round, submit

pytestmark = pytest.mark.browser


def seed(world, run_in_app):
    org_id = world["org_a"].id

    def make():
        people = []
        for n in range(4):
            user = User(role=Role.LEARNER, organization_id=org_id, name=f"点検 太郎{n}", login_id=f"K{n}",
                        email=f"k{n}@a.example")
            db.session.add(user)
            people.append(user)
        db.session.flush()
        lock, badge = make_items(org_id, [("PCの利用", "離席時に画面をロックしている。"),
                                          ("入退管理", "入館証を身につけている。")])
        edition = make_edition(org_id, [lock, badge], title="月次セルフ点検")
        for month in month_window(this_month(), 3):
            inspection_round = make_round(org_id, edition.id, month, [lock.id, badge.id],
                                          title=f"月次セルフ点検 {month.month}月")
            responses = launch(inspection_round, people)
            for n, user in enumerate(people):
                badge_answer = ("no", f"入館証を忘れました{n}") if n < 2 else "yes"
                submit(responses[user.id], {lock.id: "yes", badge.id: badge_answer})
        return edition.id

    return run_in_app(make)


def test_admin_sees_compliance_and_opens_a_corrective_action(live_server, desktop, world, run_in_app):
    seed(world, run_in_app)
    page = desktop
    page.goto(live_server + "/login")
    page.get_by_label("メールアドレス").fill(world["admin_a"].email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("link", name="点検結果", exact=True).first.click()
    expect(page.get_by_role("heading", name="点検結果", exact=True)).to_be_visible()

    # The trend: an inline SVG with the month's rate as text, and the overall figure for the month.
    chart = page.locator("svg.trend-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("text.value").last).to_have_text("75")  # 6 はい of 8 (はい + いいえ)
    expect(page.locator(".big-rate")).to_have_text("75%")
    # 入館証: 50 % three months running -> highlighted.
    failing = page.locator("tr.failing")
    expect(failing).to_contain_text("入館証を身につけている。")
    expect(failing).to_contain_text("3か月連続")

    # The round of this month -> its いいえ answers -> open a corrective action for the first one.
    page.get_by_role("link", name=f"月次セルフ点検 {this_month().month}月").click()
    page.get_by_role("button", name="「いいえ」の回答とコメント").click()
    expect(page.get_by_text("入館証を忘れました0")).to_be_visible()
    page.get_by_role("button", name="是正処置を登録").first.click()
    expect(page.get_by_role("heading", name="是正処置の登録")).to_be_visible()
    page.get_by_label("担当者").select_option(label=f"{world['manager_a'].name}（マネージャー）")
    page.get_by_label("期限").fill((today_in_tokyo() + timedelta(days=10)).isoformat())
    page.get_by_label("対応メモ").fill("入館証の置き場所を決め、朝礼で周知する。")
    page.get_by_role("button", name="登録する").click()
    expect(page.get_by_text("是正処置を登録しました。")).to_be_visible()
    expect(page.get_by_role("heading", name="入館証を身につけている。")).to_be_visible()

    page.get_by_role("link", name="是正処置", exact=True).first.click()
    row = page.locator("tbody tr").first
    expect(row).to_contain_text("入館証を身につけている。")
    expect(row).to_contain_text(world["manager_a"].name)
    expect(row).to_contain_text("未着手")
