"""Staff addresses are configuration that must work (#18, item 6): deliverable in `make run`, required in
production, and a staff alert that cannot arrive is said so on the screen and on the operator's start page."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal import ConfigurationError, create_app
from portal.business_calendar import TOKYO
from portal.config import Config, DevConfig
from portal.extensions import db
from portal.models import MailSuppression, OutboxMessage, TicketEvent
from portal.smtp import deliverable_address
from tests.conftest import csrf_token_from

ROOT = Path(__file__).resolve().parent.parent
STAFF_SETTINGS = ("SUPPORT_EMAIL", "ONCALL_EMAIL", "OPERATOR_EMAIL")
OUT_OF_HOURS = datetime(2026, 11, 24, 22, 0, tzinfo=TOKYO)  # a Tuesday, 22:00 in Tokyo


@pytest.fixture
def production(tmp_path, monkeypatch):
    """``production(**settings)``: create_app with the production configuration and a secret key."""
    for setting in STAFF_SETTINGS:
        monkeypatch.delenv(f"PORTAL_{setting}", raising=False)

    class Production(Config):
        SECRET_KEY = "x" * 40

    def make(**settings):
        return create_app(Production, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/p.sqlite3", **settings)

    return make


@pytest.fixture
def staff_address(app):
    """``staff_address(setting, value)`` changes one staff address for this test only."""
    saved = {setting: app.config[setting] for setting in STAFF_SETTINGS}

    def change(setting: str, value: str) -> None:
        app.config[setting] = value

    yield change
    app.config.update(saved)


def test_production_refuses_to_start_without_staff_addresses(production):
    with pytest.raises(ConfigurationError) as refused:
        production()
    for setting in STAFF_SETTINGS:
        assert f"PORTAL_{setting}: not set" in str(refused.value)


def test_production_refuses_addresses_that_cannot_receive_mail(production):
    with pytest.raises(ConfigurationError, match=r"PORTAL_ONCALL_EMAIL: 'oncall@portal\.invalid' cannot receive mail"):
        production(
            SUPPORT_EMAIL="desk@ops.example.com",
            ONCALL_EMAIL="oncall@portal.invalid",
            OPERATOR_EMAIL="security@ops.example.com",
        )
    app = production(
        SUPPORT_EMAIL="desk@ops.example.com",
        ONCALL_EMAIL="oncall@ops.example.com",
        OPERATOR_EMAIL="security@ops.example.com",
    )
    assert app.config["ONCALL_EMAIL"] == "oncall@ops.example.com"


def test_development_starts_with_placeholders_but_warns(caplog, monkeypatch):
    for setting in STAFF_SETTINGS:
        monkeypatch.delenv(f"PORTAL_{setting}", raising=False)
    # Alembic's logging set-up (the session's migrations) disables loggers that existed before it.
    monkeypatch.setattr(logging.getLogger("portal"), "disabled", False)
    with caplog.at_level(logging.WARNING, logger="portal"):
        app = create_app(DevConfig, SECRET_KEY="dev-" + "x" * 40, SQLALCHEMY_DATABASE_URI="sqlite://")
    assert app.config["SUPPORT_EMAIL"] == "support@portal.invalid"
    assert "PORTAL_SUPPORT_EMAIL: 'support@portal.invalid' cannot receive mail" in caplog.text


def test_make_run_sets_deliverable_staff_addresses():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    dev_env = re.search(r"^DEV_ENV := (.*)$", makefile, re.M).group(1)
    assert "$(STAFF_ENV)" in dev_env
    staff_env = re.search(r"^STAFF_ENV := ((?:.*\\\n)*.*)$", makefile, re.M).group(1)
    values = dict(re.findall(r"PORTAL_(\w+_EMAIL)=(\S+)", staff_env))
    assert set(values) == set(STAFF_SETTINGS)
    for address in values.values():
        assert deliverable_address(address) == address


def test_readme_lists_every_staff_address():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for setting in STAFF_SETTINGS:
        assert f"`PORTAL_{setting}`" in readme


# --- the screens say what was actually sent --------------------------------------------------------


def _open_emergency(client) -> tuple[int, str]:
    token = csrf_token_from(client.get("/tickets/new").get_data(as_text=True))
    response = client.post(
        "/tickets/new",
        data={"csrf_token": token, "category": "emergency", "subject": "ログインできない", "body": "全員です。"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    ticket_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    return ticket_id, client.get(response.headers["Location"]).get_data(as_text=True)


def _event_kinds(run_in_app, ticket_id: int) -> list[str]:
    return run_in_app(
        lambda: list(db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket_id)))
    )


def test_an_out_of_hours_emergency_reaches_on_call_and_the_screen_says_so(
    app, world, login_as, run_in_app, mailbox, time_machine
):
    time_machine.move_to(OUT_OF_HOURS)
    ticket_id, page = _open_emergency(login_as(world["admin_a"]))
    assert "当番の担当者にメールで連絡しました" in page
    assert "oncall_notified" in _event_kinds(run_in_app, ticket_id)
    [body] = mailbox(app.config["ONCALL_EMAIL"])
    assert f"/tickets/{ticket_id}" in body
    assert len(mailbox(app.config["SUPPORT_EMAIL"])) == 1
    operator_home = login_as(world["operator"]).get("/operator/").get_data(as_text=True)
    assert 'id="staff-alerts"' not in operator_home


def test_an_undeliverable_on_call_address_is_not_claimed_and_shows_on_the_operator_home(
    app, world, login_as, run_in_app, mailbox, staff_address, time_machine
):
    staff_address("ONCALL_EMAIL", "oncall@portal.invalid")
    time_machine.move_to(OUT_OF_HOURS)
    ticket_id, page = _open_emergency(login_as(world["admin_a"]))
    assert "当番の担当者への連絡メールを送れませんでした" in page
    assert "当番の担当者にメールで連絡しました" not in page
    kinds = _event_kinds(run_in_app, ticket_id)
    assert "oncall_not_notified" in kinds and "oncall_notified" not in kinds
    staff_page = login_as(world["support"]).get(f"/tickets/{ticket_id}").get_data(as_text=True)
    assert "当番への連絡メールを送れませんでした" in staff_page

    # The worker gives up on it (real SMTP for everything else); the operator's start page says so.
    assert mailbox("oncall@portal.invalid") == []
    assert len(mailbox(app.config["SUPPORT_EMAIL"])) == 1
    dead = run_in_app(
        lambda: db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.template == "tickets_emergency"))
    )
    assert dead == "dead"
    soup = BeautifulSoup(login_as(world["operator"]).get("/operator/").data, "html.parser")
    alerts = soup.find(id="staff-alerts")
    assert alerts is not None
    text = alerts.get_text(" ", strip=True)
    assert "PORTAL_ONCALL_EMAIL" in text and "oncall@portal.invalid" in text and "送信失敗" in text
    assert f"#{ticket_id}" in text


def _report_compromised(client) -> str:
    token = csrf_token_from(client.get("/password/change").get_data(as_text=True))
    response = client.post("/password/compromised", data={"csrf_token": token})
    assert response.status_code == 303
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_leaked_password_report_reaches_the_operator_and_the_screen_says_so(app, world, login_as, mailbox):
    page = _report_compromised(login_as(world["admin_a"]))
    assert "運営事務局にも連絡しました。" in page
    # The worker's inbox sweep also tells the operator of the world's overdue invoice (portal/inbox.py).
    [body] = [b for b in mailbox(app.config["OPERATOR_EMAIL"]) if "受付箱に届きました" not in b]
    assert f"{world['admin_a'].id}" in body


def test_a_leaked_password_report_to_a_suppressed_address_is_not_claimed(
    app, world, login_as, run_in_app, mailbox
):
    address = app.config["OPERATOR_EMAIL"]
    run_in_app(lambda: db.session.add(MailSuppression(address=address, note="mailbox full")))
    page = _report_compromised(login_as(world["admin_a"]))
    assert "運営事務局にも連絡しました" not in page
    assert "運営事務局への連絡メールは送れませんでした" in page
    assert mailbox(address) == []
    assert len(mailbox(world["admin_a"].email)) == 1  # the user's own reset link still goes out
    soup = BeautifulSoup(login_as(world["operator"]).get("/operator/").data, "html.parser")
    text = soup.find(id="staff-alerts").get_text(" ", strip=True)
    assert address in text and "送信停止中の宛先" in text
