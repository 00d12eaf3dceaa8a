"""Shared steps for the browser journeys."""

from __future__ import annotations

from tests.conftest import totp_code


def pass_second_step_if_asked(page) -> None:
    """After the password: staff (enrolled with the fixtures' TOTP secret) type the authenticator's code."""
    page.wait_for_load_state()
    if page.url.endswith("/login/two-factor"):
        page.get_by_label("確認コード").fill(totp_code())
        page.get_by_role("button", name="確認する").click()
        page.wait_for_load_state()
