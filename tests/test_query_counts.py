"""The main pages of learners and administrators run the same number of SQL statements whatever the data size.

Two organizations with the same history (a course, two deliveries to everyone, every learner started the
first test, a few the second, one learner half-way through it), one with 5 learners and one with 50: each
page is read by the same kind of user in both and must cost exactly as many statements. A page that loads
per row (N+1) fails here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from portal.extensions import db
from portal.models import Attempt, Role, User
from portal.tenancy import tenant_scope, unscoped
from tests.training_helpers import add_course, assignment_of, deliver, take


def _organization(app, make_org, make_user, learners: int) -> dict:
    org = make_org()
    admin = make_user(Role.ORG_ADMIN, org, mfa=False)
    me = make_user(Role.LEARNER, org, login_id="ME001")
    with app.app_context(), unscoped():
        db.session.add_all([User(role=Role.LEARNER, organization_id=org.id, login_id=f"L{i:03d}", name=f"受講 {i}",
                                 email=f"l{i}-{org.code}@example.com") for i in range(learners - 1)])
        db.session.commit()
        course_id = add_course(organization_id=org.id, questions=6).id
        db.session.commit()
        first = deliver(admin, course_id, title="4月")
        second = deliver(admin, course_id, title="5月")
        db.session.commit()
        others = db.session.scalars(select(User.id).where(User.organization_id == org.id, User.role == Role.LEARNER,
                                                          User.id != me.id)).all()
        for n, learner_id in enumerate(others):
            # The first delivery: everyone took it (passed, failed, half-way); the second: a few so far.
            take(assignment_of(first.id, learner_id).id, right=None if n % 3 else 2, finish=n % 4 != 3)
            if n % 6 == 0:
                take(assignment_of(second.id, learner_id).id, right=None if n % 4 else 1)
        done = take(assignment_of(first.id, me.id).id)
        mine = assignment_of(second.id, me.id)
        open_attempt = take(mine.id, right=3, finish=False)
        db.session.commit()
        with tenant_scope(org.id):
            assert db.session.get(Attempt, open_attempt.id).state == "in_progress"
        return {"admin": admin, "me": me, "delivery": second.id, "course": course_id, "assignment": mine.id,
                "attempt": open_attempt.id, "done": done.id}


LEARNER_PAGES = {
    "learner home": lambda w: "/me/",
    "training list": lambda w: "/me/training/",
    "assignment": lambda w: f"/me/training/{w['assignment']}",
    "test question": lambda w: f"/me/training/attempts/{w['attempt']}/2",
    "review before finishing": lambda w: f"/me/training/attempts/{w['attempt']}/review",
    "result": lambda w: f"/me/training/attempts/{w['done']}/result",
}
ADMIN_PAGES = {
    "administrator home": lambda w: "/org/",
    "deliveries": lambda w: "/org/training/",
    "delivery results": lambda w: f"/org/training/{w['delivery']}",
    "delivery item analysis": lambda w: f"/org/training/{w['delivery']}/items",
    "course results": lambda w: f"/org/training/courses/{w['course']}",
    "learner list": lambda w: "/org/learners/",
}


def _statements(app, client, url: str) -> int:
    seen = []

    def count(*_args):
        seen.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, (url, response.status_code)
    return len(seen)


@pytest.fixture
def two_sizes(app, make_org, make_user, login_as):
    small = _organization(app, make_org, make_user, 5)
    large = _organization(app, make_org, make_user, 50)
    for world in (small, large):
        world["learner_client"] = login_as(world["me"])
        world["admin_client"] = login_as(world["admin"])
    return small, large


def test_learner_and_admin_pages_cost_the_same_statements_for_5_and_50_learners(app, two_sizes):
    small, large = two_sizes
    counts = {}
    for who, pages in (("learner_client", LEARNER_PAGES), ("admin_client", ADMIN_PAGES)):
        for name, url in pages.items():
            # Once to warm what a process caches once (the course, the translations), then measured.
            _statements(app, small[who], url(small))
            counts[name] = (_statements(app, small[who], url(small)), _statements(app, large[who], url(large)))
    grew = {name: pair for name, pair in counts.items() if pair[0] != pair[1]}
    assert grew == {}, f"statements per page (5 learners, 50 learners): {counts}"
