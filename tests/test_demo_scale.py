"""``flask demo --scale N``: data at scale, bulk-inserted, consistent and usable by the app afterwards."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint, func, inspect, select

from portal import item_counts
from portal.demo import scale as demo_scale
from portal.extensions import db
from portal.models import (
    Assignment,
    AssignmentStatus,
    Attempt,
    AttemptAnswer,
    Delivery,
    Department,
    InspectionAnswer,
    InspectionResponse,
    InspectionRound,
    InspectionTally,
    Organization,
    Role,
    Ticket,
    User,
)
from portal.tenancy import unscoped
from tests.conftest import login


def test_demo_scale_generates_organizations_with_a_year_of_training(app, monkeypatch):
    monkeypatch.setattr(demo_scale, "LEARNERS_PER_ORG", 30)
    result = app.test_cli_runner().invoke(args=["demo", "--scale", "3"])
    assert result.exit_code == 0, result.output
    assert "12 months of deliveries, assignments, attempts and answers:" in result.output
    assert "12 months of inspection rounds, answers and tallies:" in result.output

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        orgs = db.session.scalars(select(Organization).where(Organization.code.like("scale%"))
                                  .order_by(Organization.id)).all()
        assert [o.code for o in orgs] == ["scale001", "scale002", "scale003"]
        sizes = [db.session.scalar(select(func.count(User.id)).where(User.organization_id == o.id,
                                                                     User.role == Role.LEARNER)) for o in orgs]
        assert sizes[0] == max(sizes) and sum(sizes) >= 60
        learners = sum(sizes)
        scale_org_ids = [o.id for o in orgs]
        largest_id = scale_org_ids[0]
        deliveries = db.session.scalar(select(func.count(Delivery.id))
                                       .where(Delivery.organization_id.in_(scale_org_ids)))
        assert deliveries == 3 * demo_scale.MONTHS
        # The demo company's own open delivery (flask demo) is not part of the scale data.
        assert db.session.scalar(select(func.count(Assignment.id))
                                 .where(Assignment.organization_id.in_(scale_org_ids))) == learners * demo_scale.MONTHS
        attempts = db.session.scalar(select(func.count(Attempt.id)))
        assert 0.4 * learners * demo_scale.MONTHS < attempts < learners * demo_scale.MONTHS
        assert db.session.scalar(select(func.count(AttemptAnswer.id))) == attempts * 10
        # Every assignment's status agrees with its attempt.
        mismatched = db.session.scalar(
            select(func.count(Assignment.id)).join(Attempt, Attempt.assignment_id == Assignment.id)
            .where(Attempt.passed.is_(True), Assignment.status != AssignmentStatus.PASSED)
        )
        assert mismatched == 0
        assert db.session.scalar(select(func.count(Department.id))
                                 .where(Department.organization_id.in_(scale_org_ids))) >= 6
        assert db.session.scalar(select(func.count(Ticket.id))) >= 3
        # セキュレジ: twelve closed rounds per organization, and the tallies agree with the submitted answers.
        rounds = db.session.scalar(select(func.count(InspectionRound.id))
                                   .where(InspectionRound.organization_id.in_(scale_org_ids)))
        assert rounds == 3 * demo_scale.MONTHS
        counted = db.session.scalar(select(func.sum(InspectionTally.yes_count + InspectionTally.no_count
                                                    + InspectionTally.na_count))
                                    .where(InspectionTally.organization_id.in_(scale_org_ids)))
        submitted = db.session.scalar(
            select(func.count(InspectionAnswer.id)).join(InspectionResponse)
            .where(InspectionResponse.status == "submitted", InspectionAnswer.organization_id.in_(scale_org_ids))
        )
        assert counted == submitted > learners
        # Item analysis' counts agree with the attempts and their answers, delivery by delivery.
        for delivery_id in db.session.scalars(select(Delivery.id).where(Delivery.organization_id == largest_id)):
            ids = select(Delivery.id).where(Delivery.id == delivery_id)
            assert item_counts.from_counts(ids) == item_counts.from_answers(ids, select(User.id))
        # Ids were given by the generator: the database hands out the next ones without a clash.
        db.session.add(User(role=Role.LEARNER, organization_id=largest_id, email="after-scale@example.com", name="x"))
        db.session.add(Organization(name="その後の会社", code="after-scale"))
        db.session.commit()

    # The largest organization's administrator signs in with the demo password and reads the results.
    client = app.test_client()
    from portal.demo import DEMO_PASSWORD

    assert login(client, "admin@scale001.example.com", DEMO_PASSWORD).status_code == 303
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        latest = db.session.scalar(select(func.max(Delivery.id)).where(Delivery.organization_id == largest_id))
    page = client.get(f"/org/training/{latest}")
    assert page.status_code == 200

    # The assignments carry real personal links: a learner who has not started opens the landing page.
    from portal.blueprints.training.deliveries.services import personal_link_secret

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        delivery = db.session.get(Delivery, latest)
        learner_id = db.session.scalar(select(Assignment.learner_id).where(
            Assignment.delivery_id == latest, Assignment.status == AssignmentStatus.NOT_STARTED).limit(1))
        secret = personal_link_secret(delivery, learner_id)
    assert app.test_client().get(f"/t/{secret}").status_code == 200

    # On PostgreSQL the bulk-loaded tables' foreign keys were dropped for the load: they are all back.
    with app.app_context():
        inspector = inspect(db.engine)
        for table in ("assignments", "attempts", "attempt_answers", "inspection_responses", "inspection_answers",
                      "inspection_tallies"):
            declared = {key.name for key in db.metadata.tables[table].foreign_key_constraints}
            assert {key["name"] for key in inspector.get_foreign_keys(table)} == declared, table
        # The answers' indexes and unique constraints were dropped for the load as well, and built again.
        for table in ("attempt_answers", "inspection_answers"):
            model = db.metadata.tables[table]
            assert {i["name"] for i in inspector.get_indexes(table)} >= {i.name for i in model.indexes}, table
            uniques = {c.name for c in model.constraints if isinstance(c, UniqueConstraint)}
            assert {c["name"] for c in inspector.get_unique_constraints(table)} == uniques, table

    again = app.test_cli_runner().invoke(args=["demo", "--scale", "1"])
    assert again.exit_code != 0 and "exist already" in again.output
