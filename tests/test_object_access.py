"""Object-level access proof (#10, item 2): every route with an id tried with objects of the caller's own
organization (allowed) and of another organization (403/404, never 2xx or a redirect, nothing written).

How it works
------------
``_org_objects`` builds the same set of objects, through the areas' services and the conftest fixtures, for
organization A and organization B (``KEYS``). Each route of ``app.url_map`` with an id-like parameter (any
``int`` converter, or a parameter named ``token``/``code``/``*_token``/``*_code``) has ONE entry in
``OBJECT_ROUTES``: the method, a URL template whose ``{placeholders}`` are keys of ``KEYS``, and the roles
that may use it. Signed in as A's user of each role, the test then tries

- **own**: every placeholder from organization A → must be allowed (not 403/404, no 5xx, not sent to login);
- **other**: every placeholder from organization B, and each placeholder alone swapped to B's (a mismatched
  parent/child pair such as A's course with B's lesson) → must be 403 or 404;
- **peer** (learners only): each placeholder in ``LEARNER_OWNED`` swapped to the object of another learner of
  the same organization (their assignment, attempt, ticket, personal link) → must be 403 or 404.

Staff (operator, support) see every organization by design: for them "own" is A's objects and only
mismatched pairs are "other". Every refused POST is checked to have written nothing (every table but the
audit log compared before and after). Own POSTs run last, so a deletion cannot hide another route's object.
After both passes no row of one organization may point at another organization's row (every foreign key
between two tenant tables is checked).

A new route or a new id parameter without an entry fails ``test_every_id_route_has_an_entry``.
Routes whose token is a capability (anyone holding it may use it) or whose ``code`` is not an object are
listed in ``NOT_OBJECT_ROUTES`` with the reason; they are covered by tests/test_access.py and their area.

Adding routes (e.g. the セキュレジ inspection routes) — one line per route::

    "inspections.answer": post("/me/inspections/{run}/answer", "learner"),
    "inspections.report": get("/org/inspections/{run}/report", "admin", "manager"),

When the route needs a kind of object not yet in ``KEYS``: build one per organization in ``_org_objects``
(through the area's service; for learner-owned objects build one for ``learner`` and one for ``peer`` and add
the key to ``LEARNER_OWNED``), add the key to ``KEYS``. ``own=<status>`` on an entry states an expected
status for the own probe when the fixture cannot make it an ordinary success (say why in a comment).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text
from werkzeug.routing import IntegerConverter

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import Role, utcnow
from portal.tenancy import tenant_scope, unscoped
from tests import database_state
from tests.conftest import PDF_BYTES, client_like, csrf_token_from, org_maker, signer, ticket_maker, user_maker

# --- the table ----------------------------------------------------------------------------------------

ROLES = ("learner", "manager", "admin", "support", "operator")
ORG_ROLES = ("learner", "manager", "admin")
CUSTOMERS = ORG_ROLES
STAFF = ("support", "operator")


@dataclass(frozen=True)
class Probe:
    method: str
    template: str
    roles: tuple[str, ...]
    own: int | None = None  # an exact status expected for the own probe (see the module docstring)
    refused: tuple[int, ...] = (403, 404)  # the statuses that count as a refusal


def get(template: str, *roles: str, own: int | None = None) -> Probe:
    return Probe("GET", template, roles, own)


def post(template: str, *roles: str, own: int | None = None, refused: tuple[int, ...] = (403, 404)) -> Probe:
    return Probe("POST", template, roles, own, refused)


OBJECT_ROUTES: dict[str, Probe] = {
    # --- tickets: {ticket} was sent by the organization's learner, with one attachment ---
    "tickets.show": get("/tickets/{ticket}", *CUSTOMERS, *STAFF),
    "tickets.reply": post("/tickets/{ticket}/reply", *CUSTOMERS, *STAFF),
    "tickets.close": post("/tickets/{ticket}/close", *CUSTOMERS),
    "tickets.rate": post("/tickets/{ticket}/rate", *CUSTOMERS),
    "tickets.attachment": get("/tickets/{ticket}/files/{attachment}", *CUSTOMERS, *STAFF),
    "tickets.change_status": post("/tickets/{ticket}/status", *STAFF),
    "tickets.assign": post("/tickets/{ticket}/assign", *STAFF),
    "tickets.merge": post("/tickets/{ticket}/merge", *STAFF),
    "tickets.link_incident": post("/tickets/{ticket}/incident", *STAFF),
    "tickets.delete_canned": post("/tickets/canned/{canned}/delete", *STAFF),
    "tickets.delete_break": post("/tickets/breaks/{desk_break}/delete", "operator"),
    # --- learners and departments: {subject} is a learner of {department}, which the manager looks after ---
    "learners.show": get("/org/learners/{subject}", "admin", "manager"),
    "learners.edit": get("/org/learners/{subject}/edit", "admin", "manager"),
    "learners.record": get("/org/learners/{subject}/record", "admin", "manager"),
    "learners.record_export": get("/org/learners/{subject}/record.csv", "admin", "manager"),
    "learners.reset_password": get("/org/learners/{subject}/password", "admin", "manager"),
    "learners.deactivate": post("/org/learners/{subject}/deactivate", "admin", "manager"),
    "learners.reactivate": post("/org/learners/{subject}/reactivate", "admin", "manager"),
    "learners.end_sessions": post("/org/learners/{subject}/sessions/end", "admin", "manager"),
    "learners.invite": post("/org/learners/{subject}/invite", "admin", "manager"),
    "learners.delete": get("/org/learners/{subject}/delete", "admin"),
    "learners.import_preview": get("/org/learners/import/{batch}", "admin"),
    "learners.import_confirm": post("/org/learners/import/{batch}/confirm", "admin"),
    "learners.import_cancel": post("/org/learners/import/{spare_batch}/cancel", "admin"),
    "learners.import_refused": get("/org/learners/import/{batch}/refused.csv", "admin"),
    "learners.department_edit": get("/org/learners/departments/{department}", "admin"),
    "learners.department_delete": post("/org/learners/departments/{department}/delete", "admin"),
    # --- back office ---
    "operator_organizations.organization_detail": get("/operator/organizations/{org}", "operator"),
    "operator_organizations.contract_edit": get("/operator/organizations/{org}/contract", "operator"),
    "operator_organizations.admin_new": post("/operator/organizations/{org}/admins", "operator"),
    "operator_organizations.admin_resend": post("/operator/organizations/{org}/admins/{admin}/resend", "operator"),
    "operator_organizations.status_change": post("/operator/organizations/{org}/status", "operator"),
    "operator_billing.invoice_new": get("/operator/organizations/{org}/invoices/new", "operator"),
    # No termination has been asked for in the fixture: the page says so with 404.
    "operator_termination.termination_receive": post(
        "/operator/organizations/{org}/termination/receive", "operator", own=404
    ),
    "operator_termination.contract_cancel": post("/operator/organizations/{org}/cancel", "operator"),
    "operator_termination.organization_purge": get("/operator/organizations/{org}/purge", "operator"),
    # No deletion is requested in the fixture: 404 for every organization.
    "operator_termination.organization_purge_approve": post(
        "/operator/organizations/{org}/purge/approve", "operator", own=404
    ),
    "operator_termination.organization_purge_withdraw": post(
        "/operator/organizations/{org}/purge/withdraw", "operator", own=404
    ),
    "operator_organizations.handover_start": post("/operator/organizations/{org}/handover", "operator"),
    "operator_third_parties.third_party_approve": post("/operator/organizations/{org}/third-parties", "operator"),
    "operator_third_parties.third_party_revoke": post("/operator/third-parties/{third_party}/revoke", "operator"),
    "operator_termination.cure_notice_send": post("/operator/organizations/{org}/cure-notices", "operator"),
    "operator_termination.cure_notice_cured": post("/operator/cure-notices/{cure_notice}/cured", "operator"),
    "operator_third_parties.subcontractor_edit": get("/operator/subcontractors/{subcontractor}/edit", "operator"),
    "operator_third_parties.subcontractor_delete": post("/operator/subcontractors/{subcontractor}/delete", "operator"),
    "operator.organization_mfa_policy": post("/operator/organizations/{org}/two-factor-policy", "operator"),
    "operator.user_mfa_reset": get("/operator/users/{admin}/two-factor", "operator"),
    "operator_billing.invoice_detail": get("/operator/invoices/{invoice}", "operator"),
    "operator_billing.credit_note_new": get("/operator/invoices/{invoice}/credit-notes/new", "operator"),
    "operator_billing.credit_note_detail": get("/operator/credit-notes/{credit_note}", "operator"),
    "operator_organizations.contract_renew": get("/operator/organizations/{org}/contract/renew", "operator"),
    "operator.inbox_item": get("/operator/inbox/{inbox_item}", "operator"),
    "operator.inbox_handle": post("/operator/inbox/{inbox_item}/handle", "operator"),
    "operator_billing.invoice_paid": post("/operator/invoices/{invoice}/paid", "operator"),
    "operator_billing.invoice_suspend": post("/operator/invoices/{invoice}/suspend", "operator"),
    "operator_billing.invoice_payment": post("/operator/invoices/{invoice}/payments", "operator"),
    "operator_billing.invoice_resume": post("/operator/invoices/{invoice}/resume", "operator"),
    "operator_billing.payment_detail": get("/operator/payments/{payment}", "operator"),
    "operator_billing.payment_assign": post("/operator/payments/{payment}/assign", "operator"),
    "operator_notices.notice_detail": get("/operator/notices/{notice}", "operator"),
    "operator_notices.notice_update": post("/operator/notices/{notice}/updates", "operator"),
    "operator_notices.notice_edit": get("/operator/notices/{notice}/edit", "operator"),
    "operator_notices.notice_withdraw": post("/operator/notices/{notice}/withdraw", "operator"),
    "org_billing.invoice_detail": get("/org/invoices/{invoice}", "admin"),
    "org_billing.credit_note_detail": get("/org/credit-notes/{credit_note}", "admin"),
    "org_notices.notice_detail": get("/org/notices/{notice}", "admin", "manager"),
    "applications.show": get("/operator/applications/{application}", "operator"),
    "applications.approve": post("/operator/applications/{application}/approve", "operator"),
    "applications.reject": post("/operator/applications/{application}/reject", "operator"),
    "applications.screening": post("/operator/applications/{application}/screening", "operator"),
    # --- mail ---
    "mail.message": get("/mail/{outbox}", "admin", "operator"),
    "mail.retry": post("/mail/{outbox}/retry", "operator"),
    "mail.lift_suppression": post("/mail/suppressions/{suppression}/lift", "operator"),
    # --- courses (the organization's own course) and deliveries ---
    "courses.show": get("/courses/{course}", "admin", "operator"),
    "courses.edit": get("/courses/{course}/edit", "admin"),
    "courses.upload_image": post("/courses/{course}/images", "admin"),
    "courses.lesson": get("/courses/{course}/lessons/{lesson}", "admin"),
    "courses.delete_lesson": post("/courses/{course}/lessons/{lesson}/delete", "admin"),
    "courses.next_edition": post("/courses/{course}/next-edition", "admin"),
    "courses.question": get("/courses/{course}/questions/{question}", "admin"),
    "courses.delete_question": post("/courses/{course}/questions/{question}/delete", "admin"),
    "training.show": get("/org/training/{delivery}", "admin", "manager"),
    "training.items": get("/org/training/{delivery}/items", "admin", "manager"),
    "training.export": get("/org/training/{delivery}/export.csv", "admin", "manager"),
    "training.remind": post("/org/training/{delivery}/remind", "admin"),
    # {trainee} is a learner of {delivery} who has not passed it.
    "training.remind_one": post("/org/training/{delivery}/remind/{trainee}", "admin"),
    "training.close": post("/org/training/{delivery}/close", "admin"),
    "training.course_results": get("/org/training/courses/{course}", "admin", "manager"),
    # Certificates: {passed_delivery} was passed by the learner and the peer (the manager's department).
    "training.certificates_list": get("/org/training/{passed_delivery}/certificates", "admin", "manager"),
    "training.certificate_pdf": get("/org/training/assignments/{assignment_passed}/certificate.pdf", "admin",
                                    "manager"),
    "training.certificates_zip": get("/org/training/{passed_delivery}/certificates.zip", "admin"),
    "training_links.image": get("/training/images/{image}", "admin", "learner"),
    # --- the learner's side: {assignment} is in progress with {attempt}; {attempt_done} failed ---
    "quizzes.assignment": get("/me/training/{assignment}", "learner"),
    "quizzes.certificate": get("/me/training/{assignment_passed}/certificate", "learner"),
    "quizzes.certificate_pdf": get("/me/training/{assignment_passed}/certificate.pdf", "learner"),
    "quizzes.lesson": get("/me/training/{assignment}/lessons/{lesson}", "learner"),
    "quizzes.start": post("/me/training/{assignment}/start", "learner"),
    "quizzes.question": get("/me/training/attempts/{attempt}/1", "learner"),
    "quizzes.answer": post("/me/training/attempts/{attempt}/answer", "learner"),
    "quizzes.review": get("/me/training/attempts/{attempt}/review", "learner"),
    "quizzes.finish": post("/me/training/attempts/{attempt}/finish", "learner"),
    "quizzes.result": get("/me/training/attempts/{attempt_done}/result", "learner"),
    "training_links.landing": get("/t/{link}", "learner"),
    "training_links.enter": post("/t/{link}", "learner"),
    # --- inspections (#7): the organization's own item and edition ---
    "inspection_items.edit": get("/inspections/items/{item}", "admin"),
    "inspection_items.edition": get("/inspections/editions/{edition}", "admin", "operator"),
    "inspection_items.edit_edition": get("/inspections/editions/{edition}/edit", "admin"),
    # --- inspection rounds: {open_round} is open for the learner and the peer, {sheet} is the learner's ---
    "inspections.show": get("/org/inspections/{open_round}", "admin", "manager"),
    "inspections.remind": post("/org/inspections/{open_round}/remind", "admin"),
    "inspections.close": post("/org/inspections/{open_round}/close", "admin"),
    "inspection_sheets.round_sheets": get("/me/inspections/rounds/{open_round}", "learner"),
    "inspection_sheets.sheet": get("/me/inspections/{sheet}", "learner"),
    "inspection_sheets.save": post("/me/inspections/{sheet}", "learner"),
    # Another organization's item in one's own sheet is "not an item of this round": 422 with that message
    # (nothing written, checked like every refusal); another's sheet is 404.
    "inspection_sheets.answer": post("/me/inspections/{sheet}/items/{item}", "learner", refused=(403, 404, 422)),
    "inspection_links.landing": get("/i/{inspection_link}", "learner"),
    "inspection_links.enter": post("/i/{inspection_link}", "learner"),
    # --- inspection results: {inspection_round} closed, the learner's いいえ {no_answer} without an action, and
    # a second いいえ whose {action} the manager owns ---
    "inspection_results.round_view": get("/org/inspections/results/rounds/{inspection_round}", "admin", "manager"),
    "inspection_results.no_answers": get("/org/inspections/results/rounds/{inspection_round}/no", "admin", "manager"),
    "inspection_results.export_answers": get("/org/inspections/results/rounds/{inspection_round}/answers.csv",
                                             "admin", "manager"),
    "inspection_results.new_action": get("/org/inspections/actions/new/{no_answer}", "admin"),
    "inspection_results.edit_action": get("/org/inspections/actions/{action}", "admin", "manager"),
}

# Routes with an id-like parameter that is not an organization's object, and why.
NOT_OBJECT_ROUTES: dict[str, str] = {
    "main.set_language": "code is a language code",
    "auth.org_login": "code is the organization's public sign-in address",
    "auth.request_sign_in_link": "code is the organization's public sign-in address",
    "auth.reset_password": "capability token (hashed, one-time, expiring): tests/test_auth.py",
    "auth.sign_in_link": "capability token (hashed, one-time, expiring): tests/test_learners_sign_in.py",
    "invitations.accept": "capability token (hashed, one-time, expiring): back-office tests",
    "registration.confirm": "capability token of an application, before any organization exists",
    "registration.resend": "capability token of an application, before any organization exists",
    "training_links.verify": "public certificate verification: anyone holding the code may check it",
    "contact.confirm": "capability token of a contact-form message, before any ticket exists: tests/test_contact.py",
}

# Every object kind a template may name; all but the global ones are built once per organization.
KEYS = {
    "org", "admin", "subject", "department", "batch", "spare_batch", "ticket", "attachment", "outbox", "invoice",
    "payment", "credit_note", "notice", "inbox_item",
    "course", "lesson", "question", "image", "delivery", "passed_delivery", "assignment", "assignment_passed",
    "attempt", "attempt_done", "link", "item", "edition", "third_party", "inspection_round", "no_answer", "action",
    "open_round", "sheet", "inspection_link", "trainee", "cure_notice",
    # not owned by an organization (staff objects): the same for A and B
    "canned", "desk_break", "application", "suppression", "subcontractor",
}
GLOBAL = {"canned", "desk_break", "application", "suppression", "subcontractor"}  # one set per staff role (deletions)
# Objects that belong to one learner: the learner also tries another learner's of the same organization.
LEARNER_OWNED = {"ticket", "attachment", "assignment", "assignment_passed", "attempt", "attempt_done", "link",
                 "sheet", "inspection_link"}

ID_NAMES = ("token", "code")


def _id_like(rule) -> bool:
    return any(
        isinstance(converter, IntegerConverter) or name in ID_NAMES or name.endswith(("_token", "_code"))
        for name, converter in rule._converters.items()
    )


def test_every_id_route_has_an_entry(app):
    with_ids = {rule.endpoint for rule in app.url_map.iter_rules() if _id_like(rule)}
    missing = with_ids - set(OBJECT_ROUTES) - set(NOT_OBJECT_ROUTES)
    assert not missing, f"add these routes to OBJECT_ROUTES in tests/test_object_access.py: {sorted(missing)}"
    stale = (set(OBJECT_ROUTES) | set(NOT_OBJECT_ROUTES)) - with_ids
    assert not stale, f"these entries name routes without an id (or gone): {sorted(stale)}"
    assert not set(OBJECT_ROUTES) & set(NOT_OBJECT_ROUTES)
    for endpoint, probe in OBJECT_ROUTES.items():
        rules = [r for r in app.url_map.iter_rules(endpoint) if probe.method in r.methods]
        assert rules, f"{endpoint} does not accept {probe.method}"
        named = set(probe.template.replace("}", "{").split("{")[1::2])
        assert named <= KEYS, f"{endpoint}: unknown placeholders {named - KEYS}"
        assert set(probe.roles) <= set(ROLES), endpoint
        # Each id parameter of the route's rule is given by a placeholder (a new id parameter needs an entry).
        id_params = {n for r in rules for n, c in r._converters.items() if isinstance(c, IntegerConverter)}
        assert len(named) >= len(id_params - {"number"}), f"{endpoint}: a placeholder per id parameter"


# --- the world: the same objects for organization A and organization B -----------------------------------


def _org_objects(app, org, people, make_ticket) -> dict:
    """The objects of one organization, built through the services (or the conftest fixtures)."""
    from werkzeug.datastructures import FileStorage

    from portal.blueprints.inspections.items import services as inspection_services
    from portal.blueprints.inspections.results import services as results_services
    from portal.blueprints.learners import services as learner_services
    from portal.blueprints.training.courses import services as course_services
    from portal.models import (
        Contract,
        CreditNote,
        CureNotice,
        ImportBatch,
        InboxItem,
        InspectionItem,
        Invoice,
        Lesson,
        Notice,
        NoticeTarget,
        Organization,
        OutboxMessage,
        Payment,
        ThirdParty,
        User,
    )
    from tests import inspection_helpers as inspection_rounds
    from tests.inspection_results_helpers import launch, make_round, submit
    from tests.training_helpers import add_course, assignment_of, deliver, link_for, take

    learner, peer = people["learner"], people["peer"]
    objects: dict = {"org": org.id, "admin": people["admin"].id}
    peer_objects: dict = {}
    # Tickets opened by each learner (the organization lets learners ask).
    for who, into in ((learner, objects), (peer, peer_objects)):
        ticket = make_ticket(who, subject="質問です", files=[("画面.pdf", "application/pdf", PDF_BYTES)])
        into["ticket"], into["attachment"] = ticket.id, ticket.attachment_ids[0]

    with app.app_context(), tenant_scope(org.id):
        admin = db.session.get(User, people["admin"].id)
        department = learner_services.create_department("営業部", None)
        learner_services.set_department_managers(department, [people["manager"].id])
        subject = learner_services.create_learner(
            {"login_id": "S001", "name": "対象 受講者", "email": f"subject{org.id}@example.com",
             "department_id": department.id}, by=admin,
        )
        for user_id in (learner.id, peer.id):
            db.session.get(User, user_id).department_id = department.id
        batch, spare_batch = (
            ImportBatch(organization_id=org.id, created_by_id=admin.id,
                        rows={"columns": ["login_id"], "rows": [], "errors": []},
                        expires_at=utcnow() + timedelta(hours=1))
            for _ in range(2)
        )
        outbox = OutboxMessage(idempotency_key=f"objects:{org.id}", template="password_reset",
                               to_address=f"a{org.id}@example.com", subject="件名", body_text="本文",
                               organization_id=org.id, status="dead")
        db.session.add(Contract(organization_id=org.id, plan_name="スタンダード", starts_on=date(2026, 4, 1),
                                ends_on=date(2027, 3, 31), seat_limit=100, annual_fee=300_000,
                                overage_unit_price=3_000))
        invoice = Invoice(
            organization_id=org.id, number=f"INV-202604-{org.id:06d}", recipient_name=org.name,
            plan_name="スタンダード", period_start=date(2026, 4, 1), period_end=date(2027, 3, 31),
            base_amount=300_000, seat_limit=100, overage_seats=0, overage_unit_price=3_000, overage_amount=0,
            subtotal=300_000, tax_rate=10, tax_amount=30_000, total=330_000, issuer_name="株式会社ワークストラスト",
            registration_number="T1234567890123", bank_account="テスト銀行", issued_on=date(2026, 4, 1),
            due_on=date(2026, 4, 30),
        )
        notice = Notice(kind="general", title=f"{org.name} だけへのお知らせ", body="本文", all_organizations=False)
        party = ThirdParty(organization_id=org.id, name="協力会社", approved_on=date(2026, 4, 1))
        item = InspectionItem(organization_id=org.id, category="入退管理", text="自社の項目", why="理由")
        cure_notice = CureNotice(organization_id=org.id, breach="未払い", deadline_on=today_in_tokyo())
        db.session.add_all([batch, spare_batch, outbox, invoice, notice, party, item, cure_notice])
        db.session.flush()
        inbox_item = InboxItem(kind="invoice_overdue", key=f"invoice_overdue:{invoice.id}", subject_type="Invoice",
                               subject_id=invoice.id, organization_id=org.id, summary=invoice.number)
        db.session.add(inbox_item)
        db.session.flush()
        db.session.add(NoticeTarget(notice_id=notice.id, organization_id=org.id))
        payment = Payment(organization_id=org.id, invoice_id=invoice.id, received_on=date(2026, 4, 20), amount=1_000,
                          payer_name="カ)テスト")
        db.session.add(payment)
        credit_note = CreditNote(
            organization_id=org.id, invoice_id=invoice.id, number=f"CN-202612-{org.id:06d}",
            recipient_name=org.name, reason="点検による停止(第20条第1項)", amount=1_000, tax_rate=10, tax_amount=100,
            total=1_100, issuer_name=invoice.issuer_name, registration_number=invoice.registration_number,
            issued_on=date(2026, 12, 1),
        )
        db.session.add(credit_note)
        db.session.flush()
        edition = inspection_services.save_edition(None, title="自社版", kind="custom", description="",
                                                   drawn_count=0, item_ids=[item.id], organization_id=org.id)
        db.session.get(Organization, org.id).learners_may_ask = True
        second_item = InspectionItem(organization_id=org.id, category="廃棄", text="二つ目の項目", why="理由")
        db.session.add(second_item)
        db.session.flush()
        inspection_round = make_round(org.id, edition.id, date(2026, 10, 1), [item.id, second_item.id])
        response = launch(inspection_round, [(learner.id, department.id)])[learner.id]
        no_answer, other_no = submit(response, {item.id: ("no", "鍵をかけ忘れた"), second_item.id: ("no", "未対応")})
        action = results_services.open_action(
            other_no, results_services.ActionInput(owner_id=people["manager"].id,
                                                   due_on=today_in_tokyo()), by=admin,
        )

        course = add_course(organization_id=org.id, questions=3)
        lesson = Lesson(course_id=course.id, position=1, title="レッスン", body_md="# 見出し")
        db.session.add(lesson)
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
        image = course_services.save_image(course, FileStorage(io.BytesIO(png), filename="図.png"))
        question = course_services.bank_questions(course)[0]
        delivery = deliver(admin, course.id, learner_ids=[learner.id, peer.id])
        passed_delivery = deliver(admin, course.id, learner_ids=[learner.id, peer.id])
        objects.update(
            subject=subject.id, department=department.id, batch=batch.id, spare_batch=spare_batch.id,
            outbox=outbox.id, invoice=invoice.id, payment=payment.id, credit_note=credit_note.id,
            inbox_item=inbox_item.id,
            notice=notice.id, third_party=party.id, item=item.id, edition=edition.id, course=course.id,
            inspection_round=inspection_round.id, no_answer=no_answer.id, action=action.id,
            lesson=lesson.id, question=question.id, image=image.id, delivery=delivery.id, trainee=learner.id,
            passed_delivery=passed_delivery.id, cure_notice=cure_notice.id,
        )
        open_round = inspection_rounds.open_round(admin, edition.id, person_ids=[learner.id, peer.id])
        objects["open_round"] = open_round.id
        for who, into in ((learner, objects), (peer, peer_objects)):
            into["sheet"] = inspection_rounds.response_of(open_round.id, who.id).id
            into["inspection_link"] = inspection_rounds.link_for(open_round.id, who.id)
            assignment = assignment_of(delivery.id, who.id)
            into["attempt_done"] = take(assignment.id, right=0).id
            into["attempt"] = take(assignment.id, finish=False).id
            into["assignment"] = assignment.id
            passed = assignment_of(passed_delivery.id, who.id)
            take(passed.id)
            into["assignment_passed"] = passed.id
            into["link"] = link_for(delivery.id, who.id)
        db.session.commit()
    return {"own": objects, "peer": peer_objects}


def _global_objects(app, n: int = 0) -> dict:
    from portal.models import CannedReply, DeskBreak, MailSuppression, Subcontractor
    from tests.application_helpers import make_application

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        canned = CannedReply(title="定型文", body="本文")
        desk_break = DeskBreak(name="夏季休業", first_day=date(2026, 8, 13), last_day=date(2026, 8, 15))
        suppression = MailSuppression(address=f"stopped{n}@example.com")
        subcontractor = Subcontractor(name="株式会社クラウド基盤", purpose="サーバーの運用", location="東京都・日本")
        db.session.add_all([canned, desk_break, suppression, subcontractor])
        application = make_application(status="confirmed")
        db.session.flush()
        ids = {"canned": canned.id, "desk_break": desk_break.id, "suppression": suppression.id,
               "application": application.id, "subcontractor": subcontractor.id}
        db.session.commit()
        return ids


@pytest.fixture(scope="class")
def built_universe(app):
    """Organizations A and B with their objects and A's people signed in, built once for the class: each
    test starts from exactly these rows (tests/database_state.py puts them back after a test that wrote)."""
    make_org, make_user, make_ticket, login_as = org_maker(app), user_maker(app), ticket_maker(app), signer(app)
    staff = {"operator": make_user(Role.OPERATOR), "support": make_user(Role.SUPPORT)}
    orgs = {}
    for key in ("a", "b"):
        org = make_org(f"株式会社{key.upper()}社")
        people = {
            "admin": make_user(Role.ORG_ADMIN, org),
            "manager": make_user(Role.MANAGER, org),
            "learner": make_user(Role.LEARNER, org, login_id="L001"),
            "peer": make_user(Role.LEARNER, org, login_id="L002"),
        }
        orgs[key] = {"org": org, "people": people, **_org_objects(app, org, people, make_ticket)}
    shared = _global_objects(app)
    for side in orgs.values():
        side["own"].update(shared)
        side["peer"] = {**side["own"], **side["peer"]}
    # Staff objects are not an organization's: each staff role gets its own, so one role deleting its
    # canned reply leaves the other's to try.
    orgs["a"]["staff_own"] = {role: {**orgs["a"]["own"], **_global_objects(app, n)} for n, role in enumerate(STAFF, 1)}
    clients = {role: login_as(orgs["a"]["people"][role]) for role in ORG_ROLES}
    clients.update({role: login_as(user) for role, user in staff.items()})
    with database_state.shared_rows(app):
        yield {"a": orgs["a"], "b": orgs["b"], "clients": clients}


@pytest.fixture
def universe(built_universe):
    """The class's universe, with clients of their own (the same sessions)."""
    clients = {role: client_like(c) for role, c in built_universe["clients"].items()}
    return {**built_universe, "clients": clients}


# --- probing -----------------------------------------------------------------------------------------------


def _placeholders(template: str) -> list[str]:
    return template.replace("}", "{").split("{")[1::2]


def _own(universe, role: str) -> dict:
    return universe["a"]["staff_own"][role] if role in STAFF else universe["a"]["own"]


def _variants(probe: Probe, role: str, universe) -> tuple[dict, list[tuple[str, dict]]]:
    """The own objects and the (label, objects) of every refused variant for ``role``."""
    own, other, peer = _own(universe, role), universe["b"]["own"], universe["a"]["peer"]
    names = [n for n in _placeholders(probe.template) if n not in GLOBAL]
    refused: list[tuple[str, dict]] = []
    if role not in STAFF and names:
        refused.append(("other organization", other))
    if len(names) > 1 or role not in STAFF:
        for name in names:
            refused.append((f"other organization's {name}", {**own, name: other[name]}))
    if role == "learner":
        for name in names:
            if name in LEARNER_OWNED:
                refused.append((f"another learner's {name}", {**own, name: peer[name]}))
    # The same URL may come out of two variants (one placeholder): try it once.
    seen, unique = set(), []
    for label, objects in refused:
        url = probe.template.format(**objects)
        if url not in seen and url != probe.template.format(**own):
            seen.add(url)
            unique.append((label, objects))
    return own, unique


def _tables_digest(app) -> dict[str, str]:
    """A digest per table, every table but the audit log (refusals are audited on purpose)."""
    tables = [t for t in db.metadata.sorted_tables if t.name != "audit_events"]
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # One round trip: the server hashes each table.
            sql = " UNION ALL ".join(
                f"SELECT '{t.name}', md5(coalesce(string_agg(r::text, ',' ORDER BY r::text), '')) "  # noqa: S608
                f'FROM "{t.name}" r'  # table names from our metadata
                for t in tables
            )
            out = dict(db.session.execute(text(sql)).all())
        else:
            with unscoped("the digest covers every organization's rows"):
                out = {
                    t.name: hashlib.sha256(repr(sorted(map(repr, db.session.execute(select(t)).all()))).encode())
                    .hexdigest()
                    for t in tables
                }
        db.session.remove()
        return out


def _cross_organization_references(app) -> list[str]:
    """Rows of one organization that point at a row of another (a foreign key between two tenant tables)."""
    found = []
    with app.app_context(), unscoped("the check compares rows of every organization"):
        for table in db.metadata.sorted_tables:
            if "organization_id" not in table.c:
                continue
            for fk in table.foreign_keys:
                target = fk.column.table
                if target is table or target.name == "organizations" or "organization_id" not in target.c:
                    continue
                mismatched = (
                    select(func.count())
                    .select_from(table.join(target, fk.parent == fk.column))
                    .where(table.c.organization_id.is_not(None), target.c.organization_id.is_not(None),
                           table.c.organization_id != target.c.organization_id)
                )
                if db.session.scalar(mismatched):
                    found.append(f"{table.name}.{fk.parent.name} -> {target.name}")
        db.session.remove()
    return found


def _send(client, method: str, url: str):
    if method == "GET":
        return client.get(url)
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    return client.open(url, method=method, data={"csrf_token": token})


def _allowed(response) -> bool:
    if response.status_code >= 500 or response.status_code in (403, 404):
        return False
    return not (response.status_code in (301, 302, 303) and "/login" in response.headers.get("Location", ""))


class TestOrganizationObjects:
    """The probes of both organizations' objects (the universe is built once for the two tests)."""

    def test_objects_of_another_organization_or_learner_are_refused(self, app, universe):
        """Other organization / other learner: 403 or 404 only, and a refused POST writes nothing."""
        clients, failures, tried = universe["clients"], [], 0
        for endpoint, probe in OBJECT_ROUTES.items():
            for role in probe.roles:
                _own, refused = _variants(probe, role, universe)
                for label, objects in refused:
                    url = probe.template.format(**objects)
                    before = _tables_digest(app) if probe.method != "GET" else None
                    response = _send(clients[role], probe.method, url)
                    tried += 1
                    if response.status_code not in probe.refused:
                        failures.append(
                            f"{endpoint} as {role}, {label}: {probe.method} {url} -> {response.status_code}"
                        )
                    if before is not None:
                        after = _tables_digest(app)
                        changed = sorted(t for t in before if before[t] != after[t])
                        if changed:
                            failures.append(f"{endpoint} as {role}, {label}: {url} changed {changed}")
        assert not failures, "\n".join(failures)
        assert tried > 100
        assert _cross_organization_references(app) == []


    def test_own_objects_are_allowed(self, app, universe):
        """The same routes with the caller's own organization's (and own learner's) objects work; POSTs last
        (learners, then managers, admins and staff), so a deletion cannot hide another route's object."""
        clients, failures = universe["clients"], []
        probes = [(endpoint, probe, role) for endpoint, probe in OBJECT_ROUTES.items() for role in probe.roles]
        probes.sort(key=lambda p: (p[1].method != "GET", ROLES.index(p[2])))
        for endpoint, probe, role in probes:
            url = probe.template.format(**_own(universe, role))
            response = _send(clients[role], probe.method, url)
            ok = response.status_code == probe.own if probe.own is not None else _allowed(response)
            if not ok:
                failures.append(f"{endpoint} as {role}: {probe.method} {url} -> {response.status_code}")
        assert not failures, "\n".join(failures)
        assert _cross_organization_references(app) == []


def test_a_cross_organization_reference_is_seen(app, make_org, make_user, run_in_app):
    """The reference check is not blind: a learner of A in B's department is found."""
    from portal.models import Department

    org_a, org_b = make_org(), make_org()
    department_b = run_in_app(lambda: _add(Department(organization_id=org_b.id, name="部", depth=1)))
    make_user(Role.LEARNER, org_a, department_id=department_b)
    assert _cross_organization_references(app) == ["users.department_id -> departments"]


def _add(row):
    db.session.add(row)
    db.session.flush()
    return row.id


def test_snapshot_sees_a_change(app):
    """The write check is not blind: a change in any table changes its digest."""
    _global_objects(app)
    before = _tables_digest(app)
    with app.app_context():
        db.session.execute(text("UPDATE canned_replies SET body = 'changed'"))
        db.session.commit()
    after = _tables_digest(app)
    assert [t for t in before if before[t] != after[t]] == ["canned_replies"]
