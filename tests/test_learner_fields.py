"""One source for a learner's fields: what the learner form refuses, the CSV import refuses in the same words."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from portal.blueprints.learners import fields, imports
from portal.blueprints.learners.forms import DepartmentForm, NewLearnerForm
from portal.models import Role
from portal.tenancy import tenant_scope
from tests.learner_helpers import csv_bytes

COLUMNS = ["login_id", "name", "email", "department", "employment_type", "initial_password"]
HEADER = ["受講者ID", "氏名", "メールアドレス", "部署", "雇用形態", "初期パスワード"]
VALID = {"login_id": "N1", "name": "山田", "email": "", "department": "", "employment_type": "",
         "initial_password": ""}


def form_message(org_id: int, key: str, value: str) -> str:
    """The first message the form gives for ``value`` in ``key`` (the department: its name's form)."""
    if key == "department":
        form = DepartmentForm(formdata=MultiDict({"name": value, "parent_id": ""}), meta={"csrf": False})
        form_field = "name"
    else:
        data = {**VALID, key: value, "department_id": ""}
        data.pop("department")
        form = NewLearnerForm(formdata=MultiDict(data), meta={"csrf": False})
        form_field = key
    with tenant_scope(org_id):
        assert not form.validate()
    assert list(form.errors) == [form_field], form.errors
    return form.errors[form_field][0]


def import_message(org_id: int, key: str, value: str) -> str:
    """The message the import gives for a row whose ``key`` cell holds ``value``, reading then planning."""
    row = {**VALID, key: value}
    result = imports.read_csv(csv_bytes([HEADER, [row[c] for c in COLUMNS]], "utf-8"), max_bytes=1_000_000)
    errors = result.errors
    if result.rows:
        with tenant_scope(org_id):
            errors = imports.plan_import(result.rows, result.columns, sync=False, organization_id=org_id).errors
    assert [e.column for e in errors] == [str(fields.LABELS[key])], errors
    return errors[0].message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("login_id", ""),
        ("login_id", "N 1"),
        ("login_id", "N" * 65),
        ("login_id", "ADM1"),  # another user's: an administrator holds it
        ("name", "名" * 101),
        ("email", "nope"),
        ("email", "a" * 250 + "@example.com"),
        ("email", "user-b@example.com"),  # a user of another organization has it
        ("employment_type", "boss"),
        ("initial_password", "short"),
        ("initial_password", "p" * 257),
        ("department", "部" * 101),
    ],
)
def test_what_the_form_refuses_the_import_refuses_with_the_same_message(app, world, make_user, key, value):
    make_user(Role.ORG_ADMIN, world["org_a"], login_id="ADM1")
    make_user(Role.LEARNER, world["org_b"], email="user-b@example.com", login_id="ZZ")
    org_id = world["org_a"].id
    with app.test_request_context():
        expected = form_message(org_id, key, value)
        assert import_message(org_id, key, value) == expected


def test_the_form_and_the_import_hold_the_same_rule_objects(app):
    """Not copies: a rule changed in fields.py is the rule both use."""
    with app.test_request_context():
        form = NewLearnerForm(meta={"csrf": False})
        for key in ("login_id", "name", "email", "employment_type", "initial_password"):
            assert form[key].validators is imports._RULES[key] is getattr(fields, key.upper())
        assert DepartmentForm(meta={"csrf": False}).name.validators is fields.DEPARTMENT_NAME


@pytest.mark.parametrize(
    ("key", "typed", "read"),
    [
        ("login_id", " ｎ００１ ", "n001"),  # width-folded, case kept
        ("login_id", "Ab-01", "Ab-01"),
        ("name", " 髙橋\u3000①ＡＢＣ ", "髙橋\u3000①ＡＢＣ"),  # as written, only the spaces around it go
        ("email", "ＹＡＭＡＤＡ@Example.co.jp", "yamada@example.co.jp"),
    ],
)
def test_the_form_and_the_import_read_a_typed_value_the_same_way(app, world, key, typed, read):
    data = {**VALID, key: typed, "department_id": ""}
    data.pop("department")
    with app.test_request_context(), tenant_scope(world["org_a"].id):
        form = NewLearnerForm(formdata=MultiDict(data), meta={"csrf": False})
        assert form.validate(), form.errors
        assert form[key].data == read
    row = {**VALID, key: typed}
    result = imports.read_csv(csv_bytes([HEADER, [row[c] for c in COLUMNS]], "utf-8"), max_bytes=1_000_000)
    assert result.errors == [] and result.rows[0][key] == read
