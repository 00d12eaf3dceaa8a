"""An organization's screens do not tell where else an email address is used, nor by what account (#18).

Addresses are unique across the service, so a used address is refused; the refusal is the same message
(portal.accounts.ADDRESS_UNAVAILABLE) whether the address belongs to another organization's learner or
administrator, to the operator's staff or to someone of this organization.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Handover, User
from tests.learner_helpers import batch_id_from, csv_bytes, post_form, upload

NEUTRAL = "このメールアドレスは登録できません。別のメールアドレスを入力してください。"
OUTSIDERS = ("learner_b", "admin_b", "support", "operator")
REVEALING = ("他の組織", "運営事務局で", "別の利用者", "すでに登録されています", "管理者・マネージャーが")


def user_count(run_in_app) -> int:
    return run_in_app(lambda: db.session.scalar(select(func.count(User.id))))


def same_page(html: str, email: str) -> str:
    """The page with what differs by design taken out: the typed address and the CSRF token."""
    html = re.sub(re.escape(email), "EMAIL", html, flags=re.IGNORECASE)
    return re.sub(r'(name="csrf_token"[^>]*value=|"X-CSRFToken": )"[^"]*"', r"\1TOKEN", html)


def refused_pages(world, run_in_app, owners, send) -> dict[str, str]:
    before = user_count(run_in_app)
    pages = {}
    for owner in owners:
        email = world[owner].email
        response = send(email)
        assert response.status_code in (200, 422), owner
        html = response.get_data(as_text=True)
        assert NEUTRAL in html, owner
        assert not any(word in html for word in REVEALING), owner
        pages[owner] = same_page(html, email)
    assert user_count(run_in_app) == before
    return pages


def test_new_learner_refuses_any_used_address_with_one_message(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])

    def send(email):
        return post_form(admin, "/org/learners/new", {"login_id": "N1", "name": "新人", "email": email.upper(),
                                                      "department_id": "", "employment_type": "",
                                                      "initial_password": ""})

    pages = refused_pages(world, run_in_app, (*OUTSIDERS, "manager_a"), lambda e: send(e))
    # Not a word of difference between another company's learner, its administrator, staff or our manager.
    assert len(set(pages.values())) == 1


def test_inviting_a_member_refuses_any_used_address_with_one_message(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    pages = refused_pages(
        world, run_in_app, (*OUTSIDERS, "learner_a"),
        lambda email: post_form(admin, "/org/members", {"name": "課長 C", "email": email, "role": "manager"}),
    )
    assert len(set(pages.values())) == 1


def test_handover_refuses_an_outsiders_address_without_saying_whose(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    form = {"successor_name": "後任 次郎", "notes": "", "predecessor_after": "manager"}
    pages = refused_pages(
        world, run_in_app, OUTSIDERS,
        lambda email: post_form(admin, "/org/handover", {**form, "successor_email": email}),
    )
    assert len(set(pages.values())) == 1
    assert run_in_app(lambda: db.session.scalar(select(func.count(Handover.id)))) == 0


@pytest.mark.parametrize("owner", [*OUTSIDERS, "learner_a"])
def test_csv_import_marks_a_used_address_with_the_same_message(world, login_as, owner):
    admin = login_as(world["admin_a"])
    batch_id = batch_id_from(upload(admin, csv_bytes([["受講者ID", "メールアドレス"], ["N1", world[owner].email]])))
    page = admin.get(f"/org/learners/import/{batch_id}").get_data(as_text=True)
    assert NEUTRAL in page
    assert not any(word in page for word in REVEALING)
    assert "この内容で読み込む" not in page
