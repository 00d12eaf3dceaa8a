"""Every role's screens in Chromium: axe-core finds no serious or critical violation, learner screens fit
a 360 px phone with 44 px touch targets, the main administrator screens fit it too, tables reflow,
dates and numbers are in Japanese format. With PORTAL_SCREENSHOTS=1 (`make screenshots`) the tour
also saves the README's screenshots under docs/screenshots/.

Each role's pages are a list below: a new screen is one line (name, path from the tour's data, and the
screenshot's name or None). The セキュレジ inspection round joins LEARNER_PAGES the same way.
"""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from portal.blueprints.courses.demo import seed_demo_course
from portal.extensions import db
from portal.models import Department, Lesson, Role, utcnow
from portal.tenancy import tenant_scope
from tests.browser.experience import (
    PHONE_WIDTH,
    assert_accessible,
    assert_fits_phone,
    assert_japanese_formats,
    assert_touch_targets,
    screenshot,
    with_axe,
)
from tests.browser.helpers import pass_second_step_if_asked
from tests.conftest import PASSWORD
from tests.training_helpers import assignment_of, deliver, link_for, take

pytestmark = pytest.mark.browser

PHONE = {"width": PHONE_WIDTH, "height": 780}
DESKTOP = {"width": 1280, "height": 800}

# (name, path from the tour's data, screenshot name or None)
PUBLIC_PAGES = [
    ("ログイン", lambda t: "/login", "public-login-phone"),
    ("組織のログイン", lambda t: f"/o/{t.org_code}", None),
    ("パスワードを忘れた", lambda t: "/password/forgot", None),
    ("利用申込", lambda t: "/apply/", None),
    ("稼働状況", lambda t: "/status/", None),
]
LEARNER_PAGES = [
    ("マイページ", lambda t: "/me/", "learner-home-phone"),
    ("研修の入口（個人リンク）", lambda t: f"/t/{t.link}", None),
    ("研修の一覧", lambda t: "/me/training/", None),
    ("研修", lambda t: f"/me/training/{t.assignment}", None),
    ("レッスン", lambda t: f"/me/training/{t.assignment}/lessons/{t.lesson}", "learner-lesson-phone"),
    ("問題", lambda t: f"/me/training/attempts/{t.running}/1", "learner-question-phone"),
    ("回答の確認", lambda t: f"/me/training/attempts/{t.running}/review", None),
    ("結果", lambda t: f"/me/training/attempts/{t.finished}/result", "learner-result-phone"),
    ("登録情報", lambda t: "/me/profile", None),
    ("パスワード変更", lambda t: "/password/change", None),
    # セキュレジ: ("点検", lambda t: f"/me/inspections/rounds/{t.inspection_round}", "learner-inspection-phone"),
]
ADMIN_PAGES = [
    ("組織のホーム", lambda t: "/org/", "admin-home"),
    ("受講者", lambda t: "/org/learners/", "admin-learners"),
    ("受講者の詳細", lambda t: f"/org/learners/{t.learner}", None),
    ("受講者の登録", lambda t: "/org/learners/new", None),
    ("CSVで一括登録", lambda t: "/org/learners/import", None),
    ("部署", lambda t: "/org/learners/departments", None),
    ("ログイン方法", lambda t: "/org/learners/sign-in", None),
    ("研修", lambda t: "/org/training/", None),
    ("配信する", lambda t: "/org/training/new", None),
    ("配信の状況", lambda t: f"/org/training/{t.delivery}", "admin-delivery"),
    ("設問の分析", lambda t: f"/org/training/{t.delivery}/items", None),
    ("講座の結果", lambda t: f"/org/training/courses/{t.course}", None),
    ("管理者", lambda t: "/org/members", None),
    ("組織の登録情報", lambda t: "/org/profile", None),
    ("お知らせ", lambda t: "/org/notices", None),
    ("お知らせの本文", lambda t: f"/org/notices/{t.notice}", None),
    ("請求書", lambda t: "/org/invoices", None),
    ("請求書の詳細", lambda t: f"/org/invoices/{t.invoice}", None),
    ("監査ログ", lambda t: "/org/audit", None),
    ("お問い合わせ", lambda t: "/tickets/", None),
    ("新しいお問い合わせ", lambda t: "/tickets/new", None),
    ("お問い合わせの詳細", lambda t: f"/tickets/{t.ticket}", None),
    ("お問い合わせの設定", lambda t: "/tickets/settings", None),
    ("講座", lambda t: "/courses/", None),
    ("セキュレジの点検項目", lambda t: "/inspections/items/", None),
]
# The administrator's main screens, also checked (and one photographed) at 360 px.
ADMIN_PHONE_PAGES = [
    ("組織のホーム", lambda t: "/org/", "admin-home-phone"),
    ("受講者", lambda t: "/org/learners/", None),
    ("CSVで一括登録", lambda t: "/org/learners/import", None),
    ("配信する", lambda t: "/org/training/new", None),
    ("配信の状況", lambda t: f"/org/training/{t.delivery}", None),
    ("お問い合わせ", lambda t: "/tickets/", None),
]
MANAGER_PAGES = [
    ("組織のホーム", lambda t: "/org/", None),
    ("受講者", lambda t: "/org/learners/", None),
    ("研修", lambda t: "/org/training/", None),
]
OPERATOR_PAGES = [
    ("運営のホーム", lambda t: "/operator/", "operator-home"),
    ("組織", lambda t: "/operator/organizations", None),
    ("組織の詳細", lambda t: f"/operator/organizations/{t.org}", "operator-organization"),
    ("組織の登録", lambda t: "/operator/organizations/new", None),
    ("契約の変更", lambda t: f"/operator/organizations/{t.org}/contract", None),
    ("請求書", lambda t: "/operator/invoices", None),
    ("請求書の詳細", lambda t: f"/operator/invoices/{t.invoice}", None),
    ("お知らせ", lambda t: "/operator/notices", None),
    ("お知らせの作成", lambda t: "/operator/notices/new", None),
    ("お知らせの詳細", lambda t: f"/operator/notices/{t.notice}", None),
    ("規約", lambda t: "/operator/legal", None),
    ("利用申込", lambda t: "/operator/applications/", None),
    ("利用席数", lambda t: "/operator/seats", None),
    ("監査ログ", lambda t: "/operator/audit", None),
    ("削除予定", lambda t: "/operator/deletions", None),
    ("送信記録", lambda t: "/mail/", None),
    ("送信停止", lambda t: "/mail/suppressions", None),
    ("講座", lambda t: "/courses/", None),
    ("講座の詳細", lambda t: f"/courses/{t.course}", None),
    ("点検項目", lambda t: "/inspections/items/", None),
    ("点検の版", lambda t: "/inspections/editions/", None),
    ("二要素認証", lambda t: "/account/two-factor", None),
    ("休業日", lambda t: "/tickets/breaks", None),
]
SUPPORT_PAGES = [
    ("受付窓口", lambda t: "/tickets/desk", "support-desk"),
    ("お問い合わせの詳細", lambda t: f"/tickets/{t.ticket}", "support-ticket"),
    ("定型文", lambda t: "/tickets/canned", None),
    ("報告", lambda t: "/tickets/reports", None),
]

# role -> (who signs in, viewport, pages, pages checked again at 360 px, learner-grade phone checks)
TOURS = {
    "learner": ("learner_a", PHONE, LEARNER_PAGES, [], True),
    "org_admin": ("admin_a", DESKTOP, ADMIN_PAGES, ADMIN_PHONE_PAGES, False),
    "manager": ("manager_a", DESKTOP, MANAGER_PAGES, [], False),
    "operator": ("operator", DESKTOP, OPERATOR_PAGES, [], False),
    "support": ("support", DESKTOP, SUPPORT_PAGES, [], False),
}

LEARNER_NAMES = ["佐藤 美咲", "鈴木 大輔", "高橋 結衣", "田中 翔太", "伊藤 さくら"]


@pytest.fixture
def tour(world, run_in_app, make_user, make_ticket):
    """A lived-in organization A: departments, a few learners, the demo course delivered to everyone,
    learner A with a failed attempt (its result) and a second one in progress (its questions), a ticket."""
    org = world["org_a"]
    others = [make_user(Role.LEARNER, org, name=name, login_id=f"A{10 + i:03d}") for i, name in
              enumerate(LEARNER_NAMES)]

    def build():
        course, _created = seed_demo_course()
        with tenant_scope(org.id):
            for name in ("営業部", "総務部", "情報システム部"):
                db.session.add(Department(organization_id=org.id, name=name, depth=1))
            lesson = db.session.scalar(select(Lesson.id).where(Lesson.course_id == course.id).order_by(Lesson.id))
        delivery = deliver(world["admin_a"], course.id, due_in=timedelta(days=10), now=utcnow() - timedelta(days=3))
        learner_id = world["learner_a"].id
        assignment = assignment_of(delivery.id, learner_id)
        finished = take(assignment.id, right=8)
        running = take(assignment.id, finish=False)
        take(assignment_of(delivery.id, others[0].id).id)
        take(assignment_of(delivery.id, others[1].id).id, right=6)
        take(assignment_of(delivery.id, others[2].id).id, finish=False)
        return SimpleNamespace(
            org=org.id, org_code=org.code, course=course.id, lesson=lesson, delivery=delivery.id,
            assignment=assignment.id, finished=finished.id, running=running.id, learner=learner_id,
            link=link_for(delivery.id, learner_id), invoice=world["invoice_a"].id, notice=world["notice_a"].id,
        )

    data = run_in_app(build)
    data.ticket = make_ticket(world["admin_a"], subject="受講者の追加方法",
                              body="CSVで受講者をまとめて追加する方法を教えてください。").id
    return data


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("メールアドレス").fill(email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    pass_second_step_if_asked(page)


def visit(page, base: str, name: str, path: str) -> str:
    response = page.goto(base + path)
    assert response is not None and response.ok, f"{name} {path}: HTTP {response and response.status}"
    return f"{name} ({path})"


@pytest.mark.parametrize("role", list(TOURS))
def test_every_screen_of_the_role_is_accessible_and_fits(role, live_server, browser, world, tour):
    who, viewport, pages, phone_pages, learner_grade = TOURS[role]
    context = browser.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo",
                                  is_mobile=learner_grade, has_touch=learner_grade, device_scale_factor=2 if
                                  learner_grade else 1)
    with_axe(context)
    page = context.new_page()
    problems: list[str] = []

    def check(assertion, *args) -> None:
        try:
            assertion(*args)
        except AssertionError as error:
            problems.append(str(error).splitlines()[0])

    try:
        if learner_grade:  # the public pages, on the learner's phone before signing in
            for name, path_of, shot in PUBLIC_PAGES:
                what = visit(page, live_server, name, path_of(tour))
                check(assert_accessible, page, what)
                check(assert_fits_phone, page, what)
                check(assert_touch_targets, page, what)
                if shot:
                    screenshot(page, shot)
        sign_in(page, live_server, world[who].email)
        for name, path_of, shot in pages:
            what = visit(page, live_server, name, path_of(tour))
            check(assert_accessible, page, what)
            check(assert_japanese_formats, page, what)
            if learner_grade:
                check(assert_fits_phone, page, what)
                check(assert_touch_targets, page, what)
            if shot:
                screenshot(page, shot, full_page=learner_grade)
        if phone_pages:
            page.set_viewport_size(PHONE)
            for name, path_of, shot in phone_pages:
                what = visit(page, live_server, name, path_of(tour))
                check(assert_fits_phone, page, what + " at 360 px")
                if shot:
                    screenshot(page, shot, full_page=True)
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_form_errors_are_tied_to_their_fields(live_server, desktop, world):
    """A form sent empty: every invalid field says so (aria-invalid), its message is linked to it
    (aria-describedby) and is shown as text with a symbol, not by colour alone."""
    page = desktop
    sign_in(page, live_server, world["admin_a"].email)
    page.goto(f"{live_server}/org/learners/new")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    invalid = page.locator("[aria-invalid=true]")
    assert invalid.count() >= 1
    for i in range(invalid.count()):
        field = invalid.nth(i)
        ids = (field.get_attribute("aria-describedby") or "").split()
        messages = [page.locator(f"#{id_}").inner_text().strip() for id_ in ids if page.locator(f"#{id_}").count()]
        assert any(messages), f"{field.get_attribute('id')} has no message tied to it"
        label = page.locator(f"label[for={field.get_attribute('id')}]")
        assert label.count() == 1 and label.is_visible()
    assert page.locator(".field-error").first.evaluate("el => getComputedStyle(el, '::before').content") != "none"
    assert_accessible(page, "受講者の登録（エラー）")
    screenshot(page, "admin-form-errors")


def test_focus_is_visible_on_every_control(live_server, phone, world):
    """Tabbing through the sign-in page: each focused control shows an outline."""
    page = phone
    page.goto(f"{live_server}/login")
    seen = 0
    for _ in range(8):
        page.keyboard.press("Tab")
        style = page.evaluate("""() => { const el = document.activeElement; const s = getComputedStyle(el);
            return [el.tagName, s.outlineStyle, s.outlineWidth, s.boxShadow]; }""")
        if style[0] == "BODY":
            continue
        seen += 1
        assert (style[1] != "none" and style[2] != "0px") or style[3] != "none", style
    assert seen >= 4


def test_a_learners_question_reads_well_in_japanese(live_server, browser, world, tour):
    """Dates on the learner's home are 2026/11/25-style or 年月日; long Japanese text wraps in the box."""
    context = browser.new_context(viewport=PHONE, locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        sign_in(page, live_server, world["learner_a"].email)
        page.goto(f"{live_server}/me/")
        text = page.inner_text("main")
        assert re.search(r"\d{4}/\d{2}/\d{2}|\d{4}年\d{1,2}月\d{1,2}日", text), text[:300]
        page.goto(f"{live_server}/me/training/attempts/{tour.running}/1")
        overflowing = page.evaluate("""() => Array.from(document.querySelectorAll("main *"))
            .filter(el => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible"
                    && el.clientWidth > 0).map(el => el.tagName + "." + el.className)""")
        assert not overflowing, overflowing
    finally:
        context.close()
