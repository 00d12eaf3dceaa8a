"""The command-line tools: create-operator and demo, each safe to run twice."""

import re

from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Organization, Role, User
from portal.tenancy import unscoped
from tests.conftest import csrf_token_from, login
from tests.test_learner_sign_in import org_login


def test_create_operator_from_stdin_twice(app, client):
    runner = app.test_cli_runner()
    args = ["create-operator", "ops@example.com", "--name", "運営 次郎", "--password-stdin"]
    result = runner.invoke(args=args, input="a long operator passphrase 2026\n")
    assert result.exit_code == 0, result.output
    assert "Created" in result.output
    result = runner.invoke(args=args, input="another long operator passphrase\n")
    assert result.exit_code == 0 and "Updated" in result.output
    assert login(client, "ops@example.com", "another long operator passphrase").status_code == 303
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(func.count(User.id)).where(User.role == Role.OPERATOR)) == 1


def test_create_operator_refuses_a_weak_password(app):
    result = app.test_cli_runner().invoke(
        args=["create-operator", "ops@example.com", "--name", "運営", "--password-stdin"], input="password123\n"
    )
    assert result.exit_code != 0
    assert "12文字以上" in result.output


def test_create_operator_does_not_take_over_another_account(app, world):
    result = app.test_cli_runner().invoke(
        args=["create-operator", world["admin_a"].email, "--name", "x", "--password-stdin"],
        input="a long operator passphrase 2026\n",
    )
    assert result.exit_code != 0


def test_demo_seeds_once_and_prints_every_login(app, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    second = runner.invoke(args=["demo"])
    assert first.exit_code == 0 and second.exit_code == 0
    assert "operator@example.com" in first.output and "learner20@demo.example.com" in first.output
    assert "/o/demo" in first.output and all(f"learner{i}\n" in first.output for i in range(21, 26))
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(func.count(Organization.id))) == 1
        counts = dict(db.session.execute(select(User.role, func.count(User.id)).group_by(User.role)).all())
    assert counts == {"operator": 1, "support": 1, "org_admin": 1, "manager": 1, "learner": 25}
    from portal.models import Contract, Department, OrganizationProfile

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(func.count(Contract.id))) == 1
        assert db.session.scalar(select(OrganizationProfile.registered_at)) is not None
        assert db.session.scalar(select(func.count(Department.id))) == 4
        assert db.session.scalar(select(func.count(User.id)).where(User.department_id.is_(None),
                                                                    User.role == Role.LEARNER)) == 0
    # セキュレジ: a year of closed rounds for the demo company, added once, tallies matching the answers.
    from tests.test_inspection_results import _tallies_match_submitted_answers

    assert "12 monthly rounds" in first.output and "0 monthly rounds" in second.output
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        org_id = db.session.scalar(select(Organization.id))
    with app.app_context():
        # The twelve months before this one, and this month's open round (no answers yet).
        assert _tallies_match_submitted_answers(org_id) == (13, True)
    skipped = runner.invoke(args=["demo", "--if-empty"])
    assert "not seeded" in skipped.output
    from portal.demo import DEMO_PASSWORD

    for email in ("operator@example.com", "support@example.com", "admin@demo.example.com",
                  "manager@demo.example.com", "learner01@demo.example.com"):
        c = app.test_client()
        assert login(c, email, DEMO_PASSWORD).status_code == 303, email
    # The learners without email sign in at the organization's URL with their lower-case learner ID.
    for login_id in ("learner21", "learner25"):
        assert org_login(app.test_client(), "demo", login_id, DEMO_PASSWORD).status_code == 303, login_id
    # A second run added no delivery, invoice or terms version.
    assert "(exists)" in second.output and "(a version exists)" in second.output
    from portal.models import Delivery, Invoice, LegalDocument

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(func.count(Delivery.id))) == 1
        assert db.session.scalar(select(func.count(Invoice.id))) == 1
        assert db.session.scalar(select(func.count(LegalDocument.id))) == 1


def _seeded(app) -> str:
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_demo_delivery_is_open_and_a_learner_without_email_starts_the_test(app):
    from datetime import timedelta

    from portal.clock import TOKYO, utcnow
    from portal.demo import DEMO_PASSWORD
    from portal.models import Assignment, Delivery, DeliveryStatus

    _seeded(app)
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        delivery = db.session.scalar(select(Delivery))
        learners = db.session.scalar(select(func.count(User.id)).where(User.role == Role.LEARNER))
        assigned = db.session.scalar(select(func.count(Assignment.id)).where(Assignment.delivery_id == delivery.id))
        assert delivery.status == DeliveryStatus.LAUNCHED and assigned == learners
        assert delivery.starts_at <= utcnow() < delivery.due_at
        due = delivery.due_at.astimezone(TOKYO)
        assert (due.date(), due.hour) == ((delivery.starts_at + timedelta(days=30)).astimezone(TOKYO).date(), 18)

    learner = app.test_client()
    assert org_login(learner, "demo", "learner21", DEMO_PASSWORD).status_code == 303
    home = BeautifulSoup(learner.get("/me/").get_data(as_text=True), "html.parser")
    link = home.find("a", string=delivery.title)
    assert link is not None, "the delivery is not on the learner's home"
    page = learner.get(link["href"]).get_data(as_text=True)
    started = learner.post(f"{link['href']}/start", data={"csrf_token": csrf_token_from(page)})
    assert started.status_code == 303
    question = learner.get(started.headers["Location"])
    html = question.get_data(as_text=True)
    assert question.status_code == 200 and "問題 1 / " in html
    form = BeautifulSoup(html, "html.parser").find("form", action=re.compile(r"/answer$"))
    answered = learner.post(form["action"], data={
        "csrf_token": csrf_token_from(html), "number": "1", "go": "next",
        "question_id": form.find("input", attrs={"name": "question_id"})["value"],
        "choice": form.find("input", attrs={"name": "choice"})["value"],
    })
    assert answered.status_code == 303 and answered.headers["Location"].endswith("/2")


def test_the_demo_issues_this_years_invoice_with_the_development_settings(app, client, monkeypatch, mailbox):
    from portal.clock import today_in_tokyo
    from portal.config import Config, DevConfig
    from portal.demo import DEMO_PASSWORD
    from portal.demo.showcase import fiscal_year
    from portal.models import Contract, Invoice

    # The development settings of `make run`, which the tests' own replace.
    for key in ("INVOICE_REGISTRATION_NUMBER", "INVOICE_BANK_ACCOUNT"):
        monkeypatch.setitem(app.config, key, getattr(DevConfig, key))
    output = _seeded(app)
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        invoice = db.session.scalar(select(Invoice))
        contract = db.session.scalar(select(Contract))
    assert invoice.number in output
    assert (contract.starts_on, contract.ends_on) == fiscal_year(today_in_tokyo())
    assert (invoice.period_start, invoice.period_end) == (contract.starts_on, contract.ends_on)
    assert invoice.issued_on == today_in_tokyo() and invoice.due_on > invoice.issued_on
    assert invoice.registration_number == "T0000000000000" and Config.INVOICE_REGISTRATION_NUMBER is None
    assert invoice.bank_account.startswith("デモ銀行 本店営業部 普通 1234567")
    assert invoice.total == contract.annual_fee + contract.annual_fee * invoice.tax_rate // 100
    (mail,) = mailbox("admin@demo.example.com")
    assert invoice.number in mail
    # The demo administrator finds it at once: the terms were accepted for him, no page comes first.
    admin = app.test_client()
    assert login(admin, "admin@demo.example.com", DEMO_PASSWORD).status_code == 303
    assert admin.get("/", follow_redirects=True).request.path == "/org/"
    page = admin.get(f"/org/invoices/{invoice.id}", follow_redirects=True)
    assert page.status_code == 200 and "デモ銀行" in page.get_data(as_text=True)


def test_without_the_issuers_settings_the_demo_issues_no_invoice(app, monkeypatch):
    from portal.models import Invoice

    monkeypatch.setitem(app.config, "INVOICE_REGISTRATION_NUMBER", None)
    output = _seeded(app)
    assert "Invoice: not issued" in output and "PORTAL_INVOICE_REGISTRATION_NUMBER" in output
    assert "Terms:" in output  # the rest of the demo is seeded all the same
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert db.session.scalar(select(func.count(Invoice.id))) == 0


def test_the_demo_publishes_the_terms_so_the_application_form_is_open(app, client):
    closed = client.get("/apply/").get_data(as_text=True)
    _seeded(app)
    page = client.get("/apply/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html != closed
    assert BeautifulSoup(html, "html.parser").find("input", attrs={"name": "accept_terms"}) is not None
    assert "2023年4月1日改定版" in html
    terms = client.get("/legal/terms").get_data(as_text=True)
    assert "第25条(本規約の改定)" in terms and "2023/04/01" in terms
