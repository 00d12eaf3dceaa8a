"""The customer's data export (Art. 15, 19): a zip of one CSV per table, by allow-list.

Every table of the database is classified here, column by column: what the export writes
(:data:`EXPORTS`, in that order) and what it withholds and why; a table that is never exported is in
:data:`NOT_EXPORTED` with the reason. ``tests/test_data_export.py`` walks ``db.metadata`` and fails for a
table or column that is in neither, so a new column leaves the portal only after someone decided it may.

Withheld: secrets, hashes and tokens (also in part, like a token hash's prefix in an idempotency key),
bodies of emails (single-use links), the support desk's internal notes and history, the staff's IP
addresses and notes on the organization's audit trail, and the operator's infrastructure (worker hosts,
relay answers). Every cell goes through :func:`portal.exports.neutralise`.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Table, case, false, func, null, or_, select

from portal.exports import iter_lines
from portal.extensions import db
from portal.models import Organization, Role
from portal.tenancy import unscoped

CREDENTIAL = "secret, hash or token"
EMAIL_BODY = "email body: may carry a single-use link"
HASH_IN_KEY = "idempotency key: may hold the prefix of a link token's hash"
INFRASTRUCTURE = "the operator's infrastructure (worker hosts, mail relay answers)"
SECURITY_STATE = "sign-in security state, not the customer's data"
OPERATOR_NOTE = "the operator's internal note"
SCREENING = "the operator's own screening of the applicant (Art. 24), not shared with it"
SERVER_FILE = "file name on the operator's server"


@dataclass(frozen=True)
class TableExport:
    """What leaves of one table: ``columns`` in order; ``withheld`` column → why.

    ``rows`` narrows the organization's rows further (internal notes stay); ``masked`` replaces a
    column with an SQL expression (a staff member's IP address becomes empty).
    """

    columns: tuple[str, ...]
    withheld: Mapping[str, str] = field(default_factory=dict)
    rows: Callable[[Table, int], ColumnElement[bool]] | None = None
    masked: Mapping[str, Callable[[Table], ColumnElement]] = field(default_factory=dict)


def _staff_ids():
    users = db.metadata.tables["users"]
    return select(users.c.id).where(users.c.role.in_([str(Role.OPERATOR), str(Role.SUPPORT)]))


def _unless_staff(column: str) -> Callable[[Table], ColumnElement]:
    def expression(table: Table) -> ColumnElement:
        return case((table.c.actor_id.in_(_staff_ids()), null()), else_=table.c[column]).label(column)

    return expression


def _not_internal(table: Table, org_id: int) -> ColumnElement[bool]:
    return table.c.internal.is_(false())


def _not_on_internal_notes(table: Table, org_id: int) -> ColumnElement[bool]:
    messages = db.metadata.tables["ticket_messages"]
    return table.c.message_id.in_(select(messages.c.id).where(messages.c.internal.is_(false())))


def _to_the_organizations_people(table: Table, org_id: int) -> ColumnElement[bool]:
    # Alerts about the customer's tickets go to the support desk's addresses: those rows stay.
    users = db.metadata.tables["users"]
    people = select(users.c.id).where(users.c.organization_id == org_id)
    addresses = select(users.c.email).where(users.c.organization_id == org_id, users.c.email.is_not(None))
    return or_(table.c.user_id.in_(people), func.lower(table.c.to_address).in_(addresses))


EXPORTS: dict[str, TableExport] = {
    "organizations": TableExport(
        ("id", "name", "corporate_number", "code", "status", "created_at", "learners_may_ask", "magic_link_sign_in",
         "admins_require_mfa"),
    ),
    "contracts": TableExport(
        ("id", "organization_id", "plan_name", "starts_on", "ends_on", "seat_limit", "annual_fee",
         "overage_unit_price", "created_at", "updated_at"),
    ),
    "courses": TableExport(
        ("id", "organization_id", "title", "fiscal_year", "kind", "description", "pass_mark", "questions_per_attempt",
         "late_policy", "bank_course_id", "previous_edition_id", "created_at"),
    ),
    "lessons": TableExport(("id", "course_id", "position", "title", "body_md")),
    "questions": TableExport(("id", "course_id", "kind", "text", "explanation", "category", "position")),
    "choices": TableExport(("id", "question_id", "position", "text", "is_correct")),
    "course_images": TableExport(
        ("id", "course_id", "filename", "content_type", "created_at"), {"stored_name": SERVER_FILE}
    ),
    "departments": TableExport(("id", "organization_id", "parent_id", "name", "depth", "created_at")),
    "inspection_editions": TableExport(
        ("id", "organization_id", "kind", "title", "description", "drawn_count", "created_at"),
    ),
    "inspection_items": TableExport(
        ("id", "organization_id", "category", "text", "why", "position", "is_active", "created_at"),
    ),
    "inspection_edition_items": TableExport(("id", "edition_id", "item_id", "position")),
    "seat_usage": TableExport(
        ("id", "organization_id", "month", "peak", "seat_limit", "overage_unit_price", "updated_at"),
    ),
    "weekly_summaries": TableExport(("id", "organization_id", "week_of", "recipients", "created_at")),
    "users": TableExport(
        ("id", "organization_id", "role", "email", "login_id", "name", "active", "must_change_password", "locale",
         "created_at", "last_login_at", "password_changed_at", "department_id", "employment_type", "mfa_enabled_at",
         "password_compromised_at", "mfa_reset_at", "wants_weekly_summary"),
        {
            "password_hash": CREDENTIAL,
            "session_token": CREDENTIAL,
            "totp_secret_encrypted": CREDENTIAL,
            "recovery_code_hashes": CREDENTIAL,
            "totp_last_step": SECURITY_STATE,
            "failed_logins": SECURITY_STATE,
            "recovery_codes_revoked_at": SECURITY_STATE,
            "totp_pending_encrypted": CREDENTIAL,
            "totp_pending_expires_at": SECURITY_STATE,
            "sessions_ended_at": SECURITY_STATE,
        },
    ),
    "audit_events": TableExport(
        ("id", "organization_id", "created_at", "actor_id", "action", "target_type", "target_id", "ip", "details"),
        masked={"ip": _unless_staff("ip"), "details": _unless_staff("details")},
    ),
    "deletion_records": TableExport(
        ("id", "organization_id", "organization_name", "scope", "reason", "deleted_by_id", "deleted_at", "counts"),
    ),
    "deliveries": TableExport(
        ("id", "organization_id", "course_id", "title", "previous_round_id", "status", "target_kind",
         "target_department_ids", "target_learner_ids", "starts_at", "due_at", "reminder_days", "reminders_sent",
         "window_start_hour", "window_end_hour", "business_days_only", "recurrence", "round_no", "launched_at",
         "created_by_id", "created_at", "escalate_after_days", "escalation_rounds"),
        {"link_salt": CREDENTIAL},
    ),
    "delivery_escalations": TableExport(
        ("id", "organization_id", "delivery_id", "manager_id", "round_no", "learner_ids", "created_at"),
    ),
    "handovers": TableExport(
        ("id", "organization_id", "predecessor_id", "successor_id", "notes", "predecessor_after", "created_by_id",
         "created_at", "accepted_at"),
    ),
    "import_batches": TableExport(
        ("id", "organization_id", "created_by_id", "filename", "encoding", "sync", "invite", "status", "created_at",
         "expires_at"),
        {"rows": "the uploaded rows (an hour at most) may hold initial passwords"},
    ),
    "inspection_rounds": TableExport(
        ("id", "organization_id", "edition_id", "month", "title", "item_ids", "previous_round_id", "status",
         "closed_at", "target_kind", "target_department_ids", "target_learner_ids", "starts_at", "due_at",
         "reminder_days", "reminders_sent", "window_start_hour", "window_end_hour", "business_days_only",
         "recurrence", "round_no", "launched_at", "created_by_id", "created_at"),
        {"link_salt": CREDENTIAL},
    ),
    "invoices": TableExport(
        ("id", "organization_id", "number", "recipient_name", "plan_name", "period_start", "period_end",
         "base_amount", "seat_limit", "overage_seats", "overage_unit_price", "overage_amount", "subtotal", "tax_rate",
         "tax_amount", "total", "issuer_name", "registration_number", "bank_account", "issued_on", "due_on",
         "paid_at", "created_by_id", "created_at"),
    ),
    "credit_notes": TableExport(
        ("id", "organization_id", "invoice_id", "number", "recipient_name", "reason", "amount", "tax_rate",
         "tax_amount", "total", "issuer_name", "registration_number", "issued_on", "created_by_id", "created_at"),
    ),
    "payments": TableExport(
        ("id", "organization_id", "invoice_id", "received_on", "amount", "payer_name", "recorded_by_id", "created_at",
         "assigned_by_id", "assigned_at"),
        {"note": OPERATOR_NOTE},
    ),
    "invoice_reminders": TableExport(("id", "organization_id", "invoice_id", "step", "balance", "recipients",
                                      "created_at")),
    "mail_suppressions": TableExport(
        ("id", "organization_id", "address", "reason", "created_at", "created_by_id"), {"note": OPERATOR_NOTE}
    ),
    "manager_departments": TableExport(("organization_id", "user_id", "department_id")),
    "organization_profiles": TableExport(
        ("id", "organization_id", "primary_admin_id", "postal_code", "prefecture", "address_line1", "address_line2",
         "phone", "registered_at", "updated_at"),
    ),
    "organization_status_changes": TableExport(
        ("id", "organization_id", "status", "reason", "changed_by_id", "created_at"),
    ),
    "outbox_messages": TableExport(
        ("id", "organization_id", "user_id", "template", "to_address", "subject", "status", "attempts",
         "next_attempt_at", "last_attempt_at", "created_at", "sent_at", "topic"),
        {
            "idempotency_key": HASH_IN_KEY,
            # The per-ticket reply address carries its code: whoever has it may write to the ticket.
            "reply_to": CREDENTIAL,
            "body_text": EMAIL_BODY,
            "body_html": EMAIL_BODY,
            "last_error": INFRASTRUCTURE,
            "lease_until": INFRASTRUCTURE,
            "leased_by": INFRASTRUCTURE,
        },
        rows=_to_the_organizations_people,
    ),
    "terminations": TableExport(
        ("id", "organization_id", "kind", "end_on", "reason", "requested_by_id", "requested_at", "received_by_id",
         "received_at"),
    ),
    "third_parties": TableExport(
        ("id", "organization_id", "name", "note", "approved_on", "approved_by_id", "revoked_at", "created_at"),
    ),
    "applications": TableExport(
        ("id", "organization_id", "status", "corporate_name", "corporate_number", "postal_code", "prefecture",
         "address_line1", "address_line2", "applicant_name", "applicant_department", "applicant_email", "admin_name",
         "admin_department", "admin_email", "expected_learners", "desired_start_on", "services", "terms_document_id",
         "terms_version", "terms_accepted_at", "ip", "confirm_expires_at", "confirmed_at", "decided_at",
         "decided_by_id", "rejection_reason", "created_at", "antisocial_declared_at"),
        {
            "confirm_token_hash": CREDENTIAL,
            "screening_result": SCREENING,
            "screening_note": SCREENING,
            "screened_on": SCREENING,
            "screened_by_id": SCREENING,
        },
    ),
    "cure_notices": TableExport(
        ("id", "organization_id", "breach", "deadline_on", "sent_at", "sent_by_id", "cured_at", "cured_by_id",
         "cure_note", "expired_at"),
    ),
    "assignments": TableExport(
        ("id", "organization_id", "delivery_id", "learner_id", "department_id", "status", "best_score",
         "attempts_count", "passed_at", "late", "certificate_code", "last_manual_reminder_on"),
        {"link_hash": CREDENTIAL},
    ),
    "inspection_responses": TableExport(
        ("id", "organization_id", "round_id", "respondent_id", "subject", "department_id", "status", "submitted_at",
         "updated_at", "last_manual_reminder_on"),
        {"link_hash": CREDENTIAL},
    ),
    "inspection_tallies": TableExport(
        ("id", "organization_id", "round_id", "department_id", "item_id", "yes_count", "no_count", "na_count"),
    ),
    "notice_reads": TableExport(("id", "organization_id", "notice_id", "user_id", "read_at")),
    "notice_targets": TableExport(("id", "organization_id", "notice_id")),
    "terms_acceptances": TableExport(("id", "organization_id", "document_id", "user_id", "accepted_at", "ip")),
    "third_party_members": TableExport(("id", "organization_id", "third_party_id", "user_id", "created_at")),
    "tickets": TableExport(
        ("id", "organization_id", "requester_id", "assignee_id", "category", "subject", "status", "created_at",
         "updated_at", "sla_started_at", "sla_budget_minutes", "sla_due_at", "first_answer_due_at",
         "first_answered_at", "first_answer_business_minutes", "first_answer_met", "resolved_at", "closed_at",
         "merged_into_id", "rating", "rating_comment", "rated_at", "incident_notice_id", "contact_name",
         "contact_company", "contact_email"),
    ),
    "ticket_messages": TableExport(
        ("id", "organization_id", "ticket_id", "author_id", "from_staff", "internal", "body", "created_at"),
        {"email_digest": CREDENTIAL},
        rows=_not_internal,
    ),
    "ticket_attachments": TableExport(
        ("id", "organization_id", "ticket_id", "message_id", "filename", "content_type", "size", "created_at"),
        {"stored_name": SERVER_FILE},
        rows=_not_on_internal_notes,
    ),
    "attempts": TableExport(
        ("id", "organization_id", "assignment_id", "learner_id", "number", "state", "question_ids", "choice_order",
         "started_at", "finished_at", "score", "passed", "late"),
    ),
    "attempt_answers": TableExport(
        ("id", "organization_id", "attempt_id", "question_id", "choice_ids", "correct", "answered_at"),
    ),
    "score_counts": TableExport(("id", "organization_id", "delivery_id", "score", "attempts")),
    "item_counts": TableExport(
        ("id", "organization_id", "delivery_id", "question_id", "score", "answered", "correct"),
    ),
    "inspection_answers": TableExport(
        ("id", "organization_id", "response_id", "round_id", "item_id", "value", "comment", "answered_at"),
    ),
    "corrective_actions": TableExport(
        ("id", "organization_id", "answer_id", "round_id", "item_id", "department_id", "title", "owner_id", "due_on",
         "status", "notes", "delivery_id", "created_by_id", "created_at", "updated_at", "closed_at"),
    ),
}

# The organization's rows of a table without ``organization_id``: those of its own parent rows.
OWNED_THROUGH: dict[str, tuple[str, str]] = {
    "lessons": ("course_id", "courses"),
    "questions": ("course_id", "courses"),
    "choices": ("question_id", "questions"),
    "course_images": ("course_id", "courses"),
    "inspection_edition_items": ("edition_id", "inspection_editions"),
}

NOT_EXPORTED: dict[str, str] = {
    "ticket_events": "the support desk's own history of a ticket, shown to staff only",
    "deletion_requests": "the operator's four-eyes workflow and notes (what was deleted: deletion_records)",
    "one_time_tokens": CREDENTIAL,
    "canned_replies": "the support desk's reply templates",
    "desk_breaks": "the support desk's calendar",
    "contact_requests": "contact-form messages whose sender has not confirmed the address: no organization's yet",
    "job_runs": INFRASTRUCTURE,
    "worker_heartbeats": INFRASTRUCTURE,
    "mail_address_failures": INFRASTRUCTURE,
    "legal_documents": "the operator's terms, published at /legal",
    "notices": "the operator's notices, shown in the portal (which ones reached the organization: notice_targets)",
    "notice_updates": "the operator's incident updates, shown in the portal",
    "notice_revisions": "the operator's corrections of its notices (not the organization's, as the notices)",
    "inbox_items": "the operator's own work queue and its internal notes",
    "subcontractors": "the operator's subcontractors, published at /legal/subcontractors",
}


def _owned_rows(table: Table, org_id: int) -> ColumnElement[bool]:
    if table.name == "organizations":
        return table.c.id == org_id
    if "organization_id" in table.c:
        return table.c.organization_id == org_id
    column, parent_name = OWNED_THROUGH[table.name]
    parent = db.metadata.tables[parent_name]
    return table.c[column].in_(select(parent.c.id).where(_owned_rows(parent, org_id)))


def _cell(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def table_rows(table: Table, org_id: int) -> Iterator[tuple]:
    """The organization's rows of ``table`` as they leave: allowed columns, allowed rows, masked cells."""
    spec = EXPORTS[table.name]
    columns = [spec.masked[name](table) if name in spec.masked else table.c[name] for name in spec.columns]
    stmt = select(*columns).where(_owned_rows(table, org_id))
    if spec.rows is not None:
        stmt = stmt.where(spec.rows(table, org_id))
    order = list(table.primary_key.columns) or [table.c[spec.columns[0]]]
    for row in db.session.execute(stmt.order_by(*order)):
        yield tuple(_cell(v) for v in row)


def export_zip(org: Organization) -> bytes:
    """All of the organization's data, one CSV per exported table (UTF-8 with BOM, CRLF, Excel-safe)."""
    buffer = io.BytesIO()
    with (
        unscoped("each table is filtered by the organization's id"),
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for table in db.metadata.sorted_tables:
            if table.name not in EXPORTS:
                continue
            text = "".join(iter_lines(EXPORTS[table.name].columns, table_rows(table, org.id)))
            archive.writestr(f"{table.name}.csv", text)
    return buffer.getvalue()
