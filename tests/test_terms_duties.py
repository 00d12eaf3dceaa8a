"""The rest of the terms (#20 item 7): the 14-day cure notice (Art. 16-3), the anti-social-forces declaration
and screening (Art. 24), the public subcontractors (Art. 6), the staff's training record (Art. 4-2), the service
end (Art. 21), and the small ones (a handover that ends access, the first terms version, older acceptances)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select

from portal import notices
from portal.clock import today_in_tokyo, utcnow
from portal.extensions import db
from portal.jobs import REGISTRY
from portal.models import (
    Application,
    AuditEvent,
    CureNotice,
    LegalDocument,
    Notice,
    Organization,
    Role,
    Subcontractor,
    TermsAcceptance,
    User,
)
from portal.tenancy import unscoped
from tests.application_helpers import make_application, make_terms
from tests.clock import jst
from tests.conftest import csrf_token_from
from tests.test_backoffice_orgs import post_form


def actions(run_in_app, prefix: str) -> list[str]:
    return run_in_app(
        lambda: list(db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.startswith(prefix)).order_by(AuditEvent.id)
        ))
    )


# --- the cure notice (催告, Art. 16-3) -------------------------------------------------------------------


def test_a_cure_notice_has_a_14_day_deadline_then_cancellation_is_offered(
    world, login_as, run_in_app, time_machine, mailbox
):
    time_machine.move_to(jst(2026, 11, 2, 10, 0))
    detail = f"/operator/organizations/{world['org_a'].id}"
    operator = login_as(world["operator"])
    # Nothing described: refused in Japanese, the page comes back (422), nothing sent.
    response = post_form(operator, f"{detail}/cure-notices", {"breach": "  "}, page=detail)
    assert response.status_code == 422
    assert "是正を求める違反の内容を入力してください。" in response.get_data(as_text=True)
    # Cancelling on ground 16-3 without an expired notice is refused (rolled back, the reason flashed).
    post_form(operator, f"{detail}/cancel", {"ground": "16-3"}, page=detail)
    assert "催告の是正期限(14日)が過ぎても是正されていない場合にだけ" in operator.get(detail).get_data(as_text=True)
    assert run_in_app(lambda: db.session.get(Organization, world["org_a"].id).status) == "active"

    breach = {"breach": "2026年10月分の利用料金が未払いです。"}
    response = post_form(operator, f"{detail}/cure-notices", breach, page=detail)
    assert response.status_code == 303
    notice = run_in_app(lambda: db.session.scalar(select(CureNotice)))
    assert notice.deadline_on.isoformat() == "2026-11-16"
    page = operator.get(detail).get_data(as_text=True)
    assert "2026/11/16" in page and "是正待ち(あと14日)" in page
    # A second notice while one is open is refused.
    response = post_form(operator, f"{detail}/cure-notices", {"breach": "別件"}, page=detail)
    assert response.status_code == 422 and "是正されていない催告がすでにあります" in response.get_data(as_text=True)
    # The primary administrator is told, through the outbox and real SMTP.
    bodies = mailbox(world["admin_a"].email)
    assert any("2026年10月分の利用料金が未払いです。" in b and "2026/11/16" in b for b in bodies)

    # On the deadline itself the breach may still be cured: not expired, no cancellation.
    time_machine.move_to(jst(2026, 11, 16, 23, 0))
    run_in_app(lambda: REGISTRY["cure_notices.expire"].func(utcnow()))
    operator = login_as(world["operator"])
    assert "是正期限を過ぎた催告" not in operator.get("/operator/").get_data(as_text=True)
    post_form(operator, f"{detail}/cancel", {"ground": "16-3"}, page=detail)
    assert run_in_app(lambda: db.session.get(Organization, world["org_a"].id).status) == "active"

    # The day after: expired, recorded once by the job, listed on the operator's home; cancellation offered.
    time_machine.move_to(jst(2026, 11, 17, 9, 0))
    for _ in range(2):
        run_in_app(lambda: REGISTRY["cure_notices.expire"].func(utcnow()))
    assert actions(run_in_app, "org.cure_deadline_passed") == ["org.cure_deadline_passed"]
    operator = login_as(world["operator"])
    home = operator.get("/operator/").get_data(as_text=True)
    assert "是正期限を過ぎた催告" in home and world["org_a"].name in home
    page = operator.get(detail).get_data(as_text=True)
    assert "期限切れ(未是正)" in page and "催告期間の経過により契約を解除する" in page
    assert post_form(operator, f"{detail}/cancel", {"ground": "16-3"}, page=detail).status_code == 303
    assert run_in_app(lambda: db.session.get(Organization, world["org_a"].id).status) == "terminated"
    assert actions(run_in_app, "org.cure_notice_sent") == ["org.cure_notice_sent"]
    assert actions(run_in_app, "org.contract_cancelled") == ["org.contract_cancelled"]


def test_a_cured_notice_closes_and_does_not_allow_cancellation(world, login_as, run_in_app, time_machine):
    time_machine.move_to(jst(2026, 11, 2, 10, 0))
    detail = f"/operator/organizations/{world['org_a'].id}"
    operator = login_as(world["operator"])
    post_form(operator, f"{detail}/cure-notices", {"breach": "未払い"}, page=detail)
    notice_id = run_in_app(lambda: db.session.scalar(select(CureNotice.id)))
    cured = f"/operator/cure-notices/{notice_id}/cured"
    assert post_form(operator, cured, {"note": "入金を確認"}, page=detail).status_code == 303
    # Twice: the second is refused and changes nothing.
    post_form(operator, f"/operator/cure-notices/{notice_id}/cured", {"note": "再度"}, page=detail)
    notice = run_in_app(lambda: db.session.get(CureNotice, notice_id))
    assert notice.cured_at is not None and notice.cure_note == "入金を確認"
    time_machine.move_to(jst(2026, 12, 1, 10, 0))
    operator = login_as(world["operator"])
    assert post_form(operator, f"{detail}/cancel", {"ground": "16-3"}, page=detail).status_code == 303
    assert run_in_app(lambda: db.session.get(Organization, world["org_a"].id).status) == "active"
    assert "是正済み" in operator.get(detail).get_data(as_text=True)
    # Another tenant's or an unknown notice: 404.
    assert post_form(operator, "/operator/cure-notices/999999/cured", {}, page=detail).status_code == 404


# --- the anti-social-forces declaration and screening (Art. 24) -----------------------------------------


APPLY = {
    "corporate_name": "株式会社テスト商事",
    "corporate_number": "1180301018771",
    "postal_code": "101-0062",
    "prefecture": "東京都",
    "address_line1": "千代田区神田駿河台1-1",
    "applicant_name": "申込 一郎",
    "applicant_email": "ichiro@test-shoji.example.com",
    "admin_name": "管理 花子",
    "admin_email": "hanako@test-shoji.example.com",
    "expected_learners": "30",
    "services": "secutore",
    "accept_terms": "y",
}


def test_the_declaration_is_required_and_recorded_with_its_time(app, client, run_in_app):
    run_in_app(lambda: (make_terms(), db.session.commit()))
    data = {**APPLY, "desired_start_on": (today_in_tokyo() + timedelta(days=10)).isoformat()}
    response = post_form(client, "/apply/", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "反社会的勢力ではないことの表明・保証が必要です" in body
    assert 'value="株式会社テスト商事"' in body  # what was typed is kept
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(Application))) == 0
    before = utcnow()
    response = post_form(client, "/apply/", {**data, "declare_antisocial": "y"})
    assert response.status_code == 303
    declared = run_in_app(lambda: db.session.scalar(select(Application.antisocial_declared_at)))
    assert declared is not None and declared >= before.replace(microsecond=0).astimezone(UTC) - timedelta(seconds=1)


def test_approval_waits_for_a_clear_screening(world, login_as, run_in_app):
    application_id = run_in_app(
        lambda: (a := make_application(screening_result=None, screened_on=None), db.session.commit(), a.id)[2]
    )
    url = f"/operator/applications/{application_id}"
    operator = login_as(world["operator"])
    contract = {
        "plan_name": "スタンダード", "starts_on": (today_in_tokyo() + timedelta(days=14)).isoformat(),
        "ends_on": (today_in_tokyo() + timedelta(days=378)).isoformat(), "seat_limit": "40",
        "annual_fee": "100000", "overage_unit_price": "1000",
    }
    response = post_form(operator, f"{url}/approve", contract, page=url)
    assert response.status_code == 422
    assert "反社会的勢力の確認結果(反社チェック)を記録してください" in response.get_data(as_text=True)
    # The refusal stays on record although the request rolled back.
    assert actions(run_in_app, "application.approval_refused") == ["application.approval_refused"]

    # A concern needs a note; a day in the future is refused; then a concern blocks approval.
    today = today_in_tokyo()
    data = {"result": "concern", "screened_on": today.isoformat()}
    response = post_form(operator, f"{url}/screening", data, page=url)
    assert response.status_code == 422 and "メモに入力してください" in response.get_data(as_text=True)
    future = (today + timedelta(days=1)).isoformat()
    response = post_form(operator, f"{url}/screening", {"result": "clear", "screened_on": future}, page=url)
    assert response.status_code == 422 and "確認日は今日以前" in response.get_data(as_text=True)
    data = {"result": "bogus", "screened_on": today.isoformat()}
    response = post_form(operator, f"{url}/screening", data, page=url)
    assert response.status_code == 422
    data = {"result": "concern", "screened_on": today.isoformat(), "note": "報道あり"}
    assert post_form(operator, f"{url}/screening", data, page=url).status_code == 303
    response = post_form(operator, f"{url}/approve", contract, page=url)
    assert response.status_code == 422 and "懸念ありと記録された申込は承認できません" in response.get_data(as_text=True)

    # Cleared after a closer look: approval goes through; who, when and the note are on the page.
    data = {"result": "clear", "screened_on": today.isoformat(), "note": "データベース照会で該当なし"}
    assert post_form(operator, f"{url}/screening", data, page=url).status_code == 303
    page = operator.get(url).get_data(as_text=True)
    assert "該当なし(問題なし)" in page and world["operator"].name in page and "データベース照会で該当なし" in page
    assert post_form(operator, f"{url}/approve", contract, page=url).status_code == 303
    assert actions(run_in_app, "application.screened") == ["application.screened"] * 2


# --- the public list of subcontractors (Art. 6) ---------------------------------------------------------


def test_subcontractors_are_public_and_their_changes_audited(world, login_as, client, run_in_app):
    operator = login_as(world["operator"])
    response = post_form(operator, "/operator/subcontractors", {"name": "", "purpose": "x", "location": "y"})
    assert response.status_code == 422 and "委託先の名称を入力してください" in response.get_data(as_text=True)
    data = {"name": "株式会社クラウド基盤", "purpose": "サーバーの運用", "location": "東京都・日本"}
    assert post_form(operator, "/operator/subcontractors", data).status_code == 303
    public = client.get("/legal/subcontractors")
    assert public.status_code == 200
    assert "株式会社クラウド基盤" in public.get_data(as_text=True) and "東京都・日本" in public.get_data(as_text=True)

    sub_id = run_in_app(lambda: db.session.scalar(select(Subcontractor.id)))
    edit = f"/operator/subcontractors/{sub_id}/edit"
    assert post_form(operator, edit, {**data, "location": "大阪府・日本"}).status_code == 303
    assert "大阪府・日本" in client.get("/legal/subcontractors").get_data(as_text=True)
    delete = f"/operator/subcontractors/{sub_id}/delete"
    assert post_form(operator, delete, {}, page="/operator/subcontractors").status_code == 303
    assert "株式会社クラウド基盤" not in client.get("/legal/subcontractors").get_data(as_text=True)
    assert actions(run_in_app, "legal.subcontractor") == [
        "legal.subcontractor_added", "legal.subcontractor_changed", "legal.subcontractor_removed"
    ]
    change = run_in_app(
        lambda: db.session.scalar(select(AuditEvent).where(AuditEvent.action == "legal.subcontractor_changed"))
    )
    assert change.details["changes"] == {"location": ["東京都・日本", "大阪府・日本"]}


# --- the operator's staff take セキュトレ (Art. 4-2) ---------------------------------------------------------


def test_the_operator_sees_which_staff_completed_the_current_edition(
    app, world, login_as, make_org, make_user, run_in_app
):
    from tests.training_helpers import add_course, assignment_of, deliver, take

    staff_org = make_org("株式会社運営(社内)", code="staff")
    staff_admin = make_user(Role.ORG_ADMIN, staff_org, email="staff-admin@operator.example.com")
    # Each staff member's learner account has his staff email address as its 受講者ID (case does not matter).
    learner = make_user(
        Role.LEARNER, staff_org, email=None, login_id=world["operator"].email.upper(), name="運営 太郎"
    )
    make_user(Role.LEARNER, staff_org, email=None, login_id=world["support"].email, name="サポート 花子")
    operator = login_as(world["operator"])
    page = operator.get("/operator/staff-training").get_data(as_text=True)
    assert "PORTAL_STAFF_ORGANIZATION_CODE" in page

    app.config["STAFF_ORGANIZATION_CODE"] = "staff"
    try:
        def setup():
            with unscoped("the test reads and writes rows directly"):
                course = add_course(organization_id=None, title="情報セキュリティ基礎")
                db.session.commit()
            delivery = deliver(db.session.get(User, staff_admin.id), course.id, learner_ids=[learner.id])
            db.session.commit()
            take(assignment_of(delivery.id, learner.id).id)
            db.session.commit()

        run_in_app(setup)
        page = operator.get("/operator/staff-training").get_data(as_text=True)
        rows = {row.split("</td>")[0]: row for row in page.split('<td data-label="氏名">')[1:]}
        assert "修了" in rows["運営 太郎"] and "未修了あり" not in rows["運営 太郎"]
        assert "未修了あり" in rows["サポート 花子"]
    finally:
        app.config["STAFF_ORGANIZATION_CODE"] = None


# --- the service end (Art. 21) --------------------------------------------------------------------------


def test_service_end_stops_access_by_itself_at_the_date_except_the_export(
    app, world, login_as, run_in_app, time_machine
):
    time_machine.move_to(jst(2026, 11, 2, 10, 0))
    end_on = jst(2027, 2, 10, 0, 0).date()

    def publish():
        draft = notices.NoticeDraft(
            kind="service_end", title="サービス提供の終了", body="終了します。",
            organization_ids=[world["org_a"].id], service_ends_on=end_on,
        )
        notices.publish_notice(draft, db.session.get(User, world["operator"].id))
        db.session.commit()

    run_in_app(publish)
    # The day before the end date: everything works.
    time_machine.move_to(jst(2027, 2, 9, 23, 59))
    admin, learner = login_as(world["admin_a"]), login_as(world["learner_a"])
    assert admin.get("/org/notices").status_code == 200
    assert learner.get("/").status_code != 403

    # From the end date, by itself (no job, no operator): the closed page, except the export for administrators.
    time_machine.move_to(jst(2027, 2, 10, 0, 1))
    response = learner.get("/")
    assert response.status_code == 403 and "本サービスの提供は終了しました" in response.get_data(as_text=True)
    response = admin.get("/org/notices")
    body = response.get_data(as_text=True)
    assert response.status_code == 403 and "データを書き出す" in body
    export = admin.get("/org/export")
    assert export.status_code == 200 and export.headers["Content-Type"] == "application/zip"
    # htmx gets the fragment, the status page and the public texts stay reachable, staff keep working,
    # and another organization not concerned is not affected.
    assert admin.get("/org/notices", headers={"HX-Request": "true"}).status_code == 403
    assert learner.get("/status/").status_code == 200
    assert login_as(world["operator"]).get("/operator/").status_code == 200
    assert login_as(world["admin_b"]).get("/org/notices").status_code == 200

    # After the export period (DATA_RETENTION_DAYS after the end date): only the closed page.
    days = app.config["DATA_RETENTION_DAYS"]
    time_machine.move_to(jst(2027, 2, 10, 12, 0) + timedelta(days=days + 1))
    admin = login_as(world["admin_a"])
    assert admin.get("/org/export").status_code == 403
    assert "書き出し期間" in admin.get("/org/notices").get_data(as_text=True)


def test_a_withdrawn_service_end_stops_nothing_and_a_kept_end_date_is_read_again(
    app, world, login_as, run_in_app, time_machine
):
    """Withdrawing the notice (portal/notices.py) reopens access at once, also where the end date was kept."""
    time_machine.move_to(jst(2026, 11, 2, 10, 0))

    def publish():
        draft = notices.NoticeDraft(
            kind="service_end", title="サービス提供の終了", body="終了します。",
            organization_ids=[world["org_a"].id], service_ends_on=jst(2027, 2, 10, 0, 0).date(),
        )
        notice = notices.publish_notice(draft, db.session.get(User, world["operator"].id))
        db.session.commit()
        return notice.id

    notice_id = run_in_app(publish)
    time_machine.move_to(jst(2027, 2, 10, 0, 1))
    learner = login_as(world["learner_a"])
    assert learner.get("/").status_code == 403

    def withdraw():
        with unscoped("the test reads and writes rows directly"):
            notices.withdraw_notice(db.session.get(Notice, notice_id), db.session.get(User, world["operator"].id),
                                    reason="誤りでした")
        db.session.commit()

    run_in_app(withdraw)
    assert learner.get("/").status_code != 403


# --- the small ones -------------------------------------------------------------------------------------


def test_an_administrator_whose_access_a_handover_ended_is_not_listed_as_active(world, login_as, run_in_app):
    def end_access():
        with unscoped("the test reads and writes rows directly"):
            db.session.get(User, world["manager_a"].id).is_active_flag = False
            db.session.commit()

    operator = login_as(world["operator"])
    detail = f"/operator/organizations/{world['org_a'].id}"
    assert world["manager_a"].email in operator.get(detail).get_data(as_text=True)
    run_in_app(end_access)
    assert world["manager_a"].email not in operator.get(detail).get_data(as_text=True)


def test_the_first_terms_version_is_not_called_a_revision(world, login_as, run_in_app):
    def first_version():
        document = make_terms("初版")
        db.session.commit()
        return document.id

    run_in_app(first_version)
    admin = login_as(world["admin_a"])
    page = admin.get("/legal/accept").get_data(as_text=True)
    assert "改定" not in page and "初版" in page
    response = admin.post("/legal/accept", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303


def test_older_versions_acceptances_stay_visible_to_the_operator(world, login_as, run_in_app):
    def two_versions():
        today = today_in_tokyo()
        old = LegalDocument(kind="terms", version="2025年版", body="旧", effective_on=today - timedelta(days=400))
        new = LegalDocument(kind="terms", version="2026年版", body="新", effective_on=today - timedelta(days=1))
        db.session.add_all([old, new])
        db.session.flush()
        with unscoped("the test reads and writes rows directly"):
            db.session.add(TermsAcceptance(document_id=old.id, user_id=world["admin_a"].id,
                                           organization_id=world["org_a"].id, ip="192.0.2.1",
                                           accepted_at=utcnow() - timedelta(days=300)))
            db.session.add(TermsAcceptance(document_id=new.id, user_id=world["admin_b"].id,
                                           organization_id=world["org_b"].id, ip="192.0.2.2"))
        db.session.commit()

    run_in_app(two_versions)
    page = login_as(world["operator"]).get("/operator/legal").get_data(as_text=True)
    assert "2025年版" in page and "192.0.2.1" in page and world["admin_a"].name in page
    assert "2026年版" in page and "192.0.2.2" in page
    # A page number past the end (or not a number) is clamped, never a 500.
    assert login_as(world["operator"]).get("/operator/legal?page=abc").status_code == 200


@pytest.mark.parametrize("role", ["learner_a", "admin_a"])
def test_the_subcontractor_list_is_public_for_members_too(world, login_as, role):
    assert login_as(world[role]).get("/legal/subcontractors").status_code == 200
