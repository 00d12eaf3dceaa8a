"""Support sees the customer (#20 item 4): beside a ticket, the requester's organization, read-only, for
support and operator staff only, in a fixed number of statements."""

from __future__ import annotations

from datetime import timedelta

from bs4 import BeautifulSoup
from sqlalchemy import event

from portal.extensions import db
from portal.models import Notice, NoticeTarget, Role, Termination, User, utcnow
from portal.tenancy import unscoped
from tests.test_backoffice_orgs import post_form


def panel(response) -> BeautifulSoup | None:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser").find(id="customer")


def test_support_sees_contract_seats_admins_tickets_and_notices_of_the_requester(
    world, login_as, make_ticket, run_in_app
):
    older = [make_ticket(world["admin_a"], subject=f"以前の質問 {n}") for n in range(5)]
    ticket = make_ticket(world["admin_a"], subject="今回の質問")
    make_ticket(world["admin_b"], subject="B社の質問")
    response = login_as(world["support"]).get(f"/tickets/{ticket.id}")
    assert response.status_code == 200
    section = panel(response)
    text = section.get_text(" ", strip=True)
    assert "株式会社エー" in text and "利用中" in text
    contract = section.find("dt", string="契約").find_next_sibling("dd").get_text()
    assert "スタンダード" in contract and "2026" in contract and "2027" in contract
    assert "1 / 上限 100 名" in text  # learner_a is the one active learner
    assert "03-1234-5678" in text
    admins = section.select(".customer-admins li")
    assert len(admins) == 1 and "管理 A" in admins[0].get_text() and "主管理者" in admins[0].get_text()
    assert admins[0].find("a")["href"] == f"mailto:{world['admin_a'].email}"
    tickets = [li.get_text(" ", strip=True) for li in section.select(".customer-tickets li")]
    assert len(tickets) == 5 and "今回の質問" in tickets[0] and "以前の質問 0" not in " ".join(tickets)
    assert "B社の質問" not in text  # another organization's ticket
    assert {a["href"] for a in section.select(".customer-tickets a")} == {
        f"/tickets/{t.id}" for t in older[1:]
    }
    assert "org_a だけへのお知らせ" in text
    # Support has no way into the operator's organization pages, and is not shown one.
    assert section.find("a", href=f"/operator/organizations/{world['org_a'].id}") is None
    assert login_as(world["support"]).get(f"/operator/organizations/{world['org_a'].id}").status_code == 403


def test_status_shows_suspended_and_terminating_and_withdrawn_notices_are_left_out(
    world, login_as, make_ticket, run_in_app
):
    ticket_b = make_ticket(world["admin_b"])
    ticket_a = make_ticket(world["admin_a"])

    def change():
        with unscoped("the test reads and writes rows directly"):
            org_b = db.session.get(type(world["org_b"]), world["org_b"].id)
            org_b.status = "suspended"
            db.session.add(Termination(organization_id=world["org_a"].id, kind="customer",
                                       end_on=(utcnow() + timedelta(days=40)).date()))
            db.session.get(Notice, world["notice_a"].id).withdrawn_at = utcnow()
        db.session.commit()

    run_in_app(change)
    support = login_as(world["support"])
    b = panel(support.get(f"/tickets/{ticket_b.id}"))
    assert b.find(attrs={"data-status": True})["data-status"] == "suspended"
    assert "利用停止中" in b.get_text() and "契約の登録なし" in b.get_text() and "管理 B" in b.get_text()
    a = panel(support.get(f"/tickets/{ticket_a.id}"))
    assert a.find(attrs={"data-status": True})["data-status"] == "terminating"
    assert "解約手続き中" in a.get_text()
    assert "org_a だけへのお知らせ" not in a.get_text()


def test_only_staff_see_the_panel_and_the_operator_gets_a_link_to_the_organization(
    world, login_as, make_ticket
):
    ticket = make_ticket(world["admin_a"])
    for who in ("admin_a", "manager_a"):
        response = login_as(world[who]).get(f"/tickets/{ticket.id}")
        assert response.status_code == 200 and panel(response) is None
        assert "03-1234-5678" not in response.get_data(as_text=True)
    # Another organization's administrator learns nothing, not even that the ticket exists.
    assert login_as(world["admin_b"]).get(f"/tickets/{ticket.id}").status_code == 404
    operator = panel(login_as(world["operator"]).get(f"/tickets/{ticket.id}"))
    assert operator.find("a", href=f"/operator/organizations/{world['org_a'].id}") is not None


def test_the_panel_costs_the_same_statements_for_a_small_and_a_large_customer(
    app, world, login_as, make_ticket, run_in_app
):
    small = make_ticket(world["admin_b"])
    large = make_ticket(world["admin_a"])
    org_id = world["org_a"].id

    def grow():
        with unscoped("the test reads and writes rows directly"):
            db.session.add_all([User(role=Role.LEARNER, organization_id=org_id, login_id=f"G{i:03d}",
                                     name=f"受講 {i}", email=f"g{i}@example.com") for i in range(40)])
            db.session.add_all([User(role=Role.ORG_ADMIN, organization_id=org_id, name=f"管理 {i}",
                                     email=f"ga{i}@example.com") for i in range(6)])
            for n in range(8):
                notice = Notice(kind="general", title=f"お知らせ {n}", body="本文", all_organizations=False)
                db.session.add(notice)
                db.session.flush()
                db.session.add(NoticeTarget(notice_id=notice.id, organization_id=org_id))
        db.session.commit()

    run_in_app(grow)
    for _n in range(8):
        make_ticket(world["admin_a"], subject="追加の質問")
    support = login_as(world["support"])

    def statements(ticket_id: int) -> int:
        seen = []

        def count(*_args):
            seen.append(1)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = support.get(f"/tickets/{ticket_id}")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200 and panel(response) is not None
        return len(seen)

    statements(small.id)  # what the process caches once (translations, the site-wide state)
    assert statements(small.id) == statements(large.id)
    assert len(panel(support.get(f"/tickets/{large.id}")).select(".customer-admins li")) == 7


def test_form_posts_on_the_ticket_page_still_work_with_the_panel(world, login_as, make_ticket):
    ticket = make_ticket(world["admin_a"])
    support = login_as(world["support"])
    response = post_form(support, f"/tickets/{ticket.id}/status", {"status": "nonsense"}, page=f"/tickets/{ticket.id}")
    assert response.status_code == 422 and panel(response) is not None
