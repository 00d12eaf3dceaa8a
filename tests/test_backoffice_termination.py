"""Termination, retention, deletion and export (Art. 15, 16, 19)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.jobs import REGISTRY
from portal.models import (
    AuditEvent,
    DeletionRecord,
    Invoice,
    Organization,
    OutboxMessage,
    Termination,
    User,
)
from portal.seats import TOKYO
from tests.conftest import csrf_token_from
from tests.test_backoffice_orgs import fetch, post_form


@pytest.fixture
def operator_client(world, login_as):
    return login_as(world["operator"])


def run_job(run_in_app, day):
    """The hourly job as it would run at noon (Tokyo) on ``day``."""
    moment = datetime.combine(day, time(12, 0), tzinfo=TOKYO).astimezone(UTC)
    run_in_app(lambda: REGISTRY["termination.apply"].func(moment))


def org_status(run_in_app, org_id):
    return run_in_app(lambda: db.session.get(Organization, org_id).status)


def test_request_receive_end_export_and_delete_after_retention(app, operator_client, world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    today = today_in_tokyo()
    response = post_form(admin, "/org/termination", {"end_on": (today - timedelta(days=1)).isoformat()})
    assert response.status_code == 422 and "終了日は今日以降の日付にしてください。" in response.get_data(as_text=True)
    end_on = today + timedelta(days=10)
    response = post_form(admin, "/org/termination", {"end_on": end_on.isoformat(), "reason": "予算の都合"})
    assert response.status_code == 303
    assert "運営事務局の受領待ち" in admin.get("/org/termination").get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(Termination))) == 1

    # Not received yet: the end date passing changes nothing (Art. 15: the receipt makes it effective).
    run_job(run_in_app, end_on + timedelta(days=1))
    assert org_status(run_in_app, world["org_a"].id) == "active"

    detail = f"/operator/organizations/{world['org_a'].id}"
    assert "予算の都合" in operator_client.get(detail).get_data(as_text=True)
    assert post_form(operator_client, f"{detail}/termination/receive", {}, page=detail).status_code == 303
    mail = fetch(
        run_in_app,
        lambda: db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "termination_received")),
    )
    assert mail.to_address == world["admin_a"].email and end_on.strftime("%Y/%m/%d") in mail.body_text
    run_job(run_in_app, end_on)
    assert org_status(run_in_app, world["org_a"].id) == "active"
    run_job(run_in_app, end_on + timedelta(days=1))
    assert org_status(run_in_app, world["org_a"].id) == "terminated"

    # After the end: learners are out; administrators can only export (and read invoices and notices).
    learner = login_as(world["learner_a"])
    assert learner.get("/me/").status_code == 403
    assert "ご契約は終了しています" in admin.get("/org/").get_data(as_text=True)
    assert admin.get("/org/termination").status_code == 200
    export = admin.get("/org/export")
    assert export.status_code == 200 and export.headers["Content-Type"] == "application/zip"

    # After the retention period the personal data goes; the record and the tax records stay.
    run_job(run_in_app, end_on + timedelta(days=app.config["DATA_RETENTION_DAYS"]))
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(DeletionRecord))) == 0
    run_job(run_in_app, end_on + timedelta(days=app.config["DATA_RETENTION_DAYS"] + 1))
    run_job(run_in_app, end_on + timedelta(days=app.config["DATA_RETENTION_DAYS"] + 2))

    def check():
        org_id = world["org_a"].id
        records = db.session.scalars(select(DeletionRecord)).all()
        users = db.session.scalar(select(func.count()).where(User.organization_id == org_id))
        invoices = db.session.scalar(select(func.count()).where(Invoice.organization_id == org_id))
        other_users = db.session.scalar(select(func.count()).where(User.organization_id == world["org_b"].id))
        return records, users, invoices, other_users

    records, users, invoices, other_users = fetch(run_in_app, check)
    assert len(records) == 1
    record = records[0]
    assert (record.scope, record.organization_name, record.deleted_by_id) == ("personal", "株式会社エー", None)
    assert record.counts["users"] == 3 and "audit_events" in record.counts
    assert (users, invoices, other_users) == (0, 1, 2)
    assert "株式会社エー" in operator_client.get("/operator/deletions").get_data(as_text=True)


def test_second_request_is_refused(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    end_on = (today_in_tokyo() + timedelta(days=30)).isoformat()
    assert post_form(admin, "/org/termination", {"end_on": end_on}).status_code == 303
    token = csrf_token_from(admin.get("/org/termination").get_data(as_text=True))
    response = admin.post("/org/termination", data={"end_on": end_on, "csrf_token": token})
    assert response.status_code == 422
    assert "利用終了の申し入れはすでに受け付けています。" in response.get_data(as_text=True)


def test_operator_cancels_for_a_listed_ground(operator_client, world, login_as, run_in_app):
    detail = f"/operator/organizations/{world['org_a'].id}"
    response = post_form(operator_client, f"{detail}/cancel", {"ground": "nope"}, page=detail)
    assert response.status_code == 303
    assert "解除の理由を選んでください。" in operator_client.get(detail).get_data(as_text=True)
    assert org_status(run_in_app, world["org_a"].id) == "active"
    response = post_form(operator_client, f"{detail}/cancel", {"ground": "16-2-1", "note": "3か月滞納"}, page=detail)
    assert response.status_code == 303
    assert org_status(run_in_app, world["org_a"].id) == "terminated"
    termination = fetch(run_in_app, lambda: db.session.scalar(select(Termination)))
    assert (
        termination.kind == "operator"
        and "第16条第2項第1号" in termination.reason
        and "3か月滞納" in termination.reason
    )
    page = login_as(world["learner_a"]).get("/me/").get_data(as_text=True)
    assert "ご契約は終了しています" in page and "第16条第2項第1号" in page


def test_export_is_a_zip_of_csv_files_of_this_organization_only(world, login_as, run_in_app):
    response = login_as(world["admin_a"]).get("/org/export")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(archive.namelist())
    assert {"organizations.csv", "users.csv", "invoices.csv", "contracts.csv", "audit_events.csv"} <= names
    users = list(csv.DictReader(io.StringIO(archive.read("users.csv").decode("utf-8-sig"))))
    assert {u["email"] for u in users} == {world["admin_a"].email, world["manager_a"].email, world["learner_a"].email}
    assert "password_hash" not in users[0] and "session_token" not in users[0]
    orgs = list(csv.DictReader(io.StringIO(archive.read("organizations.csv").decode("utf-8-sig"))))
    assert [o["name"] for o in orgs] == ["株式会社エー"]
    invoices = archive.read("invoices.csv").decode("utf-8-sig")
    assert "INV-202604-000001" in invoices
    assert (
        run_in_app(lambda: db.session.scalar(select(func.count()).where(AuditEvent.action == "org.data_exported"))) == 1
    )
