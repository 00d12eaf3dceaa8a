"""SQLite under several gunicorn workers: pages are read while another process holds the write lock."""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest

from portal.models import Role

ROUTES = sorted((Path(__file__).resolve().parent.parent / "portal" / "blueprints").rglob("routes.py"))


def test_every_get_view_that_commits_is_marked_writes_on_get():
    unmarked = []
    for path in ROUTES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            decorators = [ast.unparse(d) for d in node.decorator_list]
            get_only = any(".get(" in d for d in decorators)
            if get_only and "commit()" in ast.unparse(node) and "writes_on_get" not in decorators:
                unmarked.append(f"{path.parent.name}.{node.name}")
    assert unmarked == []


def test_pages_are_read_while_another_process_holds_the_write_lock(app, make_org, make_user, login_as):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's single write lock only")
    org = make_org()
    learner = login_as(make_user(Role.LEARNER, org))
    admin = login_as(make_user(Role.ORG_ADMIN, org, mfa=False))
    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, isolation_level=None, timeout=1)
    other.execute("BEGIN IMMEDIATE")  # another gunicorn worker in the middle of a write
    try:
        # With BEGIN IMMEDIATE for every request these waited for the lock, then failed ("database is locked").
        assert learner.get("/me/").status_code == 200
        assert admin.get("/org/learners/").status_code == 200
    finally:
        other.execute("ROLLBACK")
        other.close()
