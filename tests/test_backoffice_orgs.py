"""Organizations and contracts (part 1) and administrator IDs (part 2) of the back office."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from portal.extensions import db
from portal.models import (
    AuditEvent,
    Contract,
    OneTimeToken,
    Organization,
    OrganizationProfile,
    OutboxMessage,
    Role,
    User,
    utcnow,
)
from tests.conftest import PASSWORD, csrf_token_from

NEW_PASSWORD = "a quiet river under the bridge 42"


def org_form(**overrides) -> dict:
    data = {
        "name": "株式会社サンプル",
        "plan_name": "スタンダード",
        "starts_on": "2026-04-01",
        "ends_on": "2027-03-31",
        "seat_limit": "50",
        "annual_fee": "240000",
        "overage_unit_price": "3000",
        "admin_name": "山田 花子",
        "admin_email": "hanako@sample.example.com",
    }
    data.update(overrides)
    return data


def post_form(c, url: str, data: dict, page: str | None = None):
    token = csrf_token_from(c.get(page or url).get_data(as_text=True))
    return c.post(url, data={**data, "csrf_token": token})


def fetch(run_in_app, fn):
    """``fn()``'s result with its objects detached but loaded, for assertions outside the app."""

    def inner():
        result = fn()
        db.session.expunge_all()
        return result

    return run_in_app(inner)


def counts(run_in_app) -> dict[str, int]:
    def count():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Organization, Contract, OrganizationProfile, User, OutboxMessage)
        }

    return run_in_app(count)


def invitation_link(run_in_app, email: str) -> str:
    def find():
        message = db.session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.to_address == email, OutboxMessage.template == "invitation")
            .order_by(OutboxMessage.id.desc())
        )
        assert message is not None, f"no invitation queued for {email}"
        return message.body_text

    body = run_in_app(find)
    match = re.search(r"http://portal\.test(/invitation/[A-Za-z0-9_\-]+)", body)
    assert match, body
    return match.group(1)


@pytest.fixture
def operator_client(world, login_as):
    return login_as(world["operator"])


@pytest.fixture
def new_org(operator_client, run_in_app):
    """An organization created through the operator's form; returns (org id, invitation path)."""
    response = post_form(operator_client, "/operator/organizations/new", org_form())
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    org_id = run_in_app(
        lambda: db.session.scalar(select(Organization.id).where(Organization.name == "株式会社サンプル"))
    )
    return org_id, invitation_link(run_in_app, "hanako@sample.example.com")


# --- part 1: organizations and contracts ------------------------------------------------------


def test_operator_creates_organization_with_contract_and_invited_primary_admin(new_org, run_in_app):
    org_id, link = new_org

    def check():
        org = db.session.get(Organization, org_id)
        contract = db.session.scalar(select(Contract).where(Contract.organization_id == org_id))
        profile = db.session.scalar(select(OrganizationProfile).where(OrganizationProfile.organization_id == org_id))
        admin = db.session.scalar(select(User).where(User.email == "hanako@sample.example.com"))
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.to_address == admin.email))
        actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.organization_id == org_id)))
        return org, contract, profile, admin, message, actions

    org, contract, profile, admin, message, actions = fetch(run_in_app, check)
    assert org.status == "active"
    assert (contract.plan_name, contract.seat_limit, contract.annual_fee, contract.overage_unit_price) == (
        "スタンダード",
        50,
        240000,
        3000,
    )
    assert (contract.starts_on, contract.ends_on) == (date(2026, 4, 1), date(2027, 3, 31))
    assert admin.role == Role.ORG_ADMIN and admin.organization_id == org_id and admin.password_hash is None
    assert profile.primary_admin_id == admin.id and profile.registered_at is None
    assert "株式会社サンプル" in message.subject and "招待" in message.subject
    assert link in message.body_text and link in message.body_html
    assert {"org.created", "contract.created", "org.admin_issued", "user.invited"} <= actions


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "株式会社エー"}, "同じ法人名の組織がすでに登録されています。"),
        ({"name": " 株式会社 エー "}, "同じ法人名の組織がすでに登録されています。"),
        ({"name": "株式会社エ－"}, None),  # a different name (full-width minus is not ー): accepted
        ({"name": ""}, "法人名を入力してください。"),
        ({"ends_on": "2026-03-31"}, "契約終了日は契約開始日より後の日付にしてください。"),
        ({"ends_on": "2026-04-01"}, "契約終了日は契約開始日より後の日付にしてください。"),
        ({"starts_on": "2026-02-30"}, None),
        ({"seat_limit": "0"}, "上限利用者数は1以上の整数で入力してください。"),
        ({"seat_limit": "-5"}, "上限利用者数は1以上の整数で入力してください。"),
        ({"annual_fee": "-1"}, "金額は0円以上の整数で入力してください。"),
        ({"overage_unit_price": "-100"}, "金額は0円以上の整数で入力してください。"),
        ({"annual_fee": "12.5"}, None),
        ({"admin_email": "not-an-email"}, "メールアドレスの形式が正しくありません。"),
    ],
)
def test_bad_organization_input_is_refused_and_nothing_is_written(
    operator_client, run_in_app, world, overrides, message
):
    before = counts(run_in_app)
    response = post_form(operator_client, "/operator/organizations/new", org_form(**overrides))
    if message is None and overrides.get("name") == "株式会社エ－":
        assert response.status_code == 303
        return
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "入力内容に誤りがあります" in html
    if message:
        assert message in html
    assert counts(run_in_app) == before


def test_admin_email_already_registered_is_refused(operator_client, run_in_app, world):
    before = counts(run_in_app)
    response = post_form(operator_client, "/operator/organizations/new", org_form(admin_email=world["admin_b"].email))
    assert response.status_code == 422
    assert "このメールアドレスはすでに登録されています。" in response.get_data(as_text=True)
    assert counts(run_in_app) == before


def test_list_searches_and_filters(operator_client, make_org, make_user, run_in_app, world):
    suspended = make_org("休止商事株式会社", status="suspended")
    response = operator_client.get("/operator/organizations?q=エー")
    html = response.get_data(as_text=True)
    assert "株式会社エー" in html and "株式会社ビー" not in html
    html = operator_client.get("/operator/organizations?status=suspended").get_data(as_text=True)
    assert suspended.name in html and "株式会社エー" not in html
    # org_a's limit is 100 in the fixture; lower it to 1 and give it two active learners.
    make_user(Role.LEARNER, world["org_a"], login_id="A002")
    run_in_app(lambda: db.session.execute(Contract.__table__.update().values(seat_limit=1)))
    html = operator_client.get("/operator/organizations?over_limit=y").get_data(as_text=True)
    assert "株式会社エー" in html and "株式会社ビー" not in html and suspended.name not in html
    # Bad filter values are ignored, not a 500.
    assert operator_client.get("/operator/organizations?status=nope&page=-3").status_code == 200


def test_list_runs_a_fixed_number_of_queries(app, operator_client, make_org, make_user):
    def statements_for_list() -> int:
        seen = []

        def count(*args):
            seen.append(1)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert operator_client.get("/operator/organizations").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    few = statements_for_list()
    for _ in range(6):
        org = make_org()
        make_user(Role.LEARNER, org)
    assert statements_for_list() == few


def test_detail_shows_seats_admins_and_activity(operator_client, world, make_user):
    make_user(Role.LEARNER, world["org_a"], login_id="A002")
    make_user(Role.LEARNER, world["org_a"], login_id="A003", is_active_flag=False)
    html = operator_client.get(f"/operator/organizations/{world['org_a'].id}").get_data(as_text=True)
    assert "2 / 100" in html  # two active learners (learner_a and A002), the inactive one does not count
    assert world["admin_a"].email in html and "主管理者" in html
    assert "スタンダード" in html


def test_contract_edit_validates_and_audits(operator_client, world, run_in_app):
    url = f"/operator/organizations/{world['org_a'].id}/contract"
    data = {
        "plan_name": "プレミアム",
        "starts_on": "2026-04-01",
        "ends_on": "2026-01-01",
        "seat_limit": "200",
        "annual_fee": "500000",
        "overage_unit_price": "2500",
    }
    response = post_form(operator_client, url, data)
    assert response.status_code == 422
    assert "契約終了日は契約開始日より後の日付にしてください。" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(Contract.plan_name))) == "スタンダード"
    response = post_form(operator_client, url, {**data, "ends_on": "2027-03-31"})
    assert response.status_code == 303
    contract, event_ = fetch(
        run_in_app,
        lambda: (
            db.session.scalar(select(Contract)),
            db.session.scalar(select(AuditEvent).where(AuditEvent.action == "contract.updated")),
        ),
    )
    assert (contract.plan_name, contract.seat_limit) == ("プレミアム", 200)
    assert event_.details["changes"]["seat_limit"] == [100, 200]


def test_status_change_needs_a_reason(operator_client, world, run_in_app):
    url = f"/operator/organizations/{world['org_a'].id}/status"
    response = post_form(operator_client, url, {"status": "suspended", "reason": " "}, page=url.rsplit("/", 1)[0])
    assert response.status_code == 422
    assert "利用停止・契約終了には理由を入力してください。" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.get(Organization, world["org_a"].id).status) == "active"


# --- part 2: administrator IDs ----------------------------------------------------------------


def profile_form(**overrides) -> dict:
    data = {
        "organization_name": "株式会社サンプル",
        "postal_code": "101-0062",
        "prefecture": "東京都",
        "address_line1": "千代田区神田駿河台3-1-7",
        "address_line2": "お茶の水ビル4F",
        "phone": "03-1234-5678",
        "admin_name": "山田 花子",
    }
    data.update(overrides)
    return data


def accept(app, link: str):
    c = app.test_client()
    page = c.get(link)
    assert page.status_code == 200
    response = c.post(
        link,
        data={
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )
    return c, response


def test_invitation_sets_password_once_then_registration_is_required(app, new_org, run_in_app):
    org_id, link = new_org
    c, response = accept(app, link)
    assert response.status_code == 303
    # Signed in; every org screen leads to the registration form until it is done.
    for url in ("/org/", "/org/members", "/org/invoices", "/org/audit"):
        response = c.get(url)
        assert response.status_code == 302 and response.headers["Location"].endswith("/org/profile"), url
    assert "組織の登録" in c.get("/org/profile").get_data(as_text=True)
    # A reused link gets a clear Japanese page.
    reused = app.test_client().get(link)
    assert reused.status_code == 404
    assert "この招待リンクは使用できません" in reused.get_data(as_text=True)
    assert run_in_app(
        lambda: db.session.scalar(select(User).where(User.email == "hanako@sample.example.com")).password_hash
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"postal_code": "1010062"}, "郵便番号は「123-4567」の形式で入力してください。"),
        ({"postal_code": "101-006"}, "郵便番号は「123-4567」の形式で入力してください。"),
        ({"prefecture": "東京"}, "Not a valid choice"),
        ({"prefecture": ""}, "都道府県を選んでください。"),
        ({"phone": "1234"}, "電話番号は「03-1234-5678」のように"),
        ({"address_line1": ""}, "市区町村・番地を入力してください。"),
        ({"admin_name": ""}, "管理者の氏名を入力してください。"),
        ({"organization_name": "株式会社ビー"}, "同じ法人名の組織がすでに登録されています。"),
    ],
)
def test_registration_refuses_bad_input(app, new_org, run_in_app, overrides, message):
    _org_id, link = new_org
    c, _ = accept(app, link)
    response = post_form(c, "/org/profile", profile_form(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    if message != "Not a valid choice":
        assert message in html
    assert (
        run_in_app(
            lambda: db.session.scalar(
                select(OrganizationProfile.registered_at).where(OrganizationProfile.organization_id == _org_id)
            )
        )
        is None
    )


def test_registration_then_changes_are_audited(app, new_org, run_in_app):
    org_id, link = new_org
    c, _ = accept(app, link)
    # Full-width digits, as typed with a Japanese IME, are accepted and stored half-width.
    response = post_form(
        c, "/org/profile", profile_form(postal_code="１０１−００６２", phone="０３－１２３４－５６７８")
    )
    assert response.status_code == 303
    assert c.get("/org/").status_code == 200
    profile = fetch(
        run_in_app,
        lambda: db.session.scalar(select(OrganizationProfile).where(OrganizationProfile.organization_id == org_id)),
    )
    assert profile.registered_at is not None
    assert (profile.postal_code, profile.phone, profile.prefecture) == ("101-0062", "03-1234-5678", "東京都")
    response = post_form(c, "/org/profile", profile_form(organization_name="株式会社サンプルHD", address_line2=""))
    assert response.status_code == 303

    def check():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(["org.profile_registered", "org.profile_updated"]))
            .order_by(AuditEvent.id)
        ).all()
        return [(e.action, e.details.get("changes", {})) for e in events], db.session.get(Organization, org_id).name

    events, name = run_in_app(check)
    assert [a for a, _ in events] == ["org.profile_registered", "org.profile_updated"]
    assert events[1][1]["organization_name"] == ["株式会社サンプル", "株式会社サンプルHD"]
    assert name == "株式会社サンプルHD"


def test_expired_invitation_gets_the_same_clear_page(app, new_org, run_in_app):
    _org_id, link = new_org
    run_in_app(
        lambda: db.session.execute(OneTimeToken.__table__.update().values(expires_at=utcnow() - timedelta(minutes=1)))
    )
    response = app.test_client().get(link)
    assert response.status_code == 404
    assert "有効期限が切れているか" in response.get_data(as_text=True)


def test_resend_invalidates_the_earlier_link(app, operator_client, new_org, run_in_app):
    org_id, first_link = new_org
    admin_id = run_in_app(lambda: db.session.scalar(select(User.id).where(User.email == "hanako@sample.example.com")))
    detail = f"/operator/organizations/{org_id}"
    response = post_form(operator_client, f"{detail}/admins/{admin_id}/resend", {}, page=detail)
    assert response.status_code == 303
    second_link = invitation_link(run_in_app, "hanako@sample.example.com")
    assert second_link != first_link
    assert app.test_client().get(first_link).status_code == 404
    assert app.test_client().get(second_link).status_code == 200


def test_primary_admin_invites_a_manager_but_another_admin_cannot(world, login_as, make_user, run_in_app):
    primary = login_as(world["admin_a"])
    response = post_form(primary, "/org/members", {"name": "課長 C", "email": "c@a.example.com", "role": "manager"})
    assert response.status_code == 303
    invited = fetch(run_in_app, lambda: db.session.scalar(select(User).where(User.email == "c@a.example.com")))
    assert (invited.role, invited.organization_id, invited.password_hash) == ("manager", world["org_a"].id, None)
    assert invitation_link(run_in_app, "c@a.example.com").startswith("/invitation/")
    # The same email again is refused with a message.
    response = post_form(primary, "/org/members", {"name": "課長 C", "email": "c@a.example.com", "role": "manager"})
    assert response.status_code == 422
    assert "このメールアドレスは登録できません。" in response.get_data(as_text=True)
    # A second administrator is not the primary one.
    other = make_user(Role.ORG_ADMIN, world["org_a"], name="管理 A2")
    c = login_as(other)
    assert "主管理者が行います" in c.get("/org/members").get_data(as_text=True)
    token = csrf_token_from(c.get("/org/members").get_data(as_text=True))
    response = c.post(
        "/org/members", data={"name": "x", "email": "x@a.example.com", "role": "org_admin", "csrf_token": token}
    )
    assert response.status_code == 403
    assert run_in_app(lambda: db.session.scalar(select(User).where(User.email == "x@a.example.com"))) is None


def test_manager_cannot_edit_the_profile(world, login_as):
    c = login_as(world["manager_a"])
    assert c.get("/org/profile").status_code == 200
    token = csrf_token_from(c.get("/org/profile").get_data(as_text=True))
    assert c.post("/org/profile", data={**profile_form(), "csrf_token": token}).status_code == 403


def test_password_is_required_to_sign_in_before_acceptance(app, new_org):
    from tests.conftest import login

    c = app.test_client()
    response = login(c, "hanako@sample.example.com", PASSWORD)
    assert response.status_code == 200
    assert "メールアドレスまたはパスワードが正しくありません。" in response.get_data(as_text=True)


def test_search_treats_wildcards_literally(operator_client, make_org):
    make_org("百%商事株式会社")
    html = operator_client.get("/operator/organizations?q=%25").get_data(as_text=True)
    assert "百%商事株式会社" in html and "株式会社エー" not in html


# --- the legal form and the 法人番号 (#20 item 8): the rules of /apply/ (portal/corporations.py) -------------


def _org_named(run_in_app, name: str):
    return run_in_app(
        lambda: db.session.scalar(select(Organization.corporate_number).where(Organization.name == name))
    )


def test_a_name_without_a_legal_form_is_warned_about_and_can_be_confirmed_past(operator_client, run_in_app):
    before = counts(run_in_app)
    data = org_form(name="サンプル商店", corporate_number="")
    response = post_form(operator_client, "/operator/organizations/new", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "法人名に法人格(「株式会社」「合同会社」「一般社団法人」など)が含まれていません。" in html
    assert 'value="サンプル商店"' in html and 'name="without_legal_form"' in html  # what was typed is kept
    assert counts(run_in_app) == before

    response = post_form(operator_client, "/operator/organizations/new", {**data, "without_legal_form": "y"})
    assert response.status_code == 303
    assert _org_named(run_in_app, "サンプル商店") is None  # no 法人番号 given: none stored


@pytest.mark.parametrize(
    "name", ["合同会社テスト", "一般社団法人テスト協会", "医療法人社団テスト会", "特定非営利活動法人テスト"]
)
def test_names_with_a_legal_form_need_no_confirmation(operator_client, run_in_app, name):
    response = post_form(operator_client, "/operator/organizations/new", org_form(name=name))
    assert response.status_code == 303


def test_the_corporate_number_is_checked_like_the_application_form_and_stored_folded(operator_client, run_in_app):
    before = counts(run_in_app)
    wrong = post_form(operator_client, "/operator/organizations/new", org_form(corporate_number="2180301018771"))
    assert wrong.status_code == 422
    assert "法人番号が正しくありません(チェックデジットが一致しません)。" in wrong.get_data(as_text=True)
    short = post_form(operator_client, "/operator/organizations/new", org_form(corporate_number="12345"))
    assert short.status_code == 422 and "法人番号は13桁の数字で入力してください。" in short.get_data(as_text=True)
    assert counts(run_in_app) == before

    # Full-width digits and hyphens, as people copy them from the National Tax Agency's site.
    folded = org_form(corporate_number="１１８０-３０１０-１８７７１")
    ok = post_form(operator_client, "/operator/organizations/new", folded)
    assert ok.status_code == 303
    assert _org_named(run_in_app, "株式会社サンプル") == "1180301018771"
    detail = operator_client.get(ok.headers["Location"]).get_data(as_text=True)
    assert "1180301018771" in detail
