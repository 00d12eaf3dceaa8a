"""Every lesson of the 2026年度 editions on a 360 px phone: no sideways scrolling, and (through
``live_server``) no serious or critical axe-core finding on any lesson page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.blueprints.training.courses.editions.edition_2026 import EDITIONS
from portal.demo.courses import seed_demo_course, seed_managers_course
from tests.browser.experience import PHONE_WIDTH, assert_fits_phone
from tests.browser.helpers import pass_second_step_if_asked
from tests.conftest import PASSWORD
from tests.training_helpers import assignment_of, deliver

pytestmark = pytest.mark.browser


def test_every_lesson_of_both_editions_reads_on_a_phone(live_server, browser, world, run_in_app):
    def make():
        paths = []
        for seed in (seed_demo_course, seed_managers_course):
            course, _created = seed()
            delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
            assignment = assignment_of(delivery.id, world["learner_a"].id).id
            paths += [(lesson.title, f"/me/training/{assignment}/lessons/{lesson.id}") for lesson in course.lessons]
        return paths

    paths = run_in_app(make)
    assert [title for title, _path in paths] == [lesson.title for edition in EDITIONS for lesson in edition.lessons]
    context = browser.new_context(viewport={"width": PHONE_WIDTH, "height": 740}, is_mobile=True, has_touch=True,
                                  locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        page.goto(f"{live_server}/login")
        page.get_by_label("メールアドレス").fill(world["learner_a"].email)
        page.get_by_label("パスワード").fill(PASSWORD)
        page.get_by_role("button", name="ログイン").click()
        pass_second_step_if_asked(page)
        for title, path in paths:
            page.goto(live_server + path)
            expect(page.get_by_role("heading", level=1)).to_have_text(title)
            expect(page.locator("article.lesson-body h3").first).to_be_visible()
            assert_fits_phone(page, title)
    finally:
        context.close()
