"""Handover of the primary administrator (Art. 12)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Handover, OrganizationProfile, OutboxMessage, Role, User
from tests.conftest import csrf_token_from
from tests.test_backoffice_orgs import NEW_PASSWORD, fetch, post_form


def handover_form(**overrides) -> dict:
    data = {
        "successor_name": "後任 次郎",
        "successor_email": "jiro@a.example.com",
        "notes": "請求書は経理の佐藤さんへ転送すること。",
        "predecessor_after": "manager",
    }
    data.update(overrides)
    return data


def primary_of(run_in_app, org_id) -> int:
    return run_in_app(
        lambda: db.session.scalar(
            select(OrganizationProfile.primary_admin_id).where(OrganizationProfile.organization_id == org_id)
        )
    )


def handover_count(run_in_app) -> int:
    return run_in_app(lambda: db.session.scalar(select(func.count()).select_from(Handover)))


def test_new_successor_is_invited_reads_what_came_before_and_takes_over(app, world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    # Something the operator sent the primary administrator earlier.
    run_in_app(
        lambda: db.session.add(
            OutboxMessage(
                idempotency_key="earlier",
                template="invoice_issued",
                to_address=world["admin_a"].email,
                subject="請求書 INV-1 発行のお知らせ",
                body_text="お支払期限は月末です。",
                organization_id=world["org_a"].id,
            )
        )
    )
    response = post_form(admin, "/org/handover", handover_form())
    assert response.status_code == 303
    assert "受諾待ち" in admin.get("/org/handover").get_data(as_text=True)

    successor, body = fetch(
        run_in_app,
        lambda: (
            db.session.scalar(select(User).where(User.email == "jiro@a.example.com")),
            db.session.scalar(select(OutboxMessage.body_text).where(OutboxMessage.template == "handover")),
        ),
    )
    assert (successor.role, successor.organization_id, successor.password_hash) == (
        "org_admin",
        world["org_a"].id,
        None,
    )
    link = re.search(r"http://portal\.test(/invitation/\S+)", body).group(1)

    c = app.test_client()
    page = c.get(link)
    token = csrf_token_from(page.get_data(as_text=True))
    data = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD, "csrf_token": token}
    assert c.post(link, data=data).status_code == 303
    assert "内容を確認して受諾する" in c.get("/org/").get_data(as_text=True)
    page = c.get("/org/handover/accept").get_data(as_text=True)
    assert "請求書は経理の佐藤さんへ転送すること。" in page
    assert "請求書 INV-1 発行のお知らせ" in page and "org_a だけへのお知らせ" in page
    # Nobody else can accept it.
    assert admin.get("/org/handover/accept").status_code == 404
    assert login_as(world["manager_a"]).get("/org/handover/accept").status_code == 404

    response = c.post("/org/handover/accept", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303
    assert primary_of(run_in_app, world["org_a"].id) == successor.id
    old = fetch(run_in_app, lambda: db.session.get(User, world["admin_a"].id))
    assert old.role == Role.MANAGER and old.is_active_flag
    actions = run_in_app(lambda: db.session.scalars(select(AuditEvent.action)).all())
    assert "org.handover_started" in actions and "org.handover_accepted" in actions
    # The new primary administrator reads every operator email the organization received.
    assert "お支払期限は月末です。" in c.get("/org/messages").get_data(as_text=True)


def test_existing_manager_as_successor_and_predecessor_access_ends(world, login_as, run_in_app):
    admin = login_as(world["admin_a"])
    data = handover_form(successor_email=world["manager_a"].email, predecessor_after="end")
    assert post_form(admin, "/org/handover", data).status_code == 303
    body = run_in_app(
        lambda: db.session.scalar(select(OutboxMessage.body_text).where(OutboxMessage.template == "handover"))
    )
    assert "http://portal.test/org/handover/accept" in body
    manager = login_as(world["manager_a"])
    page = manager.get("/org/handover/accept").get_data(as_text=True)
    assert manager.post("/org/handover/accept", data={"csrf_token": csrf_token_from(page)}).status_code == 303
    assert primary_of(run_in_app, world["org_a"].id) == world["manager_a"].id
    assert run_in_app(lambda: db.session.get(User, world["manager_a"].id).role) == "org_admin"
    assert run_in_app(lambda: db.session.get(User, world["admin_a"].id).is_active_flag) is False
    # The predecessor's session has ended.
    assert admin.get("/org/").status_code == 302


@pytest.mark.parametrize(
    ("email_of", "message"),
    [
        ("admin_b", "このメールアドレスは登録できません。別のメールアドレスを入力してください。"),
        ("operator", "このメールアドレスは登録できません。別のメールアドレスを入力してください。"),
        ("admin_a", "現在の主管理者を後任者に指定することはできません。"),
        ("learner_a", "後任者には、有効な管理者・マネージャー、または新しいメールアドレスを指定してください。"),
    ],
)
def test_bad_successors_are_refused(world, login_as, run_in_app, email_of, message):
    users_before = run_in_app(lambda: db.session.scalar(select(func.count()).select_from(User)))
    response = post_form(
        login_as(world["admin_a"]), "/org/handover", handover_form(successor_email=world[email_of].email)
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert handover_count(run_in_app) == 0
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(User))) == users_before


def test_only_the_primary_starts_one_handover_at_a_time_and_the_operator_may(world, login_as, make_user, run_in_app):
    other = login_as(make_user(Role.ORG_ADMIN, world["org_a"], name="管理 A2"))
    token = csrf_token_from(other.get("/org/handover").get_data(as_text=True))
    assert other.post("/org/handover", data={**handover_form(), "csrf_token": token}).status_code == 403

    operator = login_as(world["operator"])
    detail = f"/operator/organizations/{world['org_a'].id}"
    assert post_form(operator, f"{detail}/handover", handover_form(), page=detail).status_code == 303
    assert handover_count(run_in_app) == 1
    assert "受諾待ち" in operator.get(detail).get_data(as_text=True)
    response = post_form(login_as(world["admin_a"]), "/org/handover", handover_form(successor_email="x@a.example.com"))
    assert response.status_code == 422
    assert "進行中の引き継ぎがあります。" in response.get_data(as_text=True)
