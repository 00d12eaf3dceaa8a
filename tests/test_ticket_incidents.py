"""A 事故・障害報告 ticket is linked to the operator's incident notice about it (Art. 11)."""

from sqlalchemy import select

from portal.extensions import db
from portal.models import Notice, NoticeTarget, Ticket, TicketEvent
from tests.conftest import csrf_token_from


def _notice(run_in_app, title, *, kind="incident", to_org=None):
    def create():
        notice = Notice(kind=kind, title=title, body="調査中です。", all_organizations=to_org is None,
                        incident_status="investigating" if kind == "incident" else None)
        db.session.add(notice)
        db.session.flush()
        if to_org is not None:
            db.session.add(NoticeTarget(notice_id=notice.id, organization_id=to_org.id))
        return notice.id

    return run_in_app(create)


def _link(staff, ticket_id, notice_id):
    page = staff.get(f"/tickets/{ticket_id}").get_data(as_text=True)
    return staff.post(f"/tickets/{ticket_id}/incident",
                      data={"csrf_token": csrf_token_from(page), "notice_id": str(notice_id)})


def test_support_links_an_incident_report_and_the_customer_sees_the_notice(world, login_as, make_ticket, run_in_app):
    ticket = make_ticket(world["admin_a"], category="incident", subject="ログインできない", body="全員が入れません")
    notice_id = _notice(run_in_app, "ログイン障害について")
    support = login_as(world["support"])
    assert "ログイン障害について" in support.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert _link(support, ticket.id, notice_id).status_code == 303
    assert run_in_app(lambda: db.session.get(Ticket, ticket.id).incident_notice_id) == notice_id
    kinds = run_in_app(lambda: db.session.scalars(select(TicketEvent.kind)).all())
    assert "notice_linked" in kinds
    page = login_as(world["admin_a"]).get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "関連する障害のお知らせ" in page and f"/org/notices/{notice_id}" in page


def test_only_incident_reports_and_notices_the_organization_receives(world, login_as, make_ticket, run_in_app):
    question = make_ticket(world["admin_a"], category="question")
    incident = make_ticket(world["admin_a"], category="incident", subject="障害", body="止まっています")
    for_org_b = _notice(run_in_app, "ビーだけの障害", to_org=world["org_b"])
    general = _notice(run_in_app, "一般のお知らせ", kind="general")
    ok = _notice(run_in_app, "全体の障害")
    support = login_as(world["support"])
    refused = _link(support, question.id, ok)
    assert refused.status_code in (409, 422)
    assert "事故・障害報告" in refused.get_data(as_text=True)
    for notice_id in (for_org_b, general):
        response = _link(support, incident.id, notice_id)
        assert response.status_code in (409, 422)
        assert "障害のお知らせから選んでください" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.get(Ticket, incident.id).incident_notice_id) is None
