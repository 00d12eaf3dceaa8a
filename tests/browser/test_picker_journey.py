"""The learner picker in Chromium, with htmx and with scripts off, and the administrator's tables at desktop
width with their column headers whole (#19 item 5)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.models import Assignment, OutboxMessage, OutboxStatus, Role
from portal.tenancy import unscoped
from tests.conftest import PASSWORD
from tests.training_helpers import add_course

pytestmark = pytest.mark.browser


@pytest.fixture
def picker_world(world, run_in_app, make_user):
    org = world["org_a"]
    people = {name: make_user(Role.LEARNER, org, name=name, login_id=f"P{i:03d}")
              for i, name in enumerate(["佐藤 翔太", "斎藤 美咲", "鈴木 大輔"], start=1)}
    run_in_app(lambda: add_course(organization_id=org.id, questions=2, title="ピッカー講座"))
    return {**world, **people}


def _sign_in(page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_load_state()


def _fill_schedule(page) -> None:
    page.get_by_label("講座").select_option(label="ピッカー講座（2026年度）")
    page.get_by_label("受講者を選ぶ").check()
    page.get_by_label("送信時間帯（開始時）").fill("0")
    page.get_by_label("送信時間帯（終了時）").fill("24")


def _assigned(run_in_app) -> set[int]:
    def read():
        with unscoped("the test reads and writes rows directly"):
            return set(db.session.scalars(select(Assignment.learner_id)))

    return run_in_app(read)


def test_typing_searches_and_the_ticked_stay_ticked(live_server, desktop, picker_world, run_in_app):
    page = desktop
    _sign_in(page, live_server, picker_world["admin_a"].email)
    page.goto(live_server + "/org/training/new")
    _fill_schedule(page)
    results = page.locator("#learner_ids-results")
    search = page.get_by_label("名前・受講者ID・メールアドレスで探す")
    search.fill("佐藤")
    expect(results.get_by_text("「佐藤」に一致する人")).to_be_visible()
    expect(results.locator("input[name=learner_ids]")).to_have_count(1)
    results.get_by_label("P001 佐藤 翔太").check()
    search.fill("斎藤")
    expect(results.get_by_text("選択中: 1人")).to_be_visible()
    expect(results.get_by_label("P001 佐藤 翔太")).to_be_checked()
    results.get_by_label("P002 斎藤 美咲").check()
    search.fill("")
    expect(results.get_by_text("選択中: 2人")).to_be_visible()
    page.get_by_role("button", name="配信する", exact=True).click()
    expect(page.get_by_text("配信を開始しました")).to_be_visible()
    assert _assigned(run_in_app) == {picker_world["佐藤 翔太"].id, picker_world["斎藤 美咲"].id}


def test_without_scripts_the_search_button_searches(live_server, browser, picker_world, run_in_app):
    context = browser.new_context(java_script_enabled=False, locale="ja-JP", timezone_id="Asia/Tokyo",
                                  viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        _sign_in(page, live_server, picker_world["admin_a"].email)
        page.goto(live_server + "/org/training/new")
        _fill_schedule(page)
        page.get_by_label("配信名").fill("手で選んだ配信")
        page.get_by_label("名前・受講者ID・メールアドレスで探す").fill("鈴木")
        page.get_by_role("button", name="検索").click()
        results = page.locator("#learner_ids-results")
        expect(results.get_by_text("「鈴木」に一致する人")).to_be_visible()
        expect(page.get_by_label("配信名")).to_have_value("手で選んだ配信")
        results.get_by_label("P003 鈴木 大輔").check()
        page.get_by_role("button", name="配信する", exact=True).click()
        expect(page.get_by_text("配信を開始しました")).to_be_visible()
        assert _assigned(run_in_app) == {picker_world["鈴木 大輔"].id}
    finally:
        context.close()


def test_column_headers_are_whole_at_desktop_width(live_server, desktop, world, run_in_app):
    def messages():
        for n in range(3):
            db.session.add(OutboxMessage(
                idempotency_key=f"headers:{n}", template="training_reminder",
                to_address=f"long.address.{n}@example.com",
                subject="【リマインド】研修「情報セキュリティ基礎（2026年度）」の期限は 2026/12/28 です" * 2,
                body_text="本文", organization_id=world["org_a"].id, status=OutboxStatus.DEAD, attempts=8))

    run_in_app(messages)
    page = desktop
    _sign_in(page, live_server, world["admin_a"].email)
    for path in ("/mail/", "/org/audit"):
        page.goto(live_server + path)
        expect(page.locator("thead th").first).to_be_visible()
        # Each header's text on one line: its rectangles all share one top.
        broken = page.evaluate("""() => [...document.querySelectorAll('thead th')].filter(th => {
            const range = document.createRange(); range.selectNodeContents(th);
            return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
        }).map(th => th.textContent.trim())""")
        assert broken == [], f"{path}: headers broken across lines: {broken}"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
