"""Every route x every kind of user. A route without an entry here makes the suite fail.

Statuses: 200 ok, 302 sent to the login page (signed out), 303 redirected after an action or to the
start page, 403 another role, 404 another organization's object (never revealed).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import Department, ImportBatch, MailSuppression, OutboxMessage, utcnow
from tests import database_state
from tests.application_helpers import make_application
from tests.conftest import (
    PDF_BYTES,
    app_runner,
    build_world,
    client_like,
    csrf_token_from,
    reloaded,
    signer,
    ticket_maker,
)

ROLES = ("anon", "learner_a", "manager_a", "admin_a", "admin_b", "support", "operator")
STAFF = ("support", "operator")


def only(*allowed: str, ok: int = 200) -> dict[str, int]:
    """``ok`` for the roles named, 302 (to login) for the anonymous, 403 for everyone else."""
    return {role: ok if role in allowed else (302 if role == "anon" else 403) for role in ROLES}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def staff(status: int) -> dict[str, int]:
    return dict.fromkeys(STAFF, status)


def org_a_ticket(customers: int, staff: int) -> dict[str, int]:
    """A ticket of org_a: its admin and manager get ``customers``, the learner (not the sender) and
    another organization's admin 404, staff ``staff``."""
    return {"anon": 302, "learner_a": 404, "manager_a": customers, "admin_a": customers, "admin_b": 404,
            "support": staff, "operator": staff}


def _in_org_a(ok: int = 200, manager: int = 404) -> dict[str, int]:
    """An object of organization A: ``ok`` for its admin, 404 for organization B's admin."""
    return {**only("admin_a", "admin_b", "manager_a", ok=ok), "admin_a": ok, "admin_b": 404, "manager_a": manager}
def org_a_url(path: str = ""):
    return lambda w: f"/operator/organizations/{w['org_a'].id}{path}"


def invoice_a_url(prefix: str, path: str = ""):
    return lambda w: f"{prefix}/invoices/{w['invoice_a'].id}{path}"


def _course_a(ok: int, operator: int = 404) -> dict[str, int]:
    """Organization A's own course: its admin ``ok``, B's admin 404; the operator reads but cannot edit it."""
    return {**only("admin_a", "admin_b", "operator"), "admin_a": ok, "admin_b": 404, "operator": operator}


def _admin_a(ok: int, manager: int = 403) -> dict[str, int]:
    """An object of organization A for its administrator (and its manager when ``manager`` says so);
    staff 403, B's admin 404."""
    return {**only("admin_a", "admin_b", ok=ok), "admin_b": 404, "manager_a": manager}


# endpoint -> (method, url or callable(world) -> url, expected status by role)
ROUTES: dict[str, tuple[str, object, dict[str, int]]] = {
    "main.index": ("GET", "/", {**everyone(302)}),
    "main.set_language": ("POST", "/lang/en", everyone(303)),
    # --- monitoring (#9): no worker has run in this world, so /healthz says 503; /metrics is the operator's
    # (or a configured network's, tests/test_monitoring.py), and a scraper without a session gets 403.
    "monitoring.healthz": ("GET", "/healthz", everyone(503)),
    "monitoring.prometheus_metrics": ("GET", "/metrics", {**everyone(403), "operator": 200}),
    "auth.login": ("GET", "/login", {**everyone(303), "anon": 200}),
    "auth.logout": ("POST", "/logout", {**everyone(303), "anon": 302}),
    "auth.forgot_password": ("GET", "/password/forgot", everyone(200)),
    "auth.reset_password": ("GET", "/password/reset/not-a-real-token", everyone(404)),
    "auth.change_password": ("GET", "/password/change", {**everyone(200), "anon": 302}),
    # --- two-factor sign-in and "my password may be known" (#10) ---
    # Signed-in users are sent home from the second step; without a pending sign-in it goes back to /login.
    "auth.two_factor": ("GET", "/login/two-factor", everyone(303)),
    "auth.mfa_setup": ("GET", "/account/two-factor", {**everyone(200), "anon": 302}),
    # Not enrolled: back to the setup page; staff (enrolled) post no password: 422.
    "auth.mfa_disable": ("POST", "/account/two-factor/disable", {**everyone(303), "anon": 302, **staff(422)}),
    "auth.mfa_recovery_codes": (
        "POST", "/account/two-factor/recovery-codes", {**everyone(303), "anon": 302, **staff(422)}
    ),
    "auth.report_compromised": ("POST", "/password/compromised", {**everyone(303), "anon": 302}),
    "org.mfa_policy": ("POST", "/org/two-factor-policy", only("admin_a", "admin_b", ok=303)),
    "org.weekly_summary_preference": ("POST", "/org/weekly-summary", only("admin_a", "admin_b", ok=303)),
    "operator.organization_mfa_policy": ("POST", org_a_url("/two-factor-policy"), only("operator", ok=303)),
    "operator.user_mfa_lookup": ("GET", "/operator/users/two-factor", only("operator")),
    "operator.user_mfa_reset": ("GET", lambda w: f"/operator/users/{w['admin_a'].id}/two-factor", only("operator")),
    "operator.home": ("GET", "/operator/", only("operator")),
    "operator.audit_log": ("GET", "/operator/audit", only("operator")),
    "org.home": ("GET", "/org/", only("admin_a", "admin_b", "manager_a")),
    "org.audit_log": ("GET", "/org/audit", only("admin_a", "admin_b")),
    "me.home": ("GET", "/me/", only("learner_a")),
    # --- support desk (tickets): ticket_a belongs to org_a, sent by admin_a with one attachment ---
    "tickets.index": ("GET", "/tickets/", {**only("learner_a", "manager_a", "admin_a", "admin_b"), **staff(303)}),
    "tickets.new": ("GET", "/tickets/new", only("manager_a", "admin_a", "admin_b")),
    "tickets.show": ("GET", lambda w: f"/tickets/{w['ticket_a'].id}", org_a_ticket(customers=200, staff=200)),
    "tickets.reply": ("POST", lambda w: f"/tickets/{w['ticket_a'].id}/reply", org_a_ticket(customers=422, staff=422)),
    "tickets.close": ("POST", lambda w: f"/tickets/{w['ticket_a'].id}/close", org_a_ticket(customers=303, staff=403)),
    "tickets.rate": ("POST", lambda w: f"/tickets/{w['ticket_a'].id}/rate", org_a_ticket(customers=422, staff=403)),
    "tickets.attachment": (
        "GET",
        lambda w: f"/tickets/{w['ticket_a'].id}/files/{w['ticket_a'].attachment_ids[0]}",
        org_a_ticket(customers=200, staff=200),
    ),
    "tickets.change_status": ("POST", lambda w: f"/tickets/{w['ticket_a'].id}/status", only(*STAFF, ok=422)),
    "tickets.assign": ("POST", lambda w: f"/tickets/{w['ticket_a'].id}/assign", only(*STAFF, ok=422)),
    "tickets.merge": ("POST", lambda w: f"/tickets/{w['ticket_a'].id}/merge", only(*STAFF, ok=422)),
    # ticket_a is a question, not an incident report: staff are refused with 409.
    "tickets.link_incident": ("POST", lambda w: f"/tickets/{w['ticket_a'].id}/incident", only(*STAFF, ok=409)),
    "tickets.settings": ("GET", "/tickets/settings", only("admin_a", "admin_b")),
    "tickets.desk": ("GET", "/tickets/desk", only(*STAFF)),
    "tickets.canned": ("GET", "/tickets/canned", only(*STAFF)),
    "tickets.delete_canned": ("POST", "/tickets/canned/999999/delete", only(*STAFF, ok=404)),
    "tickets.breaks": ("GET", "/tickets/breaks", only("operator")),
    "tickets.delete_break": ("POST", "/tickets/breaks/999999/delete", only("operator", ok=404)),
    "tickets.reports": ("GET", "/tickets/reports", only(*STAFF)),
    # --- learners (#5) -------------------------------------------------------------------------
    # Another organization's learner, department or import batch is 404. A manager reaching a learner
    # outside their departments also gets 404 (manager_a has no departments here); pages for org admins
    # only (import, departments, sign-in settings, delete) are 403 for managers.
    "auth.org_login": ("GET", lambda w: f"/o/{w['org_a'].code}", {**everyone(303), "anon": 200}),
    "auth.request_sign_in_link": ("POST", lambda w: f"/o/{w['org_a'].code}/link", everyone(422)),
    "auth.sign_in_link": ("GET", "/signin/not-a-real-token", everyone(404)),
    "me.profile": ("GET", "/me/profile", only("learner_a")),
    "learners.index": ("GET", "/org/learners/", only("admin_a", "admin_b", "manager_a")),
    "learners.new": ("GET", "/org/learners/new", only("admin_a", "admin_b", "manager_a")),
    "learners.export": ("GET", "/org/learners/export.csv", only("admin_a", "admin_b", "manager_a")),
    "learners.show": ("GET", lambda w: f"/org/learners/{w['learner_a'].id}", _in_org_a()),
    "learners.record": ("GET", lambda w: f"/org/learners/{w['learner_a'].id}/record", _in_org_a()),
    "learners.record_export": ("GET", lambda w: f"/org/learners/{w['learner_a'].id}/record.csv", _in_org_a()),
    "learners.edit": ("GET", lambda w: f"/org/learners/{w['learner_a'].id}/edit", _in_org_a()),
    "learners.reset_password": ("GET", lambda w: f"/org/learners/{w['learner_a'].id}/password", _in_org_a()),
    "learners.deactivate": ("POST", lambda w: f"/org/learners/{w['learner_a'].id}/deactivate", _in_org_a(303)),
    "learners.reactivate": ("POST", lambda w: f"/org/learners/{w['learner_a'].id}/reactivate", _in_org_a(303)),
    "learners.end_sessions": ("POST", lambda w: f"/org/learners/{w['learner_a'].id}/sessions/end", _in_org_a(303)),
    "learners.invite": ("POST", lambda w: f"/org/learners/{w['learner_a'].id}/invite", _in_org_a(303)),
    "learners.delete": ("GET", lambda w: f"/org/learners/{w['learner_a'].id}/delete", _in_org_a(manager=403)),
    "learners.import_upload": ("GET", "/org/learners/import", only("admin_a", "admin_b")),
    "learners.import_template": ("GET", "/org/learners/import/template.csv", only("admin_a", "admin_b")),
    "learners.import_preview": ("GET", lambda w: f"/org/learners/import/{w['batch_a']}", _in_org_a(manager=403)),
    "learners.import_confirm": (
        "POST", lambda w: f"/org/learners/import/{w['batch_a']}/confirm", _in_org_a(303, manager=403)
    ),
    "learners.import_cancel": (
        "POST", lambda w: f"/org/learners/import/{w['batch_a']}/cancel", _in_org_a(303, manager=403)
    ),
    "learners.import_refused": (
        "GET", lambda w: f"/org/learners/import/{w['batch_a']}/refused.csv", _in_org_a(manager=403)
    ),
    "learners.departments": ("GET", "/org/learners/departments", only("admin_a", "admin_b")),
    "learners.department_edit": (
        "GET", lambda w: f"/org/learners/departments/{w['department_a']}", _in_org_a(manager=403)
    ),
    "learners.department_delete": (
        "POST", lambda w: f"/org/learners/departments/{w['department_a']}/delete", _in_org_a(303, manager=403)
    ),
    "learners.sign_in_settings": ("GET", "/org/learners/sign-in", only("admin_a", "admin_b")),
    # --- back office (issue #4): operator screens are operator-only; org screens scoped to the tenant ---
    "invitations.accept": ("GET", "/invitation/not-a-real-token", everyone(404)),
    "operator_organizations.organizations": ("GET", "/operator/organizations", only("operator")),
    "operator_organizations.organization_new": ("GET", "/operator/organizations/new", only("operator")),
    # The inbox (#20 item 1) is the operator's; an id that does not exist answers 404 (after the role check).
    "operator.inbox_list": ("GET", "/operator/inbox", only("operator")),
    "operator.inbox_item": ("GET", "/operator/inbox/999999", only("operator", ok=404)),
    "operator.inbox_handle": ("POST", "/operator/inbox/999999/handle", only("operator", ok=404)),
    "operator_organizations.organization_detail": ("GET", org_a_url(), only("operator")),
    "operator_organizations.contract_edit": ("GET", org_a_url("/contract"), only("operator")),
    "operator_organizations.contract_renew": ("GET", org_a_url("/contract/renew"), only("operator")),
    # Posted with nothing but a CSRF token: the operator gets the form back with its errors.
    "operator_organizations.admin_new": ("POST", org_a_url("/admins"), only("operator", ok=422)),
    "operator_organizations.admin_resend": (
        "POST",
        lambda w: org_a_url(f"/admins/{w['admin_a'].id}/resend")(w),
        only("operator", ok=303),
    ),
    "operator_organizations.status_change": ("POST", org_a_url("/status"), only("operator", ok=422)),
    "operator_billing.invoice_new": ("GET", org_a_url("/invoices/new"), only("operator")),
    "operator_billing.invoices": ("GET", "/operator/invoices", only("operator")),
    "operator_billing.invoice_detail": ("GET", invoice_a_url("/operator"), only("operator")),
    "operator_billing.credit_note_new": ("GET", invoice_a_url("/operator", "/credit-notes/new"), only("operator")),
    "operator_billing.credit_note_detail": (
        "GET", lambda w: f"/operator/credit-notes/{w['credit_note_a']}", only("operator")
    ),
    "operator_billing.invoice_paid": ("POST", invoice_a_url("/operator", "/paid"), only("operator", ok=303)),
    "operator_billing.invoice_suspend": ("POST", invoice_a_url("/operator", "/suspend"), only("operator", ok=303)),
    # Posted with nothing but a CSRF token: the operator gets the form back with its errors.
    "operator_billing.invoice_payment": ("POST", invoice_a_url("/operator", "/payments"), only("operator", ok=422)),
    "operator_billing.invoice_resume": ("POST", invoice_a_url("/operator", "/resume"), only("operator", ok=303)),
    "operator_billing.payments_list": ("GET", "/operator/payments", only("operator")),
    "operator_billing.payment_detail": ("GET", lambda w: f"/operator/payments/{w['payment']}", only("operator")),
    "operator_billing.payment_assign": (
        "POST", lambda w: f"/operator/payments/{w['payment']}/assign", only("operator", ok=422)
    ),
    "operator_organizations.seat_report": ("GET", "/operator/seats", only("operator")),
    "org_organizations.profile": ("GET", "/org/profile", only("admin_a", "admin_b", "manager_a")),
    "org_organizations.members": ("GET", "/org/members", only("admin_a", "admin_b")),
    "org_billing.invoices": ("GET", "/org/invoices", only("admin_a", "admin_b")),
    "operator_notices.notices_list": ("GET", "/operator/notices", only("operator")),
    "operator_notices.notice_new": ("GET", "/operator/notices/new", only("operator")),
    "operator_notices.notice_detail": ("GET", lambda w: f"/operator/notices/{w['notice_a'].id}", only("operator")),
    "operator_notices.notice_update": (
        "POST",
        lambda w: f"/operator/notices/{w['notice_a'].id}/updates",
        only("operator", ok=422),
    ),
    "operator_notices.notice_edit": ("GET", lambda w: f"/operator/notices/{w['notice_a'].id}/edit", only("operator")),
    "operator_notices.notice_withdraw": (
        "POST",
        lambda w: f"/operator/notices/{w['notice_a'].id}/withdraw",
        only("operator", ok=303),
    ),
    "operator_notices.notice_addresses": ("GET", "/operator/notices/addresses", only("operator")),
    "org_notices.notices": ("GET", "/org/notices", only("admin_a", "admin_b", "manager_a")),
    "org_notices.notice_detail": (
        "GET",
        lambda w: f"/org/notices/{w['notice_a'].id}",
        {**only("admin_a", "manager_a"), "admin_b": 404},
    ),
    "operator_termination.termination_receive": ("POST", org_a_url("/termination/receive"), only("operator", ok=404)),
    "operator_termination.contract_cancel": ("POST", org_a_url("/cancel"), only("operator", ok=303)),
    "operator_termination.organization_purge": ("GET", org_a_url("/purge"), only("operator")),
    # No deletion has been requested in the fixture: nothing to approve or withdraw.
    "operator_termination.organization_purge_approve": ("POST", org_a_url("/purge/approve"), only("operator", ok=404)),
    "operator_termination.organization_purge_withdraw": (
        "POST", org_a_url("/purge/withdraw"), only("operator", ok=404)
    ),
    "operator_termination.deletions": ("GET", "/operator/deletions", only("operator")),
    "org_termination.termination": ("GET", "/org/termination", only("admin_a", "admin_b")),
    "org_termination.export": ("GET", "/org/export", only("admin_a", "admin_b")),
    "operator_organizations.handover_start": ("POST", org_a_url("/handover"), only("operator", ok=303)),
    "org_organizations.handover": ("GET", "/org/handover", only("admin_a", "admin_b")),
    # Only the named successor of a pending handover may open it; there is none in the fixture.
    "org_organizations.handover_accept": (
        "GET", "/org/handover/accept", {**only("admin_a", "admin_b", "manager_a", ok=404)}
    ),
    "org.messages": ("GET", "/org/messages", only("admin_a", "admin_b")),
    "operator_legal.legal_list": ("GET", "/operator/legal", only("operator")),
    "operator_legal.legal_new": ("GET", "/operator/legal/new", only("operator")),
    # No version of the terms exists in the fixture: the public page is 404, acceptance sends home.
    "legal.page": ("GET", "/legal/terms", everyone(404)),
    "legal.accept": ("GET", "/legal/accept", only("admin_a", "admin_b", ok=303)),
    # --- the rest of the terms (#20 item 7): subcontractors (Art. 6), cure notices (Art. 16-3) -----------
    "legal.subcontractors": ("GET", "/legal/subcontractors", everyone(200)),
    "operator_third_parties.subcontractors": ("GET", "/operator/subcontractors", only("operator")),
    "operator_third_parties.subcontractor_edit": ("GET", "/operator/subcontractors/999/edit", only("operator", ok=404)),
    "operator_third_parties.subcontractor_delete": (
        "POST", "/operator/subcontractors/999/delete", only("operator", ok=404)
    ),
    # Posted with nothing but a CSRF token: the organization's page comes back with the form's errors.
    "operator_termination.cure_notice_send": ("POST", org_a_url("/cure-notices"), only("operator", ok=422)),
    "operator.staff_training_list": ("GET", "/operator/staff-training", only("operator")),
    "operator_termination.cure_notice_cured": ("POST", "/operator/cure-notices/999/cured", only("operator", ok=404)),
    "operator_third_parties.third_party_approve": ("POST", org_a_url("/third-parties"), only("operator", ok=303)),
    # No third party in the fixture: nothing to revoke.
    "operator_third_parties.third_party_revoke": (
        "POST", "/operator/third-parties/999/revoke", only("operator", ok=404)
    ),
    "org_third_parties.third_party_members": ("GET", "/org/third-parties", only("admin_a", "admin_b")),
    "status.page": ("GET", "/status/", everyone(200)),
    "org_billing.invoice_detail": ("GET", invoice_a_url("/org"), {**only("admin_a"), "admin_b": 404}),
    "org_billing.credit_note_detail": (
        "GET", lambda w: f"/org/credit-notes/{w['credit_note_a']}", {**only("admin_a"), "admin_b": 404}
    ),
    # --- mail: the delivery log (operators: everything; org admins: their people's messages) ---
    "mail.messages": ("GET", "/mail/", only("operator", "admin_a", "admin_b")),
    "mail.message": ("GET", lambda w: f"/mail/{w['outbox_a']}", {**only("operator", "admin_a"), "admin_b": 404}),
    "mail.retry": ("POST", lambda w: f"/mail/{w['outbox_a']}/retry", only("operator", ok=303)),
    "mail.suppressions": ("GET", "/mail/suppressions", only("operator")),
    # --- applications (issue #12): the form is public; the review is operator-only ---
    "registration.apply": ("GET", "/apply/", everyone(200)),
    "registration.thanks": ("GET", "/apply/thanks", everyone(200)),
    "registration.confirm": ("GET", "/apply/confirm/not-a-real-token", everyone(404)),
    "registration.resend": ("POST", "/apply/confirm/not-a-real-token/resend", everyone(404)),
    "registration.confirmed": ("GET", "/apply/confirmed", everyone(200)),
    "registration.resent": ("GET", "/apply/resent", everyone(200)),
    "contact.form": ("GET", "/contact/", everyone(200)),
    "contact.sent": ("GET", "/contact/sent", everyone(200)),
    "contact.confirm": ("GET", "/contact/confirm/not-a-real-token", everyone(404)),
    "contact.received": ("GET", "/contact/received", everyone(200)),
    "applications.index": ("GET", "/operator/applications/", only("operator")),
    "applications.show": ("GET", lambda w: f"/operator/applications/{w['application']}", only("operator")),
    # Posted with nothing but a CSRF token: the operator gets the page back with the form's errors.
    "applications.approve": (
        "POST", lambda w: f"/operator/applications/{w['application']}/approve", only("operator", ok=422)
    ),
    "applications.reject": (
        "POST", lambda w: f"/operator/applications/{w['application']}/reject", only("operator", ok=422)
    ),
    "applications.screening": (
        "POST", lambda w: f"/operator/applications/{w['application']}/screening", only("operator", ok=422)
    ),
    "mail.lift_suppression": (
        "POST",
        lambda w: f"/mail/suppressions/{w['suppression']}/lift",
        only("operator", ok=303),
    ),
    # --- training (#6) ---------------------------------------------------------------------------
    # Managers see results (narrowed to their departments) but neither deliver, remind nor close.
    # course_a is organization A's own course (the operator may read it but not edit it); delivery_a
    # sends it to learner_a, who has a failed attempt and one in progress; delivery_a2 was passed.
    "courses.index": ("GET", "/courses/", only("admin_a", "admin_b", "operator")),
    "courses.new": ("GET", "/courses/new", only("admin_a", "admin_b", "operator")),
    "courses.show": ("GET", lambda w: f"/courses/{w['course_a']}", _course_a(200, operator=200)),
    "courses.edit": ("GET", lambda w: f"/courses/{w['course_a']}/edit", _course_a(200)),
    "courses.next_edition": ("POST", lambda w: f"/courses/{w['course_a']}/next-edition", _course_a(303)),
    "courses.lesson": ("GET", lambda w: f"/courses/{w['course_a']}/lessons/{w['lesson_a']}", _course_a(200)),
    "courses.delete_lesson": (
        "POST", lambda w: f"/courses/{w['course_a']}/lessons/{w['lesson_a']}/delete", _course_a(303)
    ),
    "courses.upload_image": ("POST", lambda w: f"/courses/{w['course_a']}/images", _course_a(303)),
    "courses.question": ("GET", lambda w: f"/courses/{w['course_a']}/questions/{w['question_a']}", _course_a(200)),
    "courses.delete_question": (
        "POST", lambda w: f"/courses/{w['course_a']}/questions/{w['question_a']}/delete", _course_a(303)
    ),
    "training.index": ("GET", "/org/training/", only("admin_a", "admin_b", "manager_a")),
    "training.new": ("GET", "/org/training/new", only("admin_a", "admin_b")),
    "training.learner_search": ("GET", "/org/training/new/learners", only("admin_a", "admin_b")),
    "training.show": ("GET", lambda w: f"/org/training/{w['delivery_a']}", _admin_a(200, manager=200)),
    "training.items": ("GET", lambda w: f"/org/training/{w['delivery_a']}/items", _admin_a(200, manager=200)),
    "training.export": ("GET", lambda w: f"/org/training/{w['delivery_a']}/export.csv", _admin_a(200, manager=200)),
    "training.remind": ("POST", lambda w: f"/org/training/{w['delivery_a']}/remind", _admin_a(303)),
    "training.remind_one": (
        "POST", lambda w: f"/org/training/{w['delivery_a']}/remind/{w['learner_a'].id}", _admin_a(303)
    ),
    "training.close": ("POST", lambda w: f"/org/training/{w['delivery_a']}/close", _admin_a(303)),
    "training.course_results": ("GET", lambda w: f"/org/training/courses/{w['course_a']}", _admin_a(200, manager=200)),
    # Certificates of delivery_a2 (passed by learner_a, who is in none of manager_a's departments: 404 for
    # the PDF); the zip of them all is the administrator's.
    "training.certificates_list": (
        "GET", lambda w: f"/org/training/{w['delivery_passed']}/certificates", _admin_a(200, manager=200)
    ),
    "training.certificate_pdf": (
        "GET", lambda w: f"/org/training/assignments/{w['assignment_passed']}/certificate.pdf",
        _admin_a(200, manager=404),
    ),
    "training.certificates_zip": (
        "GET", lambda w: f"/org/training/{w['delivery_passed']}/certificates.zip", _admin_a(200)
    ),
    "quizzes.index": ("GET", "/me/training/", only("learner_a")),
    "quizzes.assignment": ("GET", lambda w: f"/me/training/{w['assignment_a']}", only("learner_a")),
    "quizzes.lesson": (
        "GET", lambda w: f"/me/training/{w['assignment_a']}/lessons/{w['lesson_a']}", only("learner_a")
    ),
    "quizzes.start": ("POST", lambda w: f"/me/training/{w['assignment_a']}/start", only("learner_a", ok=303)),
    "quizzes.question": ("GET", lambda w: f"/me/training/attempts/{w['attempt_a']}/1", only("learner_a")),
    "quizzes.answer": ("POST", lambda w: f"/me/training/attempts/{w['attempt_a']}/answer", only("learner_a", ok=422)),
    "quizzes.review": ("GET", lambda w: f"/me/training/attempts/{w['attempt_a']}/review", only("learner_a")),
    "quizzes.finish": ("POST", lambda w: f"/me/training/attempts/{w['attempt_a']}/finish", only("learner_a", ok=303)),
    "quizzes.result": ("GET", lambda w: f"/me/training/attempts/{w['attempt_done']}/result", only("learner_a")),
    "quizzes.certificate": ("GET", lambda w: f"/me/training/{w['assignment_passed']}/certificate", only("learner_a")),
    "quizzes.certificate_pdf": (
        "GET", lambda w: f"/me/training/{w['assignment_passed']}/certificate.pdf", only("learner_a")
    ),
    # Public: a personal link shows its page to nobody but its learner (or the signed-out), and records
    # nothing on GET; the verification page shows a certificate to anyone.
    "training_links.landing": ("GET", lambda w: f"/t/{w['link_a']}", {**everyone(404), "anon": 200, "learner_a": 200}),
    "training_links.enter": ("POST", lambda w: f"/t/{w['link_a']}", {**everyone(404), "anon": 303, "learner_a": 303}),
    "training_links.verify": ("GET", lambda w: f"/verify/{w['certificate_a']}", everyone(200)),
    "training_links.image": (
        "GET", lambda w: f"/training/images/{w['image_a']}", {**everyone(200), "anon": 404, "admin_b": 404}
    ),
    # --- inspections (#7): item_a is organization A's own item (the operator edits only global items) ---
    "inspection_items.index": ("GET", "/inspections/items/", only("admin_a", "admin_b", "operator")),
    "inspection_items.edit": ("GET", lambda w: f"/inspections/items/{w['item_a']}", _course_a(200)),
    "inspection_items.editions": ("GET", "/inspections/editions/", only("admin_a", "admin_b", "operator")),
    "inspection_items.edition": (
        "GET", lambda w: f"/inspections/editions/{w['edition_a']}", _course_a(200, operator=200)
    ),
    "inspection_items.edit_edition": ("GET", lambda w: f"/inspections/editions/{w['edition_a']}/edit", _course_a(200)),
    # --- inspection results and follow-up (#7 parts 5-6): closed_round_a of org A; action_a is owned by manager_a ---
    "inspection_results.index": ("GET", "/org/inspections/results/", only("admin_a", "admin_b", "manager_a")),
    # Without ?edition= the export is of the edition used last; organization B has held no round: 404.
    "inspection_results.export_figures": ("GET", "/org/inspections/results/figures.csv", _admin_a(200, manager=200)),
    "inspection_results.round_view": (
        "GET", lambda w: f"/org/inspections/results/rounds/{w['closed_round_a']}", _admin_a(200, manager=200)
    ),
    "inspection_results.no_answers": (
        "GET", lambda w: f"/org/inspections/results/rounds/{w['closed_round_a']}/no", _admin_a(200, manager=200)
    ),
    "inspection_results.export_answers": (
        "GET", lambda w: f"/org/inspections/results/rounds/{w['closed_round_a']}/answers.tsv",
        _admin_a(200, manager=200),
    ),
    "inspection_results.actions": ("GET", "/org/inspections/actions/", only("admin_a", "admin_b", "manager_a")),
    "inspection_results.new_action": ("GET", lambda w: f"/org/inspections/actions/new/{w['answer_a']}", _admin_a(200)),
    "inspection_results.edit_action": (
        "GET", lambda w: f"/org/inspections/actions/{w['action_a']}", _admin_a(200, manager=200)
    ),
    # Rounds: round_a is open for learner_a only (sheet_a); manager_a has no sheet of it.
    "inspections.index": ("GET", "/org/inspections/", only("admin_a", "admin_b", "manager_a")),
    "inspections.new": ("GET", "/org/inspections/new", only("admin_a", "admin_b")),
    "inspections.people_search": ("GET", "/org/inspections/new/people", only("admin_a", "admin_b")),
    "inspections.show": ("GET", lambda w: f"/org/inspections/{w['round_a']}", _admin_a(200, manager=200)),
    "inspections.remind": ("POST", lambda w: f"/org/inspections/{w['round_a']}/remind", _admin_a(303)),
    "inspections.close": ("POST", lambda w: f"/org/inspections/{w['round_a']}/close", _admin_a(303)),
    "inspection_sheets.index": ("GET", "/me/inspections/", only("learner_a", "manager_a")),
    "inspection_sheets.round_sheets": (
        "GET", lambda w: f"/me/inspections/rounds/{w['round_a']}", {**only("learner_a", ok=303), "manager_a": 404}
    ),
    "inspection_sheets.sheet": ("GET", lambda w: f"/me/inspections/{w['sheet_a']}", {**only("learner_a"),
                                                                                     "manager_a": 404}),
    "inspection_sheets.save": (
        "POST", lambda w: f"/me/inspections/{w['sheet_a']}", {**only("learner_a", ok=303), "manager_a": 404}
    ),
    # No answer chosen: 422 with the message.
    "inspection_sheets.answer": (
        "POST", lambda w: f"/me/inspections/{w['sheet_a']}/items/{w['item_a']}",
        {**only("learner_a", ok=422), "manager_a": 404},
    ),
    "inspection_links.landing": ("GET", lambda w: f"/i/{w['inspection_link_a']}",
                                 {**everyone(404), "anon": 200, "learner_a": 200}),
    "inspection_links.enter": ("POST", lambda w: f"/i/{w['inspection_link_a']}",
                               {**everyone(404), "anon": 303, "learner_a": 303}),
}


def test_every_route_has_an_entry(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint != "static"}
    assert endpoints - set(ROUTES) == set(), "add these routes to tests/test_access.py ROUTES"
    assert set(ROUTES) - endpoints == set(), "these ROUTES entries name routes that no longer exist"


def _mail_objects(world) -> tuple[int, int]:
    message = OutboxMessage(
        idempotency_key="access:outbox_a",
        template="password_reset",
        to_address="a@example.com",
        subject="件名",
        body_text="本文",
        organization_id=world["org_a"].id,
        status="dead",
    )
    suppression = MailSuppression(address="stopped@example.com")
    db.session.add_all([message, suppression])
    db.session.flush()
    return message.id, suppression.id


@pytest.fixture
def world(app):
    """The shared world plus objects of organization A that the area routes need, fresh for each test
    (tests/test_fuzz_forms.py posts hostile input to every route with it): built through the services
    once, then the same rows copied in (tests/database_state.py)."""
    return database_state.rows_once(
        app, "access world", lambda: _objects_of_org_a(app, build_world(app)), lambda w: reloaded(app, w)
    )


def shared_access_world(app):
    """(world, a client signed in as each role), built once; until the generator closes, every test starts
    from exactly these rows and sessions: a test that writes gets them back (tests/database_state.py)."""
    world = _objects_of_org_a(app, build_world(app))
    sign_in = signer(app)
    signed_in = {role: sign_in(world[role]) for role in ROLES if role != "anon"}
    with database_state.shared_rows(app):
        yield world, signed_in


@pytest.fixture(scope="module")
def access_world(app):
    """The same objects built once for the module, with a client signed in as each role."""
    yield from shared_access_world(app)


@pytest.fixture
def shared_world(access_world):
    return dict(access_world[0])


@pytest.fixture
def clients(app, access_world):
    """A client per role, signed in as the module's user of that role (its cookies copied: what one test
    does to its session, a language or a flash message, does not reach the next)."""
    signed_in = {role: client_like(c) for role, c in access_world[1].items()}
    signed_in["anon"] = app.test_client()
    return signed_in


def _objects_of_org_a(app, world) -> dict:
    run_in_app, make_ticket = app_runner(app), ticket_maker(app)
    world["outbox_a"], world["suppression"] = run_in_app(lambda: _mail_objects(world))
    world["ticket_a"] = make_ticket(world["admin_a"], files=[("画面.pdf", "application/pdf", PDF_BYTES)])

    def create():
        department = Department(organization_id=world["org_a"].id, name="営業部", depth=1)
        batch = ImportBatch(
            organization_id=world["org_a"].id,
            created_by_id=world["admin_a"].id,
            rows={"columns": ["login_id"], "rows": [], "errors": []},
            expires_at=utcnow() + timedelta(hours=1),
        )
        db.session.add_all([department, batch])
        db.session.flush()
        return department.id, batch.id

    world["department_a"], world["batch_a"] = run_in_app(create)
    world.update(run_in_app(lambda: _training_world(world)))
    world["application"] = run_in_app(lambda: make_application(status="confirmed").id)
    world["credit_note_a"] = run_in_app(lambda: _credit_note(world))
    world["payment"] = run_in_app(lambda: _unassigned_payment().id)
    world.update(run_in_app(lambda: _inspection_world(world)))
    world.update(run_in_app(lambda: _inspection_results_world(world)))
    return world


def _credit_note(world) -> int:
    from portal.models import CreditNote

    invoice = world["invoice_a"]
    note = CreditNote(
        organization_id=world["org_a"].id, invoice_id=invoice.id, number="CN-202612-000001",
        recipient_name=invoice.recipient_name, reason="点検による停止(第20条第1項)", amount=10_000, tax_rate=10,
        tax_amount=1_000, total=11_000, issuer_name=invoice.issuer_name,
        registration_number=invoice.registration_number, issued_on=today_in_tokyo(),
    )
    db.session.add(note)
    db.session.flush()
    return note.id


def _unassigned_payment():
    from datetime import date

    from portal.models import Payment

    payment = Payment(received_on=date(2026, 4, 20), amount=330_000, payer_name="カ)エー")
    db.session.add(payment)
    db.session.flush()
    return payment


def _inspection_world(world) -> dict:
    from portal.blueprints.inspections.items import services as inspection_services
    from portal.models import InspectionItem

    item = InspectionItem(organization_id=world["org_a"].id, category="入退管理", text="自社の項目", why="理由")
    db.session.add(item)
    db.session.flush()
    edition = inspection_services.save_edition(None, title="自社版", kind="custom", description="", drawn_count=0,
                                               item_ids=[item.id], organization_id=world["org_a"].id)
    from tests.inspection_helpers import link_for, open_round, response_of

    inspection_round = open_round(world["admin_a"], edition.id, person_ids=[world["learner_a"].id])
    return {"item_a": item.id, "edition_a": edition.id, "round_a": inspection_round.id,
            "sheet_a": response_of(inspection_round.id, world["learner_a"].id).id,
            "inspection_link_a": link_for(inspection_round.id, world["learner_a"].id)}


def _inspection_results_world(world) -> dict:
    """A closed round of edition_a with learner_a's submitted いいえ (answer_a: no action yet) and a second
    いいえ with an action owned by manager_a (action_a)."""
    from datetime import date

    from portal.blueprints.inspections.results import services as results_services
    from portal.models import InspectionItem, User
    from tests.inspection_results_helpers import launch, make_round, submit

    org_id = world["org_a"].id
    second = InspectionItem(organization_id=org_id, category="廃棄", text="二つ目の項目", why="理由")
    db.session.add(second)
    db.session.flush()
    inspection_round = make_round(org_id, world["edition_a"], date(2026, 10, 1), [world["item_a"], second.id])
    response = launch(inspection_round, [(world["learner_a"].id, None)])[world["learner_a"].id]
    answer, other = submit(response, {world["item_a"]: "no", second.id: "no"})
    action = results_services.open_action(
        other, results_services.ActionInput(owner_id=world["manager_a"].id, due_on=today_in_tokyo()),
        by=db.session.get(User, world["admin_a"].id),
    )
    return {"closed_round_a": inspection_round.id, "answer_a": answer.id, "action_a": action.id}


def _training_world(world) -> dict:
    import io

    from werkzeug.datastructures import FileStorage

    from portal.blueprints.training.courses import services as course_services
    from portal.models import Lesson
    from tests.training_helpers import add_course, assignment_of, deliver, link_for, take

    course = add_course(organization_id=world["org_a"].id, questions=3)
    lesson = Lesson(course_id=course.id, position=1, title="レッスン", body_md="# 見出し")
    db.session.add(lesson)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    image = course_services.save_image(course, FileStorage(io.BytesIO(png), filename="図.png"))
    question_id = course_services.bank_questions(course)[0].id
    delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
    assignment = assignment_of(delivery.id, world["learner_a"].id)
    done = take(assignment.id, right=0)
    running = take(assignment.id, finish=False)
    passed_delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
    passed = assignment_of(passed_delivery.id, world["learner_a"].id)
    take(passed.id)
    return {
        "course_a": course.id, "lesson_a": lesson.id, "question_a": question_id, "image_a": image.id,
        "delivery_a": delivery.id, "assignment_a": assignment.id, "attempt_done": done.id, "attempt_a": running.id,
        "assignment_passed": passed.id, "delivery_passed": passed_delivery.id,
        "certificate_a": assignment_of(passed_delivery.id, world["learner_a"].id).certificate_code,
        "link_a": link_for(delivery.id, world["learner_a"].id),
    }


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_route_access_by_role(endpoint, clients, shared_world):
    method, url, expected = ROUTES[endpoint]
    if callable(url):
        url = url(shared_world)
    for role in ROLES:
        c = clients[role]
        if method == "GET":
            response = c.get(url)
        else:
            token = csrf_token_from(c.get("/password/forgot").get_data(as_text=True))
            response = c.open(url, method=method, data={"csrf_token": token})
        assert response.status_code == expected[role], f"{role} {method} {url}"
