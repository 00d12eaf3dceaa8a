"""Deleting a learner or an organization leaves no name or email anywhere but the deletion record.

The search reads every column of every table on the metadata as text, so a new table that copies a
name or an address is caught without changing this test.
"""

from __future__ import annotations

from sqlalchemy import select

from portal.blueprints.auth import services as auth_services
from portal.blueprints.learners import services as learner_services
from portal.extensions import db
from portal.models import Organization, User
from portal.tenancy import tenant_scope, unscoped
from portal.termination import delete_organization_data


def _places_holding(needles: list[str], allowed_tables: frozenset[str] = frozenset()) -> list[str]:
    found = []
    with unscoped("the test reads and writes rows directly"):
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).mappings():
                for column, value in row.items():
                    text = "" if value is None else str(value)
                    for needle in needles:
                        if needle.lower() in text.lower() and table.name not in allowed_tables:
                            found.append(f"{table.name}.{column} holds {needle!r}")
    return found


def test_deleting_a_learner_leaves_no_name_or_email(app, world):
    name, email = "個人 情報子", "kojin.joho@example.com"
    with app.app_context(), tenant_scope(world["org_a"].id):
        admin = db.session.get(User, world["admin_a"].id)
        learner = learner_services.create_learner(
            {"login_id": "P001", "name": name, "email": email, "department_id": None, "employment_type": None,
             "initial_password": "a long initial password 2026"},
            by=admin,
        )
        learner_services.send_invitation(learner, admin.organization, by=admin)
        db.session.commit()
        auth_services.request_password_reset(email)
        learner_services.update_learner(
            learner, {"login_id": "P001", "name": name + "(改)", "email": email, "department_id": None,
                      "employment_type": None}, by=admin,
        )
        db.session.commit()
        assert _places_holding([name, email]), "the setup wrote nothing to find: the test would prove nothing"

        learner = db.session.get(User, learner.id)
        learner_services.delete_learner(learner)
        db.session.commit()
        assert _places_holding([name, email]) == []


def test_deleting_an_organization_leaves_only_the_deletion_record_and_the_invoices(app, world, make_user):
    org_id = world["org_a"].id
    people = [world["admin_a"], world["manager_a"], world["learner_a"]]
    needles = [world["org_a"].name] + [p.name for p in people] + [p.email for p in people if p.email]
    with app.app_context(), tenant_scope(org_id):
        admin = db.session.get(User, world["admin_a"].id)
        learner_services.send_invitation(db.session.get(User, world["learner_a"].id), admin.organization, by=admin)
        auth_services.request_password_reset(admin.email)
        db.session.commit()
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        assert _places_holding(needles)
        operator = db.session.get(User, world["operator"].id)
        delete_organization_data(db.session.get(Organization, org_id), "all", operator, reason="test")
        db.session.commit()
        people_needles = needles[1:]
        assert _places_holding(people_needles) == []
        # The organization's name stays where the operator must keep it: the deletion record, and the issued
        # invoices (tax records, 7 years) with the organization's row they belong to.
        kept = {place.split(".")[0] for place in _places_holding([world["org_a"].name])}
        assert kept == {"deletion_records", "invoices", "organizations"}
