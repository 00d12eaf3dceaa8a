"""Tenant isolation is enforced by the ORM guard, not by each query remembering a filter."""

import pytest
from sqlalchemy import func, select, update

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
