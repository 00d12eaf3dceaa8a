"""Helpers shared by the learner tests."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Department, ManagerDepartment, Role, User
from tests.conftest import csrf_token_from


def csv_bytes(lines: list[list[str]], encoding: str = "cp932", bom: bool = False) -> bytes:
    text = "\r\n".join(",".join(cells) for cells in lines) + "\r\n"
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def upload(client, data: bytes, filename: str = "受講者.csv", **options):
    token = csrf_token_from(client.get("/org/learners/import").get_data(as_text=True))
    form = {"csrf_token": token, "file": (io.BytesIO(data), filename)}
    form.update({k: "y" for k, v in options.items() if v})
    return client.post("/org/learners/import", data=form, content_type="multipart/form-data")


def post_form(client, url: str, data: dict | None = None, page: str | None = None):
    token = csrf_token_from(client.get(page or url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})})


def learners(run_in_app, org) -> dict[str, User]:
    def load():
        return {
            u.login_id: u
            for u in db.session.scalars(
                select(User).where(User.organization_id == org.id, User.role == Role.LEARNER)
            )
        }

    return run_in_app(load)


def actions(run_in_app) -> list[str]:
    return run_in_app(lambda: [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))])


def make_department(run_in_app, org, name: str, parent_id: int | None = None, depth: int = 1) -> int:
    def create():
        d = Department(organization_id=org.id, name=name, parent_id=parent_id, depth=depth)
        db.session.add(d)
        db.session.flush()
        return d.id

    return run_in_app(create)


def assign_manager(run_in_app, manager, department_id: int) -> None:
    run_in_app(
        lambda: db.session.add(
            ManagerDepartment(
                organization_id=manager.organization_id, user_id=manager.id, department_id=department_id
            )
        )
    )


def batch_id_from(response) -> int:
    return int(re.search(r"/import/(\d+)$", response.headers["Location"]).group(1))
