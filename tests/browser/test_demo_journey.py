"""Right after `flask demo`, as after `make run`: a learner without email signs in at /o/demo on a phone with
the lower-case learner ID the README lists, finds the open delivery on the home page, starts the test and
answers the first question."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_PASSWORD
from portal.demo.showcase import ID_LEARNERS

pytestmark = pytest.mark.browser


def test_a_learner_signs_in_with_a_learner_id_and_starts_the_demo_test(app, live_server, phone):
    seeded = app.test_cli_runner().invoke(args=["demo"])
    assert seeded.exit_code == 0, seeded.output
    delivery_title = re.search(r"^Training delivery: (.+) \(open until", seeded.output, re.MULTILINE).group(1)
    login_id, name = ID_LEARNERS[0]
    assert login_id == login_id.lower() and f" {login_id}\n" in seeded.output

    page = phone
    page.goto(live_server + "/o/demo")
    page.get_by_label("受講者ID").fill(login_id)
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.get_by_text(name).first).to_be_visible()

    page.get_by_role("link", name=delivery_title).click()
    requests = []
    page.on("request", lambda request: requests.append((request.method, request.url)))
    page.get_by_role("button", name="テストを始める").click()
    expect(page.get_by_text(re.compile(r"問題 1 / \d+"))).to_be_visible()
    # Brought by the start's own response (htmx), at the question's address and with its title: one request.
    expect(page).to_have_url(re.compile(r"/me/training/attempts/\d+/1$"))
    expect(page).to_have_title(re.compile(r"問題 1 / \d+"))
    assert [method for method, url in requests if "/me/training/" in url] == ["POST"], requests
    page.locator("label.choice").first.click()
    # Saved by htmx when chosen, before moving on.
    expect(page.locator("#answer-status")).to_have_text("回答を保存しました。")
    page.get_by_role("button", name="保存して次へ").click()
    expect(page.get_by_text(re.compile(r"問題 2 / \d+"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
