"""Versions of the terms with acceptance by administrators (Art. 25) and the public texts (Art. 5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import LegalDocument, Notice, OutboxMessage, TermsAcceptance
from tests.conftest import csrf_token_from
from tests.test_backoffice_orgs import fetch, post_form

V1 = "第1条 (定義)\n本サービス: セキュトレ\n第2条 (サービス)\n法人組織のみに提供します。"
V2 = "第1条 (定義)\n本サービス: セキュトレおよびセキュレジ\n第2条 (サービス)\n法人組織のみに提供します。"


@pytest.fixture
def operator_client(world, login_as):
    return login_as(world["operator"])


def publish(c, **fields):
    data = {"kind": "terms", "version": "2026年版", "effective_on": today_in_tokyo().isoformat(), "body": V1}
    data.update(fields)
    return post_form(c, "/operator/legal/new", data)


def accept(c):
    page = c.get("/legal/accept")
    assert page.status_code == 200
    return page, c.post("/legal/accept", data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})


def test_administrators_accept_each_version_once_with_the_differences(operator_client, world, login_as, run_in_app):
    assert publish(operator_client).status_code == 303
    # Every organization is told through a notice, and primary administrators by email.
    kinds = run_in_app(lambda: db.session.scalars(select(Notice.kind)).all())
    # The fixture's notice and this one: the first version revises nothing, so it is published, not 「改定」.
    assert sorted(kinds) == ["general", "general"]
    titles = run_in_app(lambda: db.session.scalars(select(Notice.title).order_by(Notice.id.desc())).all())
    assert "利用規約の公開" in titles[0] and "改定" not in titles[0]
    assert run_in_app(lambda: db.session.scalar(select(func.count()).where(OutboxMessage.template == "notice"))) == 1

    admin = login_as(world["admin_a"])
    response = admin.get("/org/members")
    assert response.status_code == 302 and "/legal/accept" in response.headers["Location"]
    page, response = accept(admin)
    assert "本サービス: セキュトレ" in page.get_data(as_text=True)
    assert response.status_code == 303
    assert admin.get("/org/members").status_code == 200
    acceptance = fetch(run_in_app, lambda: db.session.scalar(select(TermsAcceptance)))
    assert (acceptance.user_id, acceptance.organization_id, acceptance.ip) == (
        world["admin_a"].id,
        world["org_a"].id,
        "127.0.0.1",
    )
    # Managers and learners are not stopped; a first version gives learners no "revised" notice.
    assert login_as(world["manager_a"]).get("/org/").status_code == 200
    learner = login_as(world["learner_a"])
    assert "利用規約が改定されました" not in learner.get("/me/").get_data(as_text=True)

    # A revision: shown once more, with what changed.
    assert publish(operator_client, version="2027年版", body=V2).status_code == 303
    page, response = accept(admin)
    html = page.get_data(as_text=True)
    assert "<del>本サービス: セキュトレ</del>" in html and "<ins>本サービス: セキュトレおよびセキュレジ</ins>" in html
    assert response.status_code == 303
    assert admin.get("/org/").status_code == 200
    assert "利用規約が改定されました" in learner.get("/me/").get_data(as_text=True)
    listing = operator_client.get("/operator/legal").get_data(as_text=True)
    assert "2027年版" in listing and world["admin_a"].name in listing and "127.0.0.1" in listing


def test_future_version_waits_for_its_effective_date(operator_client, world, login_as, client):
    assert publish(operator_client).status_code == 303
    later = today_in_tokyo() + timedelta(days=30)
    assert publish(operator_client, version="来月版", body=V2, effective_on=later.isoformat()).status_code == 303
    page = client.get("/legal/terms").get_data(as_text=True)
    assert "本サービス: セキュトレ" in page and "セキュレジ" not in page.split("<main")[1].split("</main>")[0]
    admin = login_as(world["admin_a"])
    accept(admin)
    assert admin.get("/org/").status_code == 200  # the future version is not asked for yet


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"effective_on": "2020-01-01"}, "施行日は今日以降の日付にしてください。"),
        ({"version": ""}, "版の名前を入力してください"),
        ({"body": ""}, "本文を入力してください。"),
    ],
)
def test_bad_versions_are_refused(operator_client, run_in_app, fields, message):
    response = publish(operator_client, **fields)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(LegalDocument))) == 0


def test_duplicate_version_is_refused(operator_client, run_in_app):
    assert publish(operator_client).status_code == 303
    response = publish(operator_client)
    assert response.status_code == 422
    assert "この版はすでに登録されています。" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(LegalDocument))) == 1


def test_public_privacy_and_security_pages(operator_client, client):
    assert client.get("/legal/privacy").status_code == 404
    assert (
        publish(operator_client, kind="privacy", version="初版", body="個人情報は適切に管理します。").status_code == 303
    )
    assert (
        publish(operator_client, kind="security", version="v1", body="ISO/IEC 27017 に基づく取り組み").status_code
        == 303
    )
    assert "個人情報は適切に管理します。" in client.get("/legal/privacy").get_data(as_text=True)
    assert "ISO/IEC 27017" in client.get("/legal/security").get_data(as_text=True)
    assert client.get("/legal/nope").status_code == 404


def test_suspended_administrator_owing_an_acceptance_can_still_reach_the_invoices(
    operator_client, world, login_as, run_in_app
):
    from portal.models import Organization

    assert publish(operator_client).status_code == 303
    run_in_app(
        lambda: db.session.execute(
            Organization.__table__.update().where(Organization.id == world["org_a"].id).values(status="suspended")
        )
    )
    admin = login_as(world["admin_a"])
    response = admin.get("/org/invoices")
    assert response.status_code == 302 and "/legal/accept" in response.headers["Location"]
    _page, response = accept(admin)
    assert response.status_code == 303
    assert admin.get("/org/invoices").status_code == 200
    assert admin.get("/org/").status_code == 403
