"""Deleting all of an organization's data, with guard rails (#18, item 7; terms Art. 16, 19): a listed ground,
two operators, the customer's administrators told, invoices and deletion records kept, everything audited."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    DeletionRecord,
    DeletionRequest,
    Invoice,
    Organization,
    Role,
    TicketEvent,
    User,
)
from tests.conftest import csrf_token_from
from tests.test_backoffice_orgs import fetch


@pytest.fixture
def operators(world, make_user, login_as):
    """Two operators: ``first`` asks, ``second`` approves."""
    second = make_user(Role.OPERATOR, name="運営 次郎")
    return login_as(world["operator"]), login_as(second)


def purge_url(world) -> str:
    return f"/operator/organizations/{world['org_a'].id}/purge"


def post(client, url: str, data: dict, page: str):
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def ask(client, world, **data):
    fields = {"ground": "19-1", "note": "教材を社外のサイトに転載(2026-11-20 確認)", "confirm_name": "株式会社エー"}
    return post(client, purge_url(world), {**fields, **data}, purge_url(world))


def approve(client, world, name="株式会社エー"):
    return post(client, purge_url(world) + "/approve", {"confirm_name": name}, purge_url(world))


def snapshot(run_in_app, world) -> dict:
    """What a refusal must leave unchanged."""

    def take():
        org_id = world["org_a"].id
        return {
            "users": db.session.scalar(select(func.count()).where(User.organization_id == org_id)),
            "invoices": db.session.scalar(select(func.count()).select_from(Invoice)),
            "records": db.session.scalar(select(func.count()).select_from(DeletionRecord)),
            "pending": db.session.scalar(
                select(func.count()).select_from(DeletionRequest).where(DeletionRequest.status == "pending")
            ),
            "status": db.session.get(Organization, org_id).status,
        }

    return run_in_app(take)


def refusals(run_in_app) -> list[dict]:
    return run_in_app(
        lambda: [
            e.details
            for e in db.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "org.deletion_refused").order_by(AuditEvent.id)
            )
        ]
    )


# --- refusals: a clear Japanese message, nothing changed, audited -----------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"ground": "ended", "note": ""}, "この組織の契約は終了していません。"),
        ({"note": ""}, "第16条・第19条の理由で削除するときは、事実関係を入力してください。"),
        ({"ground": "24-3"}, "削除の理由を一覧から選んでください。削除の依頼は行っていません。"),
        ({"ground": "nope"}, "削除の理由を一覧から選んでください。削除の依頼は行っていません。"),
        ({"confirm_name": "株式会社エ"}, "確認のための法人名が一致しません。削除は行っていません。"),
    ],
)
def test_a_request_without_a_valid_ground_or_name_is_refused(operators, world, run_in_app, data, message):
    first, _second = operators
    before = snapshot(run_in_app, world)
    response = ask(first, world, **data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and message in body
    assert snapshot(run_in_app, world) == before
    [refusal] = refusals(run_in_app)
    assert refusal["step"] == "request" and message in refusal["reason"]
    if data.get("note", None) != "":
        assert "教材を社外のサイトに転載" in body  # what was typed is kept


def test_an_empty_ground_is_refused_by_the_form(operators, world, run_in_app):
    first, _second = operators
    before = snapshot(run_in_app, world)
    response = ask(first, world, ground="")
    assert response.status_code == 422
    assert "削除の理由を一覧から選んでください。" in response.get_data(as_text=True)
    assert snapshot(run_in_app, world) == before


def test_the_requester_cannot_approve_their_own_request(operators, world, run_in_app):
    first, _second = operators
    assert ask(first, world).status_code == 303
    page = BeautifulSoup(first.get(purge_url(world)).data, "html.parser")
    assert "あなたが依頼した削除です" in page.get_text()
    assert page.find("form", action=purge_url(world) + "/approve") is None
    before = snapshot(run_in_app, world)
    assert before["pending"] == 1

    response = approve(first, world)
    assert response.status_code == 422
    assert "削除を依頼した本人は承認できません。別の運営スタッフが承認してください。" in response.get_data(as_text=True)
    assert snapshot(run_in_app, world) == before
    assert [r["step"] for r in refusals(run_in_app)] == ["approve"]


def test_the_approver_must_type_the_name_too(operators, world, run_in_app):
    first, second = operators
    assert ask(first, world).status_code == 303
    before = snapshot(run_in_app, world)
    response = approve(second, world, name="株式会社ビー")
    assert response.status_code == 422
    assert "確認のための法人名が一致しません。削除は行っていません。" in response.get_data(as_text=True)
    assert snapshot(run_in_app, world) == before


def test_a_second_request_while_one_is_pending_is_refused(operators, world, run_in_app):
    first, second = operators
    assert ask(first, world).status_code == 303
    response = ask(second, world)
    assert response.status_code == 422
    assert "この組織にはすでに承認待ちの削除依頼があります。" in response.get_data(as_text=True)


def test_an_ended_ground_no_longer_holds_once_the_organization_is_active_again(operators, world, run_in_app):
    first, second = operators
    run_in_app(lambda: setattr(db.session.get(Organization, world["org_a"].id), "status", "terminated"))
    assert ask(first, world, ground="ended", note="").status_code == 303
    run_in_app(lambda: setattr(db.session.get(Organization, world["org_a"].id), "status", "active"))
    before = snapshot(run_in_app, world)
    response = approve(second, world)
    assert response.status_code == 422 and "この組織の契約は終了していません。" in response.get_data(as_text=True)
    assert snapshot(run_in_app, world) == before


def test_a_request_can_be_withdrawn(operators, world, run_in_app):
    first, second = operators
    assert ask(first, world).status_code == 303
    response = post(second, purge_url(world) + "/withdraw", {}, purge_url(world))
    assert response.status_code == 303
    assert "削除の依頼を取り下げました。何も削除していません。" in second.get(purge_url(world)).get_data(as_text=True)
    request = fetch(run_in_app, lambda: db.session.scalar(select(DeletionRequest)))
    assert request.status == "withdrawn" and request.decided_by_id != request.requested_by_id
    assert snapshot(run_in_app, world)["users"] == 3
    # Nothing left to approve; a new request may be made.
    token = csrf_token_from(second.get(purge_url(world)).get_data(as_text=True))
    assert second.post(purge_url(world) + "/approve", data={"csrf_token": token, "confirm_name": "株式会社エー"}
                       ).status_code == 404
    assert ask(first, world).status_code == 303
    actions = run_in_app(lambda: list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))))
    assert actions.count("org.deletion_requested") == 2 and "org.deletion_withdrawn" in actions


# --- the whole flow ----------------------------------------------------------------------------------


def test_two_operators_delete_an_ended_organization_and_the_administrators_are_told(
    app, operators, world, run_in_app, mailbox, make_ticket
):
    first, second = operators
    org_id = world["org_a"].id
    make_ticket(world["admin_a"])
    # An earlier record (the personal data after the retention period, say) must survive.
    run_in_app(lambda: db.session.add(DeletionRecord(organization_id=org_id, organization_name="株式会社エー",
                                                     scope="personal", reason="保存期間の満了", counts={})))
    detail = f"/operator/organizations/{org_id}"
    assert post(first, f"{detail}/cancel", {"ground": "16-2-1", "note": "3か月滞納"}, detail).status_code == 303

    assert ask(first, world, ground="ended", note="").status_code == 303
    assert "承認待ちの削除依頼" in second.get("/operator/").get_data(as_text=True)
    assert snapshot(run_in_app, world)["users"] == 3  # nothing deleted before the approval

    response = approve(second, world)
    assert response.status_code == 303 and response.headers["Location"].endswith("/operator/deletions")
    page = second.get("/operator/deletions").get_data(as_text=True)
    assert "のデータを削除しました(請求書と削除の記録は保存しています)" in page
    assert "組織の管理者 1 名にメールで通知しました。" in page
    assert "運営 太郎" in page and "運営 次郎" in page  # who asked and who approved

    def check():
        return {
            "org": db.session.get(Organization, org_id),
            "users": db.session.scalar(select(func.count()).where(User.organization_id == org_id)),
            "ticket_events": db.session.scalar(select(func.count()).where(TicketEvent.organization_id == org_id)),
            "invoices": db.session.scalar(select(func.count()).where(Invoice.organization_id == org_id)),
            "records": db.session.scalars(select(DeletionRecord).order_by(DeletionRecord.id)).all(),
            "request": db.session.scalar(select(DeletionRequest)),
            "other_users": db.session.scalar(select(func.count()).where(User.organization_id == world["org_b"].id)),
            "events": {
                e.action: e
                for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("org.%")))
            },
        }

    state = fetch(run_in_app, check)
    assert state["org"] is not None and state["org"].status == "terminated"  # the invoices' customer
    assert (state["users"], state["ticket_events"], state["invoices"], state["other_users"]) == (0, 0, 1, 2)
    personal, everything = state["records"]
    assert personal.scope == "personal"
    assert everything.scope == "all" and everything.deleted_by_id != world["operator"].id
    assert "invoices" not in everything.counts and "deletion_records" not in everything.counts
    assert everything.counts["users"] == 3
    request = state["request"]
    assert (request.status, request.requested_by_id, request.deletion_record_id) == (
        "approved", world["operator"].id, everything.id
    )
    assert request.decided_by_id not in (None, world["operator"].id)
    events = state["events"]
    for action in ("org.deletion_requested", "org.deletion_approved", "org.data_deleted"):
        assert events[action].organization_id is None  # outlives the organization's own log
        assert events[action].target_id == str(org_id)
    assert events["org.deletion_approved"].details["administrators_told"] == 1

    # The customer's administrator is told, over real SMTP.
    [body] = mailbox(world["admin_a"].email)
    assert "株式会社エー のデータ" in body and "請求書" in body and "契約が終了・解除済み" in body

    # Once deleted, a new request is refused.
    response = ask(first, world, ground="ended", note="")
    assert response.status_code == 422
    assert "この組織のデータはすでに削除されています。" in response.get_data(as_text=True)


def test_an_active_organization_may_be_deleted_for_an_article_19_ground(operators, world, run_in_app, mailbox):
    first, second = operators
    assert ask(first, world).status_code == 303
    assert approve(second, world).status_code == 303
    state = snapshot(run_in_app, world)
    assert (state["users"], state["invoices"], state["status"]) == (0, 1, "terminated")
    record = fetch(run_in_app, lambda: db.session.scalar(select(DeletionRecord)))
    assert "第19条第1項" in record.reason and "教材を社外のサイトに転載" in record.reason
    assert len(mailbox(world["admin_a"].email)) == 1
