"""The audit log's 対象 column names what an event was about (受講者 山田 太郎 (learner01), 点検回
従業員版（2026年11月）) instead of a class name and id (#19 follow-up): in a fixed number of statements per page
whatever its length, a deleted target by its class name and id, and an organization's log never names another
organization's rows."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from portal import audit
from portal.extensions import db
from portal.models import Role, User
from tests.inspection_helpers import add_edition, open_round
from tests.test_learner_record import _statements
from tests.test_query_counts import statements_while_rendering


def _targets(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    return [td.get_text(" ", strip=True) for td in soup.select('tbody td[data-label="対象"]')]


@pytest.fixture
def targets(world, make_user, run_in_app):
    """Org A's log: a learner, a round, a department-less manager, a learner deleted since, org A itself, and
    two events that name org B's learner and org B (as a forged or mistaken row would); org B's log: its own
    learner."""
    org_a, org_b = world["org_a"], world["org_b"]
    learner = make_user(Role.LEARNER, org_a, name="山田 太郎", login_id="learner01", email="yamada@a.example")
    gone = make_user(Role.LEARNER, org_a, name="退職 次郎", login_id="gone01", email="gone@a.example")
    outsider = make_user(Role.LEARNER, org_b, name="他社 花子", login_id="b01", email="hanako@b.example")

    def seed():
        edition, _items = add_edition(org_a.id, items=1, title="従業員版")
        inspection_round = open_round(world["admin_a"], edition, person_ids=[learner.id],
                                      title="従業員版（2026年11月）")
        audit.record("learners.updated", target_type="User", target_id=learner.id, organization_id=org_a.id)
        audit.record("inspection.round_closed", target_type="InspectionRound", target_id=inspection_round.id,
                     organization_id=org_a.id)
        audit.record("learners.updated", target_type="User", target_id=world["manager_a"].id,
                     organization_id=org_a.id)
        audit.record("learners.deleted", target_type="User", target_id=gone.id, organization_id=org_a.id)
        audit.record("org.profile_updated", target_type="Organization", target_id=org_a.id,
                     organization_id=org_a.id)
        audit.record("learners.updated", target_type="User", target_id=outsider.id, organization_id=org_a.id)
        audit.record("org.profile_updated", target_type="Organization", target_id=org_b.id,
                     organization_id=org_a.id)
        audit.record("learners.updated", target_type="User", target_id=outsider.id, organization_id=org_b.id)
        db.session.delete(db.session.get(User, gone.id))
        return inspection_round.id

    round_id = run_in_app(seed)
    return {"learner": learner, "gone": gone, "outsider": outsider, "round": round_id}


def test_the_organizations_log_names_its_own_targets_only(world, login_as, targets):
    page = login_as(world["admin_a"]).get("/org/audit").get_data(as_text=True)
    shown = _targets(page)
    org_a, org_b = world["org_a"], world["org_b"]
    assert "受講者 山田 太郎 (learner01)" in shown
    assert "点検回 従業員版（2026年11月）" in shown
    assert f"マネージャー {world['manager_a'].name}" in shown
    assert f"組織 {org_a.name}" in shown
    # Gone since: its class name and id.
    assert f"User {targets['gone'].id}" in shown
    # Another tenant's rows are never read, even when an event of this organization names them.
    assert f"User {targets['outsider'].id}" in shown and f"Organization {org_b.id}" in shown
    assert "他社 花子" not in page and org_b.name not in page


def test_the_operators_log_names_every_organizations_targets(world, login_as, targets):
    operator = login_as(world["operator"])
    shown = _targets(operator.get("/operator/audit").get_data(as_text=True))
    assert "受講者 他社 花子 (b01)" in shown and "受講者 山田 太郎 (learner01)" in shown
    assert f"組織 {world['org_b'].name}" in shown
    assert f"User {targets['gone'].id}" in shown


@pytest.mark.parametrize("who,url", [("admin_a", "/org/audit"), ("operator", "/operator/audit")])
def test_the_labels_cost_the_same_statements_for_a_short_and_a_long_page(app, world, login_as, targets, make_user,
                                                                         run_in_app, who, url):
    """One page against the same page with thirty more events about other learners, rounds and organizations:
    the same statements, and none while the template renders."""
    client = login_as(world[who])
    client.get(url)  # what a process caches once (the translations)
    short = _statements(app, client, url)
    more = [make_user(Role.LEARNER, world["org_a"], name=f"受講者{n}", login_id=f"M{n:03}",
                      email=f"m{n}@a.example").id for n in range(15)]

    def seed():
        org_a = world["org_a"].id
        for learner_id in more:
            audit.record("learners.updated", target_type="User", target_id=learner_id, organization_id=org_a)
            audit.record("org.profile_updated", target_type="Organization", target_id=org_a,
                         organization_id=org_a)

    run_in_app(seed)
    page = client.get(url).get_data(as_text=True)
    assert "受講者 受講者14 (M014)" in _targets(page)
    assert _statements(app, client, url) == short
    with statements_while_rendering(app) as (_seen, in_templates):
        assert client.get(url).status_code == 200
    assert in_templates == []
