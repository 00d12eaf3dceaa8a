"""portal.bulk.copy_rows: COPY on PostgreSQL and the INSERT elsewhere write what Core's insert() writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from portal.bulk import copy_rows
from portal.extensions import db
from portal.models import Course, Delivery, DeliveryStatus, Role
from portal.tenancy import unscoped

COLUMNS = ["id", "organization_id", "course_id", "title", "target_department_ids", "target_learner_ids",
           "starts_at", "due_at", "reminder_days", "business_days_only", "status", "launched_at", "created_by_id",
           "created_at"]
# link_salt (a random default), escalate_after_days (a default) and the others are left out on purpose.


def _rows(first_id: int, org_id: int, course_id: int, admin_id: int) -> list[tuple]:
    start = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
    return [
        (first_id, org_id, course_id, "4月の研修 \"引用\" \\ タブ\tと改行\nも", [], [7, 8],
         start, start + timedelta(days=14), [-3, 1], True, DeliveryStatus.LAUNCHED, start, admin_id, start),
        (first_id + 1, org_id, course_id, "空欄のない配信", [1], [], start + timedelta(days=30, microseconds=5),
         start + timedelta(days=44), [], False, DeliveryStatus.CLOSED, None, None,
         start.astimezone(UTC) + timedelta(hours=9)),
    ]


def _read(ids: list[int]) -> list[tuple]:
    table = Delivery.__table__
    kept = [c for c in table.c if c.name not in ("id", "link_salt")]
    return [tuple(row) for row in db.session.execute(select(*kept).where(table.c.id.in_(ids)).order_by(table.c.id))]


def test_copy_rows_writes_what_an_insert_writes(app, make_org, make_user):
    org = make_org()
    admin = make_user(Role.ORG_ADMIN, org)
    with app.app_context(), unscoped("the test writes rows of one organization directly"):
        course = Course(title="一括書き込みの講座", fiscal_year=2026)
        db.session.add(course)
        db.session.flush()
        paths = {"insert": 900_001, "copy_rows": 900_011}
        if db.engine.dialect.name == "postgresql":
            paths["copy_rows without COPY"] = 900_021
        for path, first_id in paths.items():
            rows = _rows(first_id, org.id, course.id, admin.id)
            if path == "insert":
                db.session.execute(insert(Delivery.__table__), [dict(zip(COLUMNS, row, strict=True)) for row in rows])
            else:
                written = copy_rows(Delivery.__table__, COLUMNS, iter(rows),
                                    use_copy=False if path == "copy_rows without COPY" else None)
                assert written == 2
        written = {path: _read([first_id, first_id + 1]) for path, first_id in paths.items()}
        expected = written.pop("insert")
        assert len(expected) == 2
        for path, rows in written.items():
            assert rows == expected, path
        salts = db.session.scalars(select(Delivery.link_salt).where(Delivery.course_id == course.id)).all()
        assert len(salts) == 2 * len(paths) and len(set(salts)) == len(salts)
        assert all(len(salt) == 32 for salt in salts)
        db.session.rollback()


def test_copy_rows_refuses_an_unknown_column(app):
    with app.app_context(), pytest.raises(ValueError, match="no column"):
        copy_rows(Delivery.__table__, ["id", "nonsense"], [])
