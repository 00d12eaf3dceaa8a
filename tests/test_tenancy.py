"""Tenant isolation is enforced by the ORM guard, not by each query remembering a filter."""

import pytest
from sqlalchemy import func, select, union_all, update

from portal.extensions import db
from portal.models import AuditEvent, Organization, User
from portal.tenancy import SharedOrTenantScoped, TenantScoped, TenantScopeError, tenant_scope, unscoped


def tenant_models():
    return [m.class_ for m in db.Model.registry.mappers if issubclass(m.class_, TenantScoped)]


def test_every_table_with_an_organization_is_tenant_scoped(app):
    for mapper in db.Model.registry.mappers:
        columns = {c.key for c in mapper.columns}
        if "organization_id" in columns and not getattr(mapper.class_, "__tenant_exempt__", None):
            assert issubclass(mapper.class_, TenantScoped | SharedOrTenantScoped), (
                f"{mapper.class_.__name__} must inherit TenantScoped (or SharedOrTenantScoped for global content)"
            )


def test_unscoped_needs_a_reason():
    with pytest.raises(TypeError):
        unscoped()
    for blank in ("", "  ", None):
        with pytest.raises(TypeError):
            unscoped(blank)


def test_unscoped_with_a_reason_reads_every_organization_as_a_block_or_a_decorator(app, world):
    @unscoped("the test counts every organization's users")
    def count() -> int:
        return db.session.scalar(select(func.count(User.id)))

    with app.app_context():
        with unscoped("the test counts every organization's users"):
            assert db.session.scalar(select(func.count(User.id))) == count() > 0
        # Twice: a decorator's block is entered anew at each call.
        assert count() == count()


def test_query_without_scope_fails_for_every_tenant_model(app):
    models = tenant_models()
    assert User in models and AuditEvent in models
    with app.app_context():
        for model in models:
            with pytest.raises(TenantScopeError):
                db.session.scalars(select(model)).all()


def test_scope_filters_selects_counts_and_pages(app, world):
    with app.app_context(), tenant_scope(world["org_a"].id):
        users = db.session.scalars(select(User)).all()
        assert {u.organization_id for u in users} == {world["org_a"].id}
        assert db.session.scalar(select(func.count(User.id))) == 3
        page = db.paginate(select(User).order_by(User.id), page=1, per_page=2)
        assert page.total == 3
        assert db.session.get(User, world["admin_b"].id) is None
        # Organizations are not tenant rows; members load their own by id only.
        assert db.session.get(Organization, world["org_a"].id) is not None


def test_joined_subquery_is_scoped_too(app, world):
    with app.app_context(), tenant_scope(world["org_a"].id):
        inner = select(User.id).where(User.role == "learner").scalar_subquery()
        ids = db.session.scalars(select(User.id).where(User.id.in_(inner))).all()
        assert ids == [world["learner_a"].id]


def test_bulk_update_only_touches_the_scope(app, world):
    with app.app_context():
        with tenant_scope(world["org_a"].id):
            db.session.execute(update(User).values(locale="en"))
            db.session.commit()
        with unscoped("the test checks both organizations' rows"):
            assert db.session.get(User, world["learner_b"].id).locale is None
            assert db.session.get(User, world["learner_a"].id).locale == "en"


def test_writing_another_tenants_row_is_refused(app, world):
    with app.app_context(), tenant_scope(world["org_a"].id):
        db.session.add(User(role="learner", organization_id=world["org_b"].id, name="x", login_id="X1"))
        with pytest.raises(TenantScopeError):
            db.session.flush()
        db.session.rollback()


def test_new_rows_take_the_scope_organization(app, world):
    with app.app_context(), tenant_scope(world["org_a"].id):
        user = User(role="learner", name="新人", login_id="NEW1")
        db.session.add(user)
        db.session.flush()
        assert user.organization_id == world["org_a"].id
        db.session.rollback()


def test_staff_scope_sees_everyone(app, world):
    with app.app_context(), unscoped("the test proves unscoped sees every organization"):
        orgs = {u.organization_id for u in db.session.scalars(select(User))}
        assert orgs == {None, world["org_a"].id, world["org_b"].id}



def test_shared_content_is_global_or_own_and_never_unscoped(app, world):
    """Courses: NULL organization = the operator's global content, visible to every organization."""
    from portal.models import Course

    with app.app_context():
        with unscoped("the test sets up courses of two organizations"):
            db.session.add_all([
                Course(organization_id=None, title="global", fiscal_year=2026),
                Course(organization_id=world["org_a"].id, title="a", fiscal_year=2026),
                Course(organization_id=world["org_b"].id, title="b", fiscal_year=2026),
            ])
            db.session.commit()
        with pytest.raises(TenantScopeError):
            db.session.scalars(select(Course)).all()
        with tenant_scope(world["org_a"].id):
            assert sorted(db.session.scalars(select(Course.title))) == ["a", "global"]
            assert db.session.scalar(select(func.count(Course.id))) == 2
            new = Course(title="a2", fiscal_year=2026)
            db.session.add(new)
            db.session.flush()
            assert new.organization_id == world["org_a"].id
            db.session.delete(db.session.scalar(select(Course).where(Course.title == "global")))
            with pytest.raises(TenantScopeError):
                db.session.flush()
            db.session.rollback()
        with unscoped("the test proves unscoped sees every course"):
            assert db.session.scalar(select(func.count(Course.id))) == 3


# --- Core writes: INSERTs and table UPDATE/DELETE through the session, and the bulk COPY ------------------------

def _department_rows(*organization_ids):
    return [{"organization_id": org, "name": f"部{index}", "depth": 1} for index, org in enumerate(organization_ids)]


@pytest.mark.parametrize("form", ["values", "one dict", "executemany", "multi-values", "orm insert"])
def test_a_core_insert_of_another_organizations_row_is_refused(app, world, form):
    from sqlalchemy import insert

    from portal.models import Department

    a, b = world["org_a"].id, world["org_b"].id
    table = Department.__table__
    writes = {
        "values": lambda rows: db.session.execute(insert(table).values(**rows[-1])),
        "one dict": lambda rows: db.session.execute(insert(table), rows[-1]),
        "executemany": lambda rows: db.session.execute(insert(table), rows),
        "multi-values": lambda rows: db.session.execute(insert(table).values(rows)),
        "orm insert": lambda rows: db.session.execute(insert(Department), rows),
    }
    with app.app_context(), tenant_scope(a):
        with pytest.raises(TenantScopeError, match="organization"):
            writes[form](_department_rows(a, b))
        db.session.rollback()
        writes[form](_department_rows(a, a))
        assert db.session.scalar(select(func.count(Department.id))) >= 1
        db.session.rollback()


def test_a_core_insert_needs_its_organization_inside_a_scope_and_a_scope_at_all(app, world):
    from sqlalchemy import insert

    from portal.models import Department

    table = Department.__table__
    with app.app_context():
        with tenant_scope(world["org_a"].id), pytest.raises(TenantScopeError, match="none"):
            db.session.execute(insert(table).values(name="部", depth=1))
        db.session.rollback()
        with tenant_scope(world["org_a"].id), pytest.raises(TenantScopeError):
            db.session.execute(insert(table).from_select(["organization_id", "name", "depth"],
                                                         select(table.c.organization_id, table.c.name, table.c.depth)))
        db.session.rollback()
        with pytest.raises(TenantScopeError, match="without a tenant scope"):
            db.session.execute(insert(table), _department_rows(world["org_a"].id))
        db.session.rollback()
        with unscoped("the test writes both organizations' rows at once"):
            db.session.execute(insert(table), _department_rows(world["org_a"].id, world["org_b"].id))
            db.session.rollback()


def test_a_core_update_or_delete_of_a_table_stays_in_the_scope(app, world):
    from sqlalchemy import delete

    from portal.models import Department

    table = Department.__table__
    a, b = world["org_a"].id, world["org_b"].id
    with app.app_context():
        with unscoped("the test gives both organizations a department"):
            db.session.add_all([Department(organization_id=org, name="総務部") for org in (a, b)])
            db.session.commit()
        with tenant_scope(a):
            db.session.execute(update(table).where(table.c.name == "総務部").values(name="人事部"))
            db.session.execute(delete(table).where(table.c.name == "人事部"))
            db.session.commit()
        with pytest.raises(TenantScopeError):
            db.session.execute(update(table).values(name="x"))
        db.session.rollback()
        with unscoped("the test reads both organizations' departments"):
            names = dict(db.session.execute(select(table.c.organization_id, table.c.name)
                                            .where(table.c.organization_id.in_([a, b]))).all())
    assert names == {b: "総務部"}


def test_a_select_of_a_tenant_tables_core_columns_is_refused_inside_a_scope_and_without_one(app, world):
    """``Model.__table__.c`` maps no model, so the loader criteria could not narrow it: it would read every
    organization's rows. Refused in an organization's scope and without a scope, in a FROM, a join, a
    subquery, an alias, a CTE or a UNION; allowed in ``unscoped``. A table that belongs to no tenant stays readable."""
    users = User.__table__
    core_reads = [
        select(users.c.id),
        select(func.count()).select_from(users),
        select(Organization.__table__.c.id).join(users, users.c.organization_id == Organization.__table__.c.id),
        select(func.count()).select_from(select(users.c.id).where(users.c.role == "learner").subquery()),
        select(users.alias().c.id),
        union_all(select(users.c.id), select(Organization.__table__.c.id)),
        select(func.count()).select_from(union_all(select(users.c.id), select(users.c.id)).subquery()),
        select(func.count()).select_from(select(users.c.id).cte()),
    ]
    with app.app_context():
        for scope in (tenant_scope(world["org_a"].id), _no_scope()):
            with scope:
                for statement in core_reads:
                    with pytest.raises(TenantScopeError, match="Core columns"):
                        db.session.execute(statement)
                    db.session.rollback()
                # A table of no tenant, and the same rows through the model, stay readable.
                assert db.session.scalar(select(func.count()).select_from(Organization.__table__)) >= 2
        with tenant_scope(world["org_a"].id):
            assert db.session.scalar(select(func.count(User.id))) == 3
            # A count over a subquery that maps the model (as paginate's) is narrowed, not refused.
            assert db.session.scalar(select(func.count()).select_from(select(User.id).subquery())) == 3
        with unscoped("the test counts every organization's users through the table"):
            assert db.session.scalar(select(func.count()).select_from(users)) > 3


def _no_scope():
    from contextlib import nullcontext

    return nullcontext()


def test_the_bulk_copy_checks_the_scope_too(app, world):
    from portal.bulk import copy_dicts
    from portal.models import Department

    a, b = world["org_a"].id, world["org_b"].id
    with app.app_context():
        with tenant_scope(a), pytest.raises(TenantScopeError, match="organization"):
            copy_dicts(Department.__table__, _department_rows(a, b))
        db.session.rollback()
        with pytest.raises(TenantScopeError):
            copy_dicts(Department.__table__, _department_rows(a))
        db.session.rollback()
        with tenant_scope(a):
            assert copy_dicts(Department.__table__, _department_rows(a, a)) == 2
            db.session.rollback()


def test_a_changed_answer_never_replaces_another_organizations_row(app, world, run_in_app, time_machine):
    """The answer's upsert, replayed inside organization A's scope with A's id on B's attempt, passes the
    guard (its row is A's) and finds B's row in conflict: it must leave that row alone."""
    from datetime import UTC, datetime

    from portal.blueprints.training.quizzes.services import _answer_upsert
    from portal.models import AttemptAnswer
    from tests.training_helpers import add_course, assignment_of, deliver, take

    time_machine.move_to(datetime(2026, 11, 16, 1, 0, tzinfo=UTC), tick=False)

    def answered_by_b():
        course = add_course(organization_id=None, questions=1)
        delivery = deliver(world["admin_b"], course.id, learner_ids=[world["learner_b"].id])
        attempt = take(assignment_of(delivery.id, world["learner_b"].id).id, finish=False)
        return attempt.id, attempt.question_ids[0]

    attempt_id, question_id = run_in_app(answered_by_b)

    def answers():
        with unscoped("the test reads B's answer"):
            return db.session.execute(select(AttemptAnswer.organization_id, AttemptAnswer.choice_ids)
                                      .where(AttemptAnswer.attempt_id == attempt_id)).all()

    before = run_in_app(answers)

    def replay():
        with tenant_scope(world["org_a"].id):
            db.session.execute(_answer_upsert(db.session.get_bind().dialect.name), {
                "organization_id": world["org_a"].id, "attempt_id": attempt_id, "question_id": question_id,
                "choice_ids": [0], "answered_at": datetime(2026, 11, 16, 2, 0, tzinfo=UTC)})
            db.session.commit()

    run_in_app(replay)
    assert before[0][0] == world["org_b"].id
    assert run_in_app(answers) == before
