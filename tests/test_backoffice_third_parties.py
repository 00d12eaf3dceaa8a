"""Third parties (Art. 14): approved by the operator before any learner may belong to one."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, ThirdParty, ThirdPartyMember
from tests.test_backoffice_orgs import fetch, post_form

REFUSAL = "運営事務局の事前の承諾が必要です(利用規約第14条)"


def approve(login_as, world, name="株式会社エー子会社"):
    operator = login_as(world["operator"])
    detail = f"/operator/organizations/{world['org_a'].id}"
    return operator, post_form(
        operator, f"{detail}/third-parties", {"name": name, "note": "2026/11/1 書面"}, page=detail
    )


def member_count(run_in_app) -> int:
    return run_in_app(lambda: db.session.scalar(select(func.count()).select_from(ThirdPartyMember)))


def test_learner_is_marked_only_for_an_approved_third_party(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    assert "承諾済みの第三者はいません" in admin.get("/org/third-parties").get_data(as_text=True)

    operator, response = approve(login_as, world)
    assert response.status_code == 303
    party = fetch(run_in_app, lambda: db.session.scalar(select(ThirdParty)))
    assert (party.organization_id, party.approved_by_id) == (world["org_a"].id, world["operator"].id)

    data = {"learner": str(world["learner_a"].id), "third_party": str(party.id)}
    assert post_form(admin, "/org/third-parties", data).status_code == 303
    assert "株式会社エー子会社" in admin.get("/org/third-parties").get_data(as_text=True)
    assert member_count(run_in_app) == 1

    # Revoking the approval unmarks its learners; marking again is refused with the reason.
    detail = f"/operator/organizations/{world['org_a'].id}"
    assert post_form(operator, f"/operator/third-parties/{party.id}/revoke", {}, page=detail).status_code == 303
    assert member_count(run_in_app) == 0
    response = post_form(admin, "/org/third-parties", data)
    assert response.status_code == 422
    assert REFUSAL in response.get_data(as_text=True)
    assert member_count(run_in_app) == 0
    actions = run_in_app(lambda: db.session.scalars(select(AuditEvent.action)).all())
    assert {"third_party.approved", "third_party.member_marked", "third_party.revoked"} <= set(actions)


def test_another_organizations_third_party_or_learner_is_refused(world, login_as, run_in_app):
    _operator, _ = approve(login_as, world)
    party_id = run_in_app(lambda: db.session.scalar(select(ThirdParty.id)))
    other = login_as(world["admin_b"])
    # admin_b's organization has no approval; org_a's third party is not theirs.
    response = post_form(
        other, "/org/third-parties", {"learner": str(world["learner_b"].id), "third_party": str(party_id)}
    )
    assert response.status_code == 422 and REFUSAL in response.get_data(as_text=True)
    # org_a's learner is not in admin_b's list at all.
    response = post_form(other, "/org/third-parties", {"learner": str(world["learner_a"].id), "third_party": "0"})
    assert response.status_code == 422
    assert member_count(run_in_app) == 0


def test_duplicate_approval_is_refused(world, login_as, run_in_app):
    operator, _ = approve(login_as, world)
    detail = f"/operator/organizations/{world['org_a'].id}"
    data = {"name": "株式会社エー子会社", "note": ""}
    response = post_form(operator, f"{detail}/third-parties", data, page=detail)
    assert response.status_code == 303
    assert "この第三者はすでに承諾済みです。" in operator.get(detail).get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(ThirdParty))) == 1
