"""Applying for the service (#12): the public form's rules and protections, the email confirmation,
and the operator's review (approve creates the organization and invites its administrator; reject)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.blueprints.registration import services
from portal.clock import today_in_tokyo
from portal.extensions import db
from portal.models import (
    Application,
    AuditEvent,
    Contract,
    Organization,
    OrganizationProfile,
    OutboxMessage,
    Role,
    User,
    utcnow,
)
from tests.application_helpers import NTA_NUMBER, TOYOTA_NUMBER, make_application, make_terms
from tests.conftest import csrf_token_from

CONFIRM_LINK = re.compile(r"http://portal\.test(/apply/confirm/[A-Za-z0-9_\-]+)")


def form(**overrides) -> dict:
    data = {
        "corporate_name": "株式会社サンプル商事",
        "corporate_number": TOYOTA_NUMBER,
        "postal_code": "101-0062",
        "prefecture": "東京都",
        "address_line1": "千代田区神田駿河台1-1",
        "address_line2": "駿河台ビル3階",
        "applicant_name": "申込 一郎",
        "applicant_department": "総務部",
        "applicant_email": "ichiro@sample.example.com",
        "admin_name": "管理 花子",
        "admin_department": "情報システム部",
        "admin_email": "hanako@sample.example.com",
        "expected_learners": "40",
        "desired_start_on": (today_in_tokyo() + timedelta(days=14)).isoformat(),
        "services": ["secutore", "secureji"],
        "accept_terms": "y",
        "declare_antisocial": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def terms(run_in_app):
    return run_in_app(make_terms)


def submit(client, **overrides):
    token = csrf_token_from(client.get("/apply/").get_data(as_text=True))
    return client.post("/apply/", data={**form(**overrides), "csrf_token": token})


def applications(run_in_app) -> list[Application]:
    def load():
        rows = list(db.session.scalars(select(Application).order_by(Application.id)))
        db.session.expunge_all()
        return rows

    return run_in_app(load)


def outbox(run_in_app, template: str | None = None) -> list[OutboxMessage]:
    def load():
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if template:
            stmt = stmt.where(OutboxMessage.template == template)
        rows = list(db.session.scalars(stmt))
        db.session.expunge_all()
        return rows

    return run_in_app(load)


def actions(run_in_app) -> list[str]:
    return run_in_app(lambda: list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))))


def confirm_link(run_in_app) -> str:
    [message] = outbox(run_in_app, "application_confirm")[-1:]
    return CONFIRM_LINK.search(message.body_text).group(1)


# --- the rules, as plain functions -------------------------------------------------------------------


@pytest.mark.parametrize("number", [NTA_NUMBER, TOYOTA_NUMBER, "4011001098993"])
def test_published_corporate_numbers_pass_the_check_digit(number):
    assert services.corporate_number_valid(number)


@pytest.mark.parametrize(
    "number", ["8000012050002", "1000012050002", "700001205000", "70000120500021", "70000120500a2", ""]
)
def test_wrong_check_digits_and_shapes_fail(number):
    assert not services.corporate_number_valid(number)


def test_corporate_numbers_are_folded_from_full_width_and_hyphens():
    assert services.normalize_corporate_number("７０００-０１２０-５０００２") == NTA_NUMBER
    assert services.normalize_corporate_number(" 7000 0120 50002 ") == NTA_NUMBER


@pytest.mark.parametrize(
    ("name", "corporate"),
    [
        ("株式会社ワークストラスト", True),
        ("ワークストラスト株式会社", True),
        ("合同会社 みらい", True),
        ("一般社団法人 情報セキュリティ協会", True),
        ("特定非営利活動法人 まなび", True),
        ("ABC農業協同組合", True),
        ("山田 太郎", False),
        ("山田商店", False),
        ("", False),
    ],
)
def test_a_company_name_needs_a_corporate_form(name, corporate):
    assert services.looks_like_corporation(name) is corporate


def test_disposable_domains_and_their_subdomains_are_refused():
    assert services.is_disposable("someone@mailinator.com")
    assert services.is_disposable("Someone@Inbox.YOPMAIL.com")
    assert not services.is_disposable("someone@example.co.jp")
    assert not services.is_disposable("someone@notmailinator.com")


# --- the public form -------------------------------------------------------------------------------------


def test_an_application_is_stored_unconfirmed_with_the_terms_version_and_a_confirmation_email(
    client, terms, run_in_app
):
    before = utcnow()
    response = submit(client)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/apply/thanks")
    [application] = applications(run_in_app)
    assert application.status == "unconfirmed"
    assert application.corporate_number == TOYOTA_NUMBER
    assert application.terms_document_id == terms.id and application.terms_version == "2026-04"
    assert application.terms_accepted_at >= before
    assert application.service_list == ["secutore", "secureji"]
    assert application.confirm_token_hash and application.confirm_expires_at > utcnow()
    [message] = outbox(run_in_app)
    assert message.template == "application_confirm" and message.to_address == "ichiro@sample.example.com"
    assert "メールアドレスの確認" in message.subject
    assert CONFIRM_LINK.search(message.body_text)
    assert "application.submitted" in actions(run_in_app)
    page = client.get("/apply/thanks").get_data(as_text=True)
    assert "ご入力のメールアドレスにご案内をお送りしました" in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"corporate_number": "8000012050002"}, "チェックデジットが一致しません"),
        ({"corporate_number": "12345"}, "13桁の数字"),
        ({"corporate_name": "山田 太郎"}, "法人のみお申込みいただけます"),
        ({"applicant_email": "ichiro@mailinator.com"}, "使い捨てのメールアドレス"),
        ({"admin_email": "hanako@yopmail.com"}, "使い捨てのメールアドレス"),
        ({"applicant_email": "ichiro@@example"}, "メールアドレスの形式が正しくありません"),
        ({"desired_start_on": (today_in_tokyo() - timedelta(days=1)).isoformat()}, "今日以降の日付"),
        ({"services": None}, "1つ以上選んでください"),
        ({"services": ["other"]}, "ご利用になるサービス"),
        ({"accept_terms": None}, "利用規約への同意が必要です"),
        ({"expected_learners": "0"}, "受講予定人数は1以上"),
        ({"postal_code": "1010062"}, "123-4567"),
        ({"corporate_name": "株式会社" + "あ" * 200}, "200"),
    ],
)
def test_bad_input_is_refused_in_japanese_keeps_what_was_typed_and_stores_nothing(
    client, terms, run_in_app, overrides, message
):
    response = submit(client, **overrides)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page or (message == "200" and "200" in page)
    assert "入力内容に誤りがあります" in page
    assert 'value="申込 一郎"' in page  # what was typed stays
    assert applications(run_in_app) == []
    assert outbox(run_in_app) == []


def test_a_start_date_of_today_in_tokyo_is_accepted(client, terms, run_in_app):
    assert submit(client, desired_start_on=today_in_tokyo().isoformat()).status_code == 303


def test_full_width_corporate_number_is_accepted_and_stored_folded(client, terms, run_in_app):
    assert submit(client, corporate_number="１１８０-３０１-０１８７７１").status_code == 303
    assert applications(run_in_app)[0].corporate_number == TOYOTA_NUMBER


def test_the_honeypot_gets_the_same_answer_and_nothing_is_stored(client, terms, run_in_app):
    response = submit(client, website="http://spam.example")
    assert response.status_code == 303 and response.headers["Location"].endswith("/apply/thanks")
    assert applications(run_in_app) == [] and outbox(run_in_app) == []


def test_the_honeypot_is_hidden_by_a_css_class_not_an_inline_style(client, terms):
    page = client.get("/apply/").get_data(as_text=True)
    assert '<div class="hp" aria-hidden="true">' in page
    assert "style=" not in page


def test_without_a_csrf_token_nothing_is_stored(client, terms, run_in_app):
    response = client.post("/apply/", data=form())
    assert response.status_code == 400
    assert applications(run_in_app) == []


def test_an_oversized_request_is_refused(client, terms, run_in_app):
    token = csrf_token_from(client.get("/apply/").get_data(as_text=True))
    response = client.post("/apply/", data={**form(address_line2="x" * 40_000), "csrf_token": token})
    assert response.status_code == 413
    assert applications(run_in_app) == []


def test_without_a_current_terms_version_the_form_is_not_offered(client, run_in_app):
    page = client.get("/apply/").get_data(as_text=True)
    assert "受付を準備しています" in page and "<form method=\"post\" action=\"/apply/\"" not in page
    token = csrf_token_from(client.get("/password/forgot").get_data(as_text=True))
    assert client.post("/apply/", data={**form(), "csrf_token": token}).status_code == 422
    assert applications(run_in_app) == []


def test_rate_limit_per_email(app, client, terms, run_in_app):
    app.config["RATELIMIT_APPLY_PER_EMAIL"] = "2 per hour"
    try:
        # Typing errors do not count; answered applications from the same address do.
        assert submit(client, corporate_number="1").status_code == 422
        assert submit(client).status_code == 303
        assert submit(client).status_code == 303
        response = submit(client)
        assert response.status_code == 429
        assert "しばらく待ってから" in response.get_data(as_text=True)
        assert submit(client, applicant_email="other@sample.example.com").status_code == 303
    finally:
        app.config["RATELIMIT_APPLY_PER_EMAIL"] = "3 per hour"


def test_rate_limit_per_ip(app, client, terms):
    app.config["RATELIMIT_APPLY_PER_IP"] = "2 per hour"
    try:
        assert submit(client, corporate_number="1").status_code == 422
        assert submit(client, applicant_email="a@sample.example.com").status_code == 303
        assert submit(client, applicant_email="b@sample.example.com").status_code == 429
    finally:
        app.config["RATELIMIT_APPLY_PER_IP"] = "10 per hour"


# --- a second application ---------------------------------------------------------------------------------


def test_a_second_application_while_one_is_under_review_gets_the_same_answer_and_stores_nothing(
    client, terms, run_in_app
):
    run_in_app(lambda: make_application(status="confirmed", applicant_email="ichiro@sample.example.com"))
    response = submit(client, corporate_name="株式会社べつの名前")
    assert response.status_code == 303 and response.headers["Location"].endswith("/apply/thanks")
    [application] = applications(run_in_app)
    assert application.corporate_name == "株式会社サンプル商事"
    [message] = outbox(run_in_app)
    assert message.template == "application_already_pending"
    assert message.to_address == "ichiro@sample.example.com"
    assert "審査" in message.body_text
    assert "application.repeat_refused" in actions(run_in_app)


def test_a_new_application_replaces_an_unconfirmed_one_from_the_same_address(client, terms, run_in_app):
    assert submit(client, corporate_name="株式会社まちがい").status_code == 303
    first_link = confirm_link(run_in_app)
    assert submit(client).status_code == 303
    [application] = applications(run_in_app)
    assert application.corporate_name == "株式会社サンプル商事"
    assert client.get(first_link).status_code == 404
    assert "application.superseded" in actions(run_in_app)


def test_the_same_corporate_number_from_another_address_is_stored_and_flagged_for_the_operator(
    client, terms, run_in_app, world, login_as
):
    first = run_in_app(lambda: make_application(status="confirmed", applicant_email="first@sample.example.com"))
    assert submit(client).status_code == 303
    second = applications(run_in_app)[-1]
    assert second.id != first.id
    page = login_as(world["operator"]).get(f"/operator/applications/{second.id}").get_data(as_text=True)
    assert "重複の可能性があります" in page
    assert first.reference in page


def test_an_existing_customer_is_flagged_by_name_email_and_corporate_number(run_in_app, world, login_as):
    def create():
        make_application(status="approved", corporate_number=NTA_NUMBER, organization_id=world["org_a"].id)
        return make_application(
            status="confirmed", corporate_number=NTA_NUMBER, corporate_name=world["org_a"].name,
            admin_email=world["admin_a"].email,
        ).id

    application_id = run_in_app(create)
    page = login_as(world["operator"]).get(f"/operator/applications/{application_id}").get_data(as_text=True)
    assert "同じ法人番号の申込がすでに承認されています" in page
    assert "同じ法人名の組織がすでに登録されています" in page
    assert f"{world['admin_a'].email} はすでに利用者として登録されています" in page


# --- confirming the email --------------------------------------------------------------------------------


def test_the_link_shows_a_button_and_the_post_confirms_once(client, terms, run_in_app):
    submit(client)
    link = confirm_link(run_in_app)
    page = client.get(link).get_data(as_text=True)
    assert "確認してお申込みを送信する" in page
    assert applications(run_in_app)[0].status == "unconfirmed"  # opening the link confirms nothing
    token = csrf_token_from(page)
    response = client.post(link, data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"].endswith("/apply/confirmed")
    [application] = applications(run_in_app)
    assert application.status == "confirmed" and application.confirmed_at is not None
    assert application.confirm_token_hash is None
    # The applicant's receipt, and the operator's inbox email (portal/inbox.py).
    assert [m.template for m in outbox(run_in_app)] == ["application_confirm", "application_received", "inbox_item"]
    again = client.post(link, data={"csrf_token": token})
    assert again.status_code == 404
    assert "このリンクは使えません" in again.get_data(as_text=True)
    assert "application.confirmed" in actions(run_in_app)


def test_an_expired_link_says_so_and_offers_a_new_one(client, terms, run_in_app):
    submit(client)
    link = confirm_link(run_in_app)

    def expire():
        application = db.session.scalar(select(Application))
        application.confirm_expires_at = utcnow() - timedelta(minutes=1)

    run_in_app(expire)
    response = client.get(link)
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "有効期限が切れています" in page and "お申込みはまだ当社に届いていません" in page
    # Confirming through the expired link changes nothing.
    assert client.post(link, data={"csrf_token": csrf_token_from(page)}).status_code == 410
    assert applications(run_in_app)[0].status == "unconfirmed"
    resent = client.post(link + "/resend", data={"csrf_token": csrf_token_from(page)})
    assert resent.status_code == 303 and resent.headers["Location"].endswith("/apply/resent")
    new_link = confirm_link(run_in_app)
    assert new_link != link
    assert len(outbox(run_in_app, "application_confirm")) == 2
    assert client.get(link).status_code == 404  # the old link no longer works at all
    page = client.get(new_link).get_data(as_text=True)
    assert client.post(new_link, data={"csrf_token": csrf_token_from(page)}).status_code == 303
    assert applications(run_in_app)[0].status == "confirmed"


def test_resending_is_limited_per_link(app, client, terms, run_in_app):
    submit(client)
    link = confirm_link(run_in_app)
    app.config["RATELIMIT_APPLY_RESEND"] = "1 per hour"
    try:
        token = csrf_token_from(client.get(link).get_data(as_text=True))
        assert client.post(link + "/resend", data={"csrf_token": token}).status_code == 303
        link = confirm_link(run_in_app)
        assert client.post(link + "/resend", data={"csrf_token": token}).status_code == 303
        assert client.post(link + "/resend", data={"csrf_token": token}).status_code == 429
    finally:
        app.config["RATELIMIT_APPLY_RESEND"] = "3 per hour"


def test_unconfirmed_applications_are_purged_long_after_their_link_expired(app, run_in_app):
    def create():
        old = make_application(status="unconfirmed", token="old", applicant_email="old@sample.example.com")
        old.confirm_expires_at = utcnow() - timedelta(days=30)
        make_application(status="unconfirmed", token="fresh", applicant_email="fresh@sample.example.com")
        make_application(status="confirmed", applicant_email="kept@sample.example.com")

    run_in_app(create)
    assert run_in_app(lambda: services.purge_unconfirmed(utcnow())) == 1
    assert sorted(a.applicant_email for a in applications(run_in_app)) == [
        "fresh@sample.example.com", "kept@sample.example.com"
    ]


# --- the operator's review -------------------------------------------------------------------------------


APPROVAL = {
    "plan_name": "セキュトレ・セキュレジ",
    "starts_on": (today_in_tokyo() + timedelta(days=14)).isoformat(),
    "ends_on": (today_in_tokyo() + timedelta(days=378)).isoformat(),
    "seat_limit": "40",
    "annual_fee": "240000",
    "overage_unit_price": "3000",
}


def test_the_queue_filters_by_status_and_search(run_in_app, world, login_as):
    def create():
        make_application(status="unconfirmed", corporate_name="株式会社みかくにん", applicant_email="u@x.example.com")
        make_application(status="confirmed", corporate_name="株式会社しんさまち", applicant_email="c@x.example.com")
        make_application(status="rejected", corporate_name="株式会社おことわり", applicant_email="r@x.example.com")

    run_in_app(create)
    operator = login_as(world["operator"])
    page = operator.get("/operator/applications/").get_data(as_text=True)
    assert all(name in page for name in ("株式会社みかくにん", "株式会社しんさまち", "株式会社おことわり"))
    page = operator.get("/operator/applications/?status=confirmed").get_data(as_text=True)
    assert "株式会社しんさまち" in page and "株式会社みかくにん" not in page
    page = operator.get("/operator/applications/?q=おことわり").get_data(as_text=True)
    assert "株式会社おことわり" in page and "株式会社しんさまち" not in page
    assert operator.get("/operator/applications/?status=nonsense&page=99999").status_code == 200


def test_approving_creates_the_organization_contract_and_profile_and_invites_the_administrator(
    run_in_app, world, login_as
):
    application_id = run_in_app(lambda: make_application(status="confirmed").id)
    operator = login_as(world["operator"])
    page = operator.get(f"/operator/applications/{application_id}").get_data(as_text=True)
    assert 'value="40"' in page  # the seat limit starts from the expected learners
    response = operator.post(
        f"/operator/applications/{application_id}/approve", data={**APPROVAL, "csrf_token": csrf_token_from(page)}
    )
    assert response.status_code == 303
    assert re.search(r"/operator/organizations/\d+$", response.headers["Location"])

    def check():
        org = db.session.scalar(select(Organization).where(Organization.name == "株式会社サンプル商事"))
        contract = db.session.scalar(select(Contract).where(Contract.organization_id == org.id))
        profile = db.session.scalar(select(OrganizationProfile).where(OrganizationProfile.organization_id == org.id))
        admin = db.session.scalar(select(User).where(User.email == "hanako@sample.example.com"))
        application = db.session.get(Application, application_id)
        assert contract.seat_limit == 40 and contract.annual_fee == 240_000
        assert org.corporate_number == TOYOTA_NUMBER  # the applicant's 法人番号 goes with the organization
        assert profile.postal_code == "101-0062" and profile.address_line1 == "千代田区神田駿河台1-1"
        assert profile.primary_admin_id == admin.id and profile.registered_at is None
        assert admin.role == Role.ORG_ADMIN and admin.organization_id == org.id and admin.password_hash is None
        assert application.status == "approved" and application.organization_id == org.id
        assert application.decided_by_id == world["operator"].id

    run_in_app(check)
    templates = {(m.template, m.to_address) for m in outbox(run_in_app)}
    assert ("invitation", "hanako@sample.example.com") in templates
    assert ("application_approved", "ichiro@sample.example.com") in templates
    assert {"org.created", "contract.created", "user.invited", "application.approved"} <= set(actions(run_in_app))
    # Decided: no forms any more.
    page = operator.get(f"/operator/applications/{application_id}").get_data(as_text=True)
    assert "承認して組織を登録する" not in page and "承認済み" in page


def test_approval_refused_by_a_rule_writes_nothing(run_in_app, world, login_as):
    application_id = run_in_app(lambda: make_application(status="confirmed", admin_email=world["admin_b"].email).id)
    operator = login_as(world["operator"])
    token = csrf_token_from(operator.get(f"/operator/applications/{application_id}").get_data(as_text=True))
    response = operator.post(f"/operator/applications/{application_id}/approve", data={**APPROVAL, "csrf_token": token})
    assert response.status_code == 422
    assert "このメールアドレスはすでに登録されています" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count(Organization.id)))) == 2
    assert applications(run_in_app)[0].status == "confirmed"
    assert outbox(run_in_app) == []


def test_bad_contract_terms_keep_the_typed_values(run_in_app, world, login_as):
    application_id = run_in_app(lambda: make_application(status="confirmed").id)
    operator = login_as(world["operator"])
    token = csrf_token_from(operator.get(f"/operator/applications/{application_id}").get_data(as_text=True))
    response = operator.post(
        f"/operator/applications/{application_id}/approve",
        data={**APPROVAL, "annual_fee": "", "plan_name": "特別プラン", "csrf_token": token},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "金額を入力してください" in page and 'value="特別プラン"' in page
    assert applications(run_in_app)[0].status == "confirmed"


def test_an_unconfirmed_application_cannot_be_decided(run_in_app, world, login_as):
    application_id = run_in_app(lambda: make_application(status="unconfirmed").id)
    operator = login_as(world["operator"])
    page = operator.get(f"/operator/applications/{application_id}").get_data(as_text=True)
    assert "メールアドレスを確認するまで、審査できません" in page
    token = csrf_token_from(page)
    response = operator.post(f"/operator/applications/{application_id}/approve", data={**APPROVAL, "csrf_token": token})
    assert response.status_code == 422 and "審査待ちではありません" in response.get_data(as_text=True)
    response = operator.post(
        f"/operator/applications/{application_id}/reject", data={"reason": "理由", "csrf_token": token}
    )
    assert response.status_code == 422
    assert applications(run_in_app)[0].status == "unconfirmed" and outbox(run_in_app) == []


def test_rejecting_needs_a_reason_and_sends_it_politely(run_in_app, world, login_as):
    application_id = run_in_app(lambda: make_application(status="confirmed").id)
    operator = login_as(world["operator"])
    url = f"/operator/applications/{application_id}"
    token = csrf_token_from(operator.get(url).get_data(as_text=True))
    response = operator.post(f"{url}/reject", data={"reason": "  ", "csrf_token": token})
    assert response.status_code == 422 and "お断りの理由を入力してください" in response.get_data(as_text=True)
    assert applications(run_in_app)[0].status == "confirmed"
    reason = "法人番号公表サイトで法人を確認できませんでした。\n正式な名称でお申込みください。"
    response = operator.post(f"{url}/reject", data={"reason": reason, "csrf_token": token})
    assert response.status_code == 303
    [application] = applications(run_in_app)
    assert application.status == "rejected" and application.rejection_reason == reason
    [message] = outbox(run_in_app)
    assert message.template == "application_rejected" and message.to_address == "ichiro@sample.example.com"
    assert "誠に恐れ入りますが" in message.body_text and "正式な名称でお申込みください。" in message.body_text
    assert "application.rejected" in actions(run_in_app)


def test_an_unknown_application_is_not_found(world, login_as):
    operator = login_as(world["operator"])
    assert operator.get("/operator/applications/999999").status_code == 404
    assert operator.get("/operator/applications/99999999999999999999").status_code == 404


def test_the_purge_runs_as_a_periodic_job_of_the_worker(app):
    from portal.jobs import REGISTRY

    assert REGISTRY["applications.purge_unconfirmed"].func is services.purge_unconfirmed
