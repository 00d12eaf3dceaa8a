"""Notices (Art. 9, 11, 20, 21): publishing, the board, who read, maintenance, status page, addresses."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from portal.clock import add_months_to_date, today_in_tokyo
from portal.extensions import db
from portal.models import AuditEvent, Notice, NoticeRead, NoticeUpdate, Organization, OutboxMessage, utcnow
from tests.conftest import csrf_token_from
from tests.test_backoffice_orgs import post_form

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def operator_client(world, login_as):
    return login_as(world["operator"])


def publish(c, **fields):
    data = {
        "kind": "general",
        "title": "年末年始のサポート窓口",
        "body": "12/29〜1/3 は休業します。",
        "audience": "all",
    }
    data.update(fields)
    return post_form(c, "/operator/notices/new", data)


def local(moment: datetime) -> str:
    return moment.astimezone(TOKYO).strftime("%Y-%m-%dT%H:%M")


def notice_count(run_in_app) -> int:
    return run_in_app(lambda: db.session.scalar(select(func.count()).select_from(Notice)))


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months_to_date(date(2026, 11, 25), 3) == date(2027, 2, 25)
    assert add_months_to_date(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months_to_date(date(2027, 10, 31), 4) == date(2028, 2, 29)


def test_general_notice_reaches_board_and_primary_admins_and_reads_are_recorded(
    operator_client, world, login_as, run_in_app
):
    response = publish(operator_client)
    assert response.status_code == 303
    notice_id = run_in_app(lambda: db.session.scalar(select(Notice.id).where(Notice.title == "年末年始のサポート窓口")))
    mails = run_in_app(
        lambda: db.session.execute(
            select(OutboxMessage.to_address, OutboxMessage.subject, OutboxMessage.body_text).where(
                OutboxMessage.template == "notice"
            )
        ).all()
    )
    # org_a has a primary administrator; org_b has no registered profile, so nobody to email there.
    assert [m[0] for m in mails] == [world["admin_a"].email]
    assert "年末年始のサポート窓口" in mails[0][1]
    assert f"http://portal.test/org/notices/{notice_id}" in mails[0][2]

    admin = login_as(world["admin_a"])
    assert "未読 2件" in admin.get("/org/").get_data(as_text=True)  # this one and the fixture's notice to org_a
    board = admin.get("/org/notices").get_data(as_text=True)
    assert "年末年始のサポート窓口" in board and "未読 2件" in board
    assert "12/29〜1/3 は休業します。" in admin.get(f"/org/notices/{notice_id}").get_data(as_text=True)
    admin.get(f"/org/notices/{notice_id}")  # a second reading records nothing new
    assert "未読 1件" in admin.get("/org/notices").get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(NoticeRead))) == 1
    # admin_b sees it too (all organizations) but not the notice for org_a only.
    other = login_as(world["admin_b"])
    board_b = other.get("/org/notices").get_data(as_text=True)
    assert "年末年始のサポート窓口" in board_b and "org_a だけへのお知らせ" not in board_b

    detail = operator_client.get(f"/operator/notices/{notice_id}").get_data(as_text=True)
    assert "1 / 2 組織が既読" in detail and world["admin_a"].name in detail


def test_chosen_organizations_only(operator_client, world, login_as, run_in_app):
    response = publish(operator_client, audience="chosen", organizations=[str(world["org_b"].id)], title="B社のみ")
    assert response.status_code == 303
    assert "B社のみ" in login_as(world["admin_b"]).get("/org/notices").get_data(as_text=True)
    assert "B社のみ" not in login_as(world["admin_a"]).get("/org/notices").get_data(as_text=True)
    response = publish(operator_client, audience="chosen", title="宛先なし")
    assert response.status_code == 422
    assert "送信先の組織を1つ以上選んでください。" in response.get_data(as_text=True)


def test_service_end_needs_three_months_notice(operator_client, run_in_app):
    before = notice_count(run_in_app)
    too_soon = add_months_to_date(today_in_tokyo(), 3) - timedelta(days=1)
    response = publish(operator_client, kind="service_end", title="終了", service_ends_on=too_soon.isoformat())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "終了日の3か月前までに通知する必要があります(利用規約第21条)" in html
    assert notice_count(run_in_app) == before
    response = publish(operator_client, kind="service_end", title="終了", service_ends_on="")
    assert response.status_code == 422 and "サービス提供の終了日を入力してください。" in response.get_data(as_text=True)
    just_enough = add_months_to_date(today_in_tokyo(), 3)
    response = publish(operator_client, kind="service_end", title="終了", service_ends_on=just_enough.isoformat())
    assert response.status_code == 303
    assert notice_count(run_in_app) == before + 1


def test_maintenance_window_banner_page_and_status(operator_client, world, login_as, run_in_app, client):
    now = utcnow()
    bad = publish(
        operator_client,
        kind="maintenance",
        title="点検",
        starts_at=local(now + timedelta(hours=2)),
        ends_at=local(now + timedelta(hours=1)),
    )
    assert bad.status_code == 422
    assert "メンテナンスの終了日時は開始日時より後にしてください。" in bad.get_data(as_text=True)

    response = publish(
        operator_client,
        kind="maintenance",
        title="定期点検",
        body="サーバーの点検を行います。",
        starts_at=local(now + timedelta(days=2)),
        ends_at=local(now + timedelta(days=2, hours=3)),
    )
    assert response.status_code == 303
    learner = login_as(world["learner_a"])
    page = learner.get("/me/").get_data(as_text=True)
    assert "メンテナンスのお知らせ" in page and "定期点検" in page
    assert "定期点検" in client.get("/status/").get_data(as_text=True)

    # Move the window to now: members get the maintenance page; staff keep working.
    def start_now():
        notice = db.session.scalar(select(Notice).where(Notice.title == "定期点検"))
        notice.starts_at = utcnow() - timedelta(minutes=5)

    run_in_app(start_now)
    for c, url in ((learner, "/me/"), (login_as(world["admin_b"]), "/org/notices")):
        response = c.get(url)
        assert response.status_code == 503 and "ただいまメンテナンス中です" in response.get_data(as_text=True)
        assert int(response.headers["Retry-After"]) > 0
    assert operator_client.get("/operator/").status_code == 200
    assert client.get("/login").status_code == 200
    assert learner.get("/status/").status_code == 200


def test_maintenance_for_chosen_organizations_leaves_others_alone(operator_client, world, login_as, run_in_app):
    now = utcnow()
    response = publish(
        operator_client,
        kind="maintenance",
        title="B社のデータ移行",
        audience="chosen",
        organizations=[str(world["org_b"].id)],
        starts_at=local(now - timedelta(minutes=5)),
        ends_at=local(now + timedelta(hours=1)),
    )
    assert response.status_code == 303
    learner_b = login_as(world["learner_b"])
    assert learner_b.get("/me/").status_code == 503
    htmx = learner_b.get("/me/", headers={"HX-Request": "true"})
    assert htmx.status_code == 503 and htmx.headers["HX-Retarget"] == "#flash"
    assert htmx.headers["HX-Reselect"] == "unset"  # shown whole, whatever the element selects
    assert login_as(world["learner_a"]).get("/me/").status_code == 200


def test_incident_updates_until_resolved(operator_client, world, login_as, run_in_app, client):
    assert (
        publish(operator_client, kind="incident", title="ログインしにくい障害", body="調査しています。").status_code
        == 303
    )
    notice_id = run_in_app(lambda: db.session.scalar(select(Notice.id).where(Notice.kind == "incident")))
    assert "ログインしにくい障害" in client.get("/status/").get_data(as_text=True)
    url = f"/operator/notices/{notice_id}"
    response = post_form(
        operator_client, f"{url}/updates", {"status": "identified", "body": "原因を特定しました。"}, page=url
    )
    assert response.status_code == 303
    response = post_form(operator_client, f"{url}/updates", {"status": "resolved", "body": "復旧しました。"}, page=url)
    assert response.status_code == 303
    assert "ログインしにくい障害" not in client.get("/status/").get_data(as_text=True)
    html = login_as(world["admin_a"]).get(f"/org/notices/{notice_id}").get_data(as_text=True)
    assert "原因を特定しました。" in html and "復旧しました。" in html and "解決済み" in html
    # Once resolved, no more updates: the service refuses, and the form is gone.
    token = csrf_token_from(operator_client.get("/operator/notices").get_data(as_text=True))
    response = operator_client.post(f"{url}/updates", data={"status": "monitoring", "body": "x", "csrf_token": token})
    assert response.status_code == 422 and "この障害はすでに解決済みです。" in response.get_data(as_text=True)
    subjects = run_in_app(
        lambda: db.session.scalars(select(OutboxMessage.subject).where(OutboxMessage.template == "notice")).all()
    )
    assert len(subjects) == 3 and any("解決済み" in s for s in subjects)
    # Updates only for incidents.
    response = post_form(
        operator_client,
        f"/operator/notices/{world['notice_a'].id}/updates",
        {"status": "resolved", "body": "x"},
        page=url,
    )
    assert response.status_code == 422 and "経過報告は障害のお知らせにだけ追加できます。" in response.get_data(
        as_text=True
    )


def test_status_page_shows_open_incidents_with_their_updates_newest_first_from_the_processs_copy(
    operator_client, run_in_app, client, app
):
    """The status page is what everyone opens during an incident: it is read from the process's copy, checked
    against the notices' version (one statement) instead of loading every notice and its updates (it set off
    one query per incident from its template), and still shows another process's update at once."""
    from tests.test_query_counts import statements_while_rendering

    for title in ("ログインしにくい障害", "メールが遅れる障害"):
        assert publish(operator_client, kind="incident", title=title, body="調査しています。").status_code == 303
    first, second = run_in_app(
        lambda: db.session.scalars(select(Notice.id).where(Notice.kind == "incident").order_by(Notice.id)).all()
    )
    url = f"/operator/notices/{first}"
    for status, body in (("identified", "原因を特定しました。"), ("monitoring", "復旧後の様子を見ています。")):
        response = post_form(operator_client, f"{url}/updates", {"status": status, "body": body}, page=url)
        assert response.status_code == 303

    client.get("/status/")  # the process keeps what the page shows
    with statements_while_rendering(app) as (seen, in_templates):
        html = client.get("/status/").get_data(as_text=True)
    assert in_templates == []
    assert len(seen) <= 2, seen  # the transaction's opening and the notices' version
    # Newest incident first; an incident's updates newest first, with their status.
    assert html.index("メールが遅れる障害") < html.index("ログインしにくい障害")
    assert html.index("復旧後の様子を見ています。") < html.index("原因を特定しました。")
    assert "経過観察中" in html and "原因特定" in html

    def written_elsewhere():
        # Another process's write: straight through a connection, unseen by this process's session.
        with db.engine.begin() as connection:
            connection.execute(insert(NoticeUpdate).values(notice_id=second, status="identified",
                                                           body="別のプロセスが書いた経過報告",
                                                           created_at=datetime(2026, 12, 7, 9, tzinfo=TOKYO)))

    run_in_app(written_elsewhere)
    assert "別のプロセスが書いた経過報告" in client.get("/status/").get_data(as_text=True)
    # Resolved here: gone from the page at once.
    assert post_form(operator_client, f"{url}/updates", {"status": "resolved", "body": "復旧しました。"},
                     page=url).status_code == 303
    html = client.get("/status/").get_data(as_text=True)
    assert "ログインしにくい障害" not in html and "メールが遅れる障害" in html


def test_suspended_administrator_can_still_read_notices(operator_client, world, login_as, run_in_app):
    run_in_app(
        lambda: db.session.execute(
            Organization.__table__.update().where(Organization.id == world["org_a"].id).values(status="suspended")
        )
    )
    admin = login_as(world["admin_a"])
    assert admin.get("/org/notices").status_code == 200
    assert admin.get(f"/org/notices/{world['notice_a'].id}").status_code == 200
    assert login_as(world["manager_a"]).get("/org/notices").status_code == 403


def test_address_csv_for_chosen_organizations(operator_client, world, run_in_app, make_org):
    tricky = make_org("=HYPERLINK(1)")
    data = {"organizations": [str(world["org_a"].id), str(tricky.id)]}
    response = post_form(operator_client, "/operator/notices/addresses", data)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    lines = text.lstrip("\ufeff").splitlines()
    assert text.startswith("\ufeff")
    assert lines[0] == "法人名,郵便番号,都道府県,住所1,住所2,電話番号,主管理者"
    assert "株式会社エー,101-0062,東京都,千代田区神田駿河台1-1,,03-1234-5678,管理 A" in lines
    assert "'=HYPERLINK(1),,,,,," in lines and "株式会社ビー" not in text
    assert (
        run_in_app(
            lambda: db.session.scalar(select(func.count()).where(AuditEvent.action == "notice.addresses_exported"))
        )
        == 1
    )
    response = post_form(operator_client, "/operator/notices/addresses", {})
    assert response.status_code == 422 and "組織を1つ以上選んでください。" in response.get_data(as_text=True)


def test_start_page_lists_open_incidents_and_dead_emails(operator_client, run_in_app, world):
    assert publish(operator_client, kind="incident", title="配信遅延", body="調査中").status_code == 303

    def dead_email():
        db.session.add(
            OutboxMessage(
                idempotency_key="dead-1",
                template="notice",
                to_address="gone@example.com",
                subject="届かない件名",
                body_text="x",
                status="dead",
                last_error="550 mailbox unavailable",
                created_at=utcnow() - timedelta(hours=2),
            )
        )
        db.session.add(
            OutboxMessage(
                idempotency_key="dead-old",
                template="notice",
                to_address="old@example.com",
                subject="古い件名",
                body_text="x",
                status="dead",
                created_at=utcnow() - timedelta(hours=30),
            )
        )

    run_in_app(dead_email)
    html = operator_client.get("/operator/").get_data(as_text=True)
    assert "配信遅延" in html and "調査中" in html
    assert "届かない件名" in html and "550 mailbox unavailable" in html and "古い件名" not in html


def test_maintenance_without_window_is_refused(operator_client, run_in_app):
    before = notice_count(run_in_app)
    response = publish(operator_client, kind="maintenance", title="点検")
    assert response.status_code == 422
    assert "メンテナンスの開始日時と終了日時を入力してください。" in response.get_data(as_text=True)
    assert notice_count(run_in_app) == before
