"""Every role's screens in Chromium: axe-core finds no serious or critical violation, learner screens fit
a 360 px phone with 44 px touch targets, the main administrator screens fit it too, tables reflow,
dates and numbers are in Japanese format. With PORTAL_SCREENSHOTS=1 (`make screenshots`) the tour
also saves the README's screenshots under docs/screenshots/.

Each role's pages are a list in tests/browser/pages.py: a new screen is one line (name, path from the
tour's data, and the screenshot's name or None). The セキュレジ inspection round joins LEARNER_PAGES the
same way, with its id added to the ``tour`` fixture below.
"""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from portal.clock import this_month, today_in_tokyo
from portal.demo.courses import seed_demo_course
from portal.extensions import db
from portal.models import Department, Lesson, Role, User, utcnow
from portal.tenancy import tenant_scope
from tests.browser.experience import (
    assert_accessible,
    assert_fits_phone,
    assert_japanese_formats,
    assert_touch_targets,
    screenshot,
    with_axe,
)
from tests.browser.helpers import pass_second_step_if_asked
from tests.browser.pages import PHONE, PUBLIC_PAGES, TOURS
from tests.conftest import PASSWORD
from tests.training_helpers import assignment_of, deliver, link_for, take

pytestmark = pytest.mark.browser

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
            departments = [Department(organization_id=org.id, name=name, depth=1)
                           for name in ("営業部", "総務部", "情報システム部")]
            db.session.add_all(departments)
            db.session.flush()
            people = [world["learner_a"], *others]
            for i, person in enumerate(people):
                db.session.get(User, person.id).department_id = departments[i % len(departments)].id
            lesson = db.session.scalar(select(Lesson.id).where(Lesson.course_id == course.id).order_by(Lesson.id))
        delivery = deliver(world["admin_a"], course.id, due_in=timedelta(days=10), now=utcnow() - timedelta(days=3))
        learner_id = world["learner_a"].id
        assignment = assignment_of(delivery.id, learner_id)
        finished = take(assignment.id, right=8)
        running = take(assignment.id, finish=False)
        take(assignment_of(delivery.id, others[0].id).id)
        take(assignment_of(delivery.id, others[1].id).id, right=6)
        take(assignment_of(delivery.id, others[2].id).id, finish=False)
        inspections = _inspections(world, learner_id, [p.id for p in people])
        return SimpleNamespace(
            org=org.id, org_code=org.code, course=course.id, lesson=lesson, delivery=delivery.id,
            assignment=assignment.id, finished=finished.id, running=running.id, learner=learner_id,
            link=link_for(delivery.id, learner_id), invoice=world["invoice_a"].id, notice=world["notice_a"].id,
            **inspections,
        )

    data = run_in_app(build)
    data.ticket = make_ticket(world["admin_a"], subject="受講者の追加方法",
                              body="CSVで受講者をまとめて追加する方法を教えてください。").id
    return data


def _inspections(world, learner_id: int, people: list[int]) -> dict:
    """セキュレジ: last month's closed round (the learner answered いいえ, with a corrective action) and this
    month's open round (the learner's sheet half answered)."""
    from portal.blueprints.inspections.results import services as results
    from tests import inspection_helpers as rounds
    from tests.inspection_results_helpers import launch, make_round, submit

    org_id = world["org_a"].id
    edition, items = rounds.add_edition(org_id, items=4, title="月次点検")
    with tenant_scope(org_id):
        month = this_month()
        last_month = (month - timedelta(days=1)).replace(day=1)
        closed = make_round(org_id, edition, last_month, items, title="月次点検（先月）")
        departments = dict(db.session.execute(select(User.id, User.department_id).where(User.id.in_(people))).all())
        responses = launch(closed, [(person, departments[person]) for person in people])
        for person, response in responses.items():
            values = dict.fromkeys(items, "yes")
            if person == learner_id:
                values[items[1]] = ("no", "会議室の施錠を忘れた日があった")
            answers = submit(response, values)
            if person == learner_id:
                no_answer = answers[1]
        action = results.open_action(no_answer, results.ActionInput(owner_id=world["manager_a"].id,
                                                                    due_on=today_in_tokyo()),
                                     by=db.session.get(User, world["admin_a"].id))
        db.session.flush()
    current = rounds.open_round(world["admin_a"], edition)
    sheet = rounds.response_of(current.id, learner_id)
    rounds.answer_all(sheet.id, {items[0]: "yes"}, submit=False)
    return {"inspection_round": current.id, "sheet": sheet.id, "inspection_link": rounds.link_for(current.id,
                                                                                                  learner_id),
            "closed_round": closed.id, "action": action.id}


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


def tour_of(role: str, browser, base: str, world, tour) -> list[str]:
    """One role's pages in a context of its own; returns what is wrong, page by page."""
    who, viewport, pages, phone_pages, learner_grade = TOURS[role]
    context = browser.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo",
                                  is_mobile=learner_grade, has_touch=learner_grade,
                                  device_scale_factor=2 if learner_grade else 1)
    with_axe(context)
    page = context.new_page()
    problems: list[str] = []

    def check(assertion, *args) -> None:
        try:
            assertion(*args)
        except AssertionError as error:
            problems.append(f"{role}: " + str(error).splitlines()[0])

    try:
        if learner_grade:  # the public pages, on the learner's phone before signing in
            for name, path_of, shot in PUBLIC_PAGES:
                what = visit(page, base, name, path_of(tour))
                check(assert_accessible, page, what)
                check(assert_fits_phone, page, what)
                check(assert_touch_targets, page, what)
                if shot:
                    screenshot(page, shot)
        sign_in(page, base, world[who].email)
        for name, path_of, shot in pages:
            what = visit(page, base, name, path_of(tour))
            check(assert_accessible, page, what)
            check(assert_japanese_formats, page, what)
            if learner_grade:
                check(assert_fits_phone, page, what)
                check(assert_touch_targets, page, what)
            if shot:
                screenshot(page, shot)
        if phone_pages:
            page.set_viewport_size(PHONE)
            for name, path_of, shot in phone_pages:
                what = visit(page, base, name, path_of(tour))
                check(assert_fits_phone, page, what + " at 360 px")
                if shot:
                    screenshot(page, shot, full_page=True)
    finally:
        context.close()
    return problems


def test_every_screen_of_every_role_is_accessible_and_fits(live_server, browser, world, tour):
    """One tour per role (tests/browser/pages.py: TOURS), on the same data; every problem is listed."""
    problems = [p for role in TOURS for p in tour_of(role, browser, live_server, world, tour)]
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


def test_dates_numbers_and_japanese_text_read_well(live_server, browser, world, tour):
    """Dates as 2026/11/25 (or 年月日), amounts with separators, long Japanese text wrapping in its box."""
    context = browser.new_context(viewport=PHONE, locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        sign_in(page, live_server, world["learner_a"].email)
        page.goto(f"{live_server}/me/")
        text = page.inner_text("main")
        assert re.search(r"期限: \d{4}/\d{2}/\d{2} \d{2}:\d{2}", text), text[:300]
        page.goto(f"{live_server}/me/training/attempts/{tour.running}/1")
        overflowing = page.evaluate("""() => Array.from(document.querySelectorAll("main *"))
            .filter(el => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === "visible"
                    && el.clientWidth > 0).map(el => el.tagName + "." + el.className)""")
        assert not overflowing, overflowing
    finally:
        context.close()
    admin = browser.new_context(viewport=PHONE, locale="ja-JP", timezone_id="Asia/Tokyo").new_page()
    try:
        sign_in(admin, live_server, world["admin_a"].email)
        admin.goto(f"{live_server}/org/invoices/{tour.invoice}")
        text = admin.inner_text("main")
        assert "330,000" in text and re.search(r"2026/04/30|2026年4月30日", text), text[:500]
    finally:
        admin.context.close()


def test_the_checks_catch_what_they_are_for(browser):
    """Each check fails on a page made to break it, so a green tour means something."""
    context = with_axe(browser.new_context(viewport=PHONE))
    page = context.new_page()
    try:
        page.set_content("""<html lang="ja"><head><title>t</title></head><body><main>
            <h1>見出し</h1><input id="nameless"><p><a href="/x">単独のリンク</a><br><small>補足</small></p>
            <table><tbody><tr><td>1</td><td>2</td></tr></tbody></table>
            <div style="width: 500px">幅の広い箱</div><p>2026-04-01 に 12000円</p></main></body></html>""")
        for check, expected in ((assert_accessible, "label"), (assert_touch_targets, "単独のリンク"),
                                (assert_fits_phone, "px wide on a 360px screen"),
                                (assert_japanese_formats, "ISO date")):
            with pytest.raises(AssertionError, match=expected):
                check(page, "synthetic")
        page.set_content("<main><table><tbody><tr><td>1</td></tr></tbody></table></main>")
        with pytest.raises(AssertionError, match="neither reflow nor scroll"):
            assert_fits_phone(page, "synthetic")
    finally:
        context.close()
