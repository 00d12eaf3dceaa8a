"""The rows between tests (tests/database_state.py): shared rows come back after a test that changed them,
and every table is empty after a module's shared rows are released."""

from __future__ import annotations

from sqlalchemy import func, select, text, update

from portal.extensions import db
from portal.models import Organization, User
from portal.tenancy import unscoped
from tests import database_state


def _state(app) -> tuple[list[str], int]:
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        names = list(db.session.scalars(select(User.name).order_by(User.id)))
        organizations = db.session.scalar(select(func.count()).select_from(Organization))
        db.session.remove()
        return names, organizations


def test_shared_rows_come_back_after_a_write_and_go_at_the_end(app, make_org, make_user):
    org = make_org()
    make_user(org=org, name="元の名前")
    make_user(org=org, name="二人目")
    with database_state.shared_rows(app):
        kept = _state(app)
        with app.app_context(), unscoped("the test reads and writes rows directly"):
            db.session.execute(update(User).values(name="変えた名前"))
            db.session.execute(text("DELETE FROM users WHERE name = '二人目'"))
            db.session.commit()
        make_user(org=make_org())
        assert _state(app) != kept
        database_state.after_test(app)
        assert _state(app) == kept
        # Nothing written: nothing to put back, the rows stay.
        database_state.after_test(app)
        assert _state(app) == kept
    assert _state(app) == ([], 0)


def test_tables_are_emptied_after_a_test_without_shared_rows(app, make_org, make_user):
    make_user(org=make_org())
    database_state.after_test(app)
    assert _state(app) == ([], 0)


def test_rows_built_once_come_back_with_the_same_ids(app, make_org, make_user):
    from tests.conftest import reloaded

    built = []

    def build():
        built.append(1)
        return {"org": make_org(), "count": 1}

    first = database_state.rows_once(app, "test_database_state", build, lambda v: reloaded(app, v))
    database_state.after_test(app)
    assert _state(app) == ([], 0)
    again = database_state.rows_once(app, "test_database_state", build, lambda v: reloaded(app, v))
    assert built == [1]
    assert again["org"].id == first["org"].id and again["org"].name == first["org"].name
    assert again["org"] is not first["org"] and again["count"] == 1
    assert _state(app) == ([], 1)
    # Rows already present (another fixture wrote first): built as usual.
    make_user(org=again["org"])
    database_state.rows_once(app, "test_database_state", build, lambda v: reloaded(app, v))
    assert built == [1, 1]
