"""A learner and an administrator sign in and out on a phone, in Japanese."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_sign_in_start_page_and_sign_out_on_a_phone(live_server, phone, world):
    page = phone
    page.goto(live_server + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="ログイン")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling

    page.get_by_label("メールアドレス").fill(world["admin_a"].email)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(r"/org/$"))
    expect(page.get_by_role("heading", name="株式会社エー")).to_be_visible()

    page.locator("summary", has_text=world["admin_a"].name).click()
    page.get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("ログアウトしました。")).to_be_visible()
    page.goto(live_server + "/org/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_wrong_password_keeps_the_email_and_says_why(live_server, phone, world):
    page = phone
    page.goto(live_server + "/login")
    page.get_by_label("メールアドレス").fill(world["learner_a"].email)
    page.get_by_label("パスワード").fill("wrong password")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_text("メールアドレスまたはパスワードが正しくありません。")).to_be_visible()
    expect(page.get_by_label("メールアドレス")).to_have_value(world["learner_a"].email)
