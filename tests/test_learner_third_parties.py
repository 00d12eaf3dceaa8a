"""A learner belongs to a third party only where the operator approved it (Art. 14-1)."""

from datetime import date

from sqlalchemy import select

from portal.extensions import db
from portal.models import ThirdParty, ThirdPartyMember
from tests.conftest import csrf_token_from


def _party(run_in_app, org, name, revoked=False):
    def create():
        party = ThirdParty(organization_id=org.id, name=name, approved_on=date(2026, 4, 1))
        if revoked:
            from portal.models import utcnow

            party.revoked_at = utcnow()
        db.session.add(party)
        db.session.flush()
        return party.id

    return run_in_app(create)


def _edit(admin, learner, **fields):
    url = f"/org/learners/{learner.id}/edit"
    page = admin.get(url).get_data(as_text=True)
    data = {"csrf_token": csrf_token_from(page), "login_id": learner.login_id, "name": learner.name, **fields}
    return admin.post(url, data=data)


def test_an_approved_third_party_can_be_chosen_and_shows_in_the_export(world, login_as, run_in_app):
    approved = _party(run_in_app, world["org_a"], "協力会社エー")
    admin = login_as(world["admin_a"])
    assert "協力会社エー" in admin.get(f"/org/learners/{world['learner_a'].id}/edit").get_data(as_text=True)
    assert _edit(admin, world["learner_a"], third_party_id=str(approved)).status_code == 303
    query = select(ThirdPartyMember.user_id, ThirdPartyMember.third_party_id)
    members = run_in_app(lambda: db.session.execute(query).all())
    assert members == [(world["learner_a"].id, approved)]
    export = admin.get("/org/learners/export.csv").get_data(as_text=True)
    assert "所属する第三者" in export and "協力会社エー" in export


def test_unapproved_revoked_or_foreign_third_parties_are_refused(world, login_as, run_in_app):
    revoked = _party(run_in_app, world["org_a"], "取消済み", revoked=True)
    foreign = _party(run_in_app, world["org_b"], "ビーの協力会社")
    admin = login_as(world["admin_a"])
    for party in (revoked, foreign, 999999):
        response = _edit(admin, world["learner_a"], third_party_id=str(party))
        assert response.status_code == 422
        assert "承諾されていない第三者は選べません" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalars(select(ThirdPartyMember)).all()) == []
