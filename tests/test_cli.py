"""The command-line tools: create-operator and demo, each safe to run twice."""

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Organization, Role, User
from portal.tenancy import unscoped
from tests.conftest import login


def test_create_operator_from_stdin_twice(app, client):
    runner = app.test_cli_runner()
    args = ["create-operator", "ops@example.com", "--name", "運営 次郎", "--password-stdin"]
    result = runner.invoke(args=args, input="a long operator passphrase 2026\n")
    assert result.exit_code == 0, result.output
    assert "Created" in result.output
    result = runner.invoke(args=args, input="another long operator passphrase\n")
    assert result.exit_code == 0 and "Updated" in result.output
    assert login(client, "ops@example.com", "another long operator passphrase").status_code == 303
    with app.app_context(), unscoped():
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
    with app.app_context(), unscoped():
        assert db.session.scalar(select(func.count(Organization.id))) == 1
        counts = dict(db.session.execute(select(User.role, func.count(User.id)).group_by(User.role)).all())
    assert counts == {"operator": 1, "support": 1, "org_admin": 1, "manager": 1, "learner": 20}
    from portal.models import Contract, Department, OrganizationProfile

    with app.app_context(), unscoped():
        assert db.session.scalar(select(func.count(Contract.id))) == 1
        assert db.session.scalar(select(OrganizationProfile.registered_at)) is not None
        assert db.session.scalar(select(func.count(Department.id))) == 4
        assert db.session.scalar(select(func.count(User.id)).where(User.department_id.is_(None),
                                                                    User.role == Role.LEARNER)) == 0
    # セキュレジ: a year of closed rounds for the demo company, added once, tallies matching the answers.
    from tests.test_inspection_results import _tallies_match_submitted_answers

    assert "12 monthly rounds" in first.output and "0 monthly rounds" in second.output
    with app.app_context(), unscoped():
        org_id = db.session.scalar(select(Organization.id))
    with app.app_context():
        # The twelve months before this one, and this month's open round (no answers yet).
        assert _tallies_match_submitted_answers(org_id) == (13, True)
    skipped = runner.invoke(args=["demo", "--if-empty"])
    assert "not seeded" in skipped.output
    from portal.cli import DEMO_PASSWORD

    for email in ("operator@example.com", "support@example.com", "admin@demo.example.com",
                  "manager@demo.example.com", "learner01@demo.example.com"):
        c = app.test_client()
        assert login(c, email, DEMO_PASSWORD).status_code == 303, email
