"""セキュレジ: the item library, editions, rounds, answers, results and follow-up (issue #7)."""

from __future__ import annotations

from datetime import date

from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal.blueprints.inspections.items import services
from portal.demo.inspection_items import ITEMS, seed_demo_editions, seed_demo_items
from portal.extensions import db
from portal.models import INSPECTION_CATEGORIES, AuditEvent, EditionKind, InspectionEdition, InspectionItem
from portal.tenancy import TenantScopeError, tenant_scope, unscoped
from tests.conftest import csrf_token_from

# --- item library ------------------------------------------------------------------------------------


def test_demo_library_is_idempotent_and_covers_the_categories(run_in_app):
    total, added = run_in_app(seed_demo_items)
    assert total == added == len(ITEMS) >= 60
    assert run_in_app(seed_demo_items) == (len(ITEMS), 0)
    categories = run_in_app(lambda: set(db.session.scalars(select(InspectionItem.category))))
    assert set(INSPECTION_CATEGORIES[:8]) <= categories
    assert all(why for _c, _t, why in ITEMS)


def test_operator_adds_a_global_item_that_every_organization_reads(world, login_as, run_in_app):
    operator = login_as(world["operator"])
    token = csrf_token_from(operator.get("/inspections/items/new").get_data(as_text=True))
    response = operator.post("/inspections/items/new", data={
        "csrf_token": token, "category": "入退管理", "text": "入館証を着けている。", "why": "侵入に気づくため。",
        "is_active": "y",
    })
    assert response.status_code == 303
    item = run_in_app(lambda: db.session.scalar(select(InspectionItem)))
    assert item.organization_id is None
    assert run_in_app(lambda: db.session.scalar(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "inspection_item.created"))) == 1
    for admin in ("admin_a", "admin_b"):
        page = login_as(world[admin]).get("/inspections/items/").get_data(as_text=True)
        assert "入館証を着けている。" in page
        # Read, not edit: the global item is not a link for an organization.
        assert f"/inspections/items/{item.id}" not in page
        assert login_as(world[admin]).get(f"/inspections/items/{item.id}").status_code == 404


def test_organization_items_stay_in_their_organization(world, login_as, run_in_app):
    admin_a = login_as(world["admin_a"])
    token = csrf_token_from(admin_a.get("/inspections/items/new").get_data(as_text=True))
    admin_a.post("/inspections/items/new", data={
        "csrf_token": token, "category": "工場の安全", "text": "自社独自の項目", "why": "自社の規程のため。",
        "is_active": "y",
    })
    item = run_in_app(lambda: db.session.scalar(select(InspectionItem)))
    assert item.organization_id == world["org_a"].id
    assert "自社独自の項目" in admin_a.get("/inspections/items/").get_data(as_text=True)
    assert "自社独自の項目" not in login_as(world["admin_b"]).get("/inspections/items/").get_data(as_text=True)
    assert "自社独自の項目" not in login_as(world["operator"]).get("/inspections/items/").get_data(as_text=True)


def test_an_item_needs_its_reason_and_nothing_is_written_without_it(world, login_as, run_in_app):
    admin_a = login_as(world["admin_a"])
    token = csrf_token_from(admin_a.get("/inspections/items/new").get_data(as_text=True))
    response = admin_a.post("/inspections/items/new", data={"csrf_token": token, "category": "入退管理",
                                                             "text": "項目", "why": ""})
    assert response.status_code == 422
    assert "なぜ大切かを短く書いてください。" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count(InspectionItem.id)))) == 0


def test_an_organization_cannot_write_a_global_item(app, world, run_in_app):
    run_in_app(seed_demo_items)
    with app.app_context(), tenant_scope(world["org_a"].id):
        item = db.session.scalar(select(InspectionItem).where(InspectionItem.organization_id.is_(None)))
        item.text = "書き換え"
        try:
            db.session.flush()
        except TenantScopeError:
            db.session.rollback()
        else:
            raise AssertionError("a global item was written from an organization's scope")


# --- editions ------------------------------------------------------------------------------------------


def _seed_demo():
    seed_demo_items()
    seed_demo_editions()
    return {e.kind: e.id for e in db.session.scalars(select(InspectionEdition))}


def test_demo_editions_have_the_promised_sizes(app, run_in_app):
    ids = run_in_app(_seed_demo)
    assert run_in_app(seed_demo_editions) == 0
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        employee = db.session.get(InspectionEdition, ids[EditionKind.EMPLOYEE])
        assert len(employee.fixed) == 5
        assert len(services.edition_items(employee, date(2026, 4, 1))) == 10
        assert len(db.session.get(InspectionEdition, ids[EditionKind.MANAGER]).fixed) == 20
        assert len(services.edition_items(db.session.get(InspectionEdition, ids[EditionKind.CLIENT_SITE]),
                                          date(2026, 4, 1))) == 10


def test_drawn_categories_do_not_repeat_in_consecutive_months_and_items_rotate(app, run_in_app):
    ids = run_in_app(_seed_demo)
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        employee = db.session.get(InspectionEdition, ids[EditionKind.EMPLOYEE])
        fixed = {f.item_id for f in employee.fixed}
        months = [date(2026 + (m // 12), m % 12 + 1, 1) for m in range(24)]
        draws = [services.draw_items(employee, month) for month in months]
        assert services.draw_items(employee, months[0]) == draws[0], "the same month draws the same items"
        for before, after in zip(draws, draws[1:], strict=False):
            assert len({i.category for i in after}) == 5
            assert not {i.category for i in before} & {i.category for i in after}
        drawn_ids = [i.id for draw in draws for i in draw]
        assert not fixed & set(drawn_ids)
        assert len(set(drawn_ids)) > 40, "items within a category rotate as the category comes round"


def test_organization_builds_its_own_edition_from_global_and_own_items(world, login_as, run_in_app):
    ids = run_in_app(_seed_demo)
    admin_a = login_as(world["admin_a"])
    page = admin_a.get("/inspections/editions/new").get_data(as_text=True)
    global_item = run_in_app(lambda: db.session.scalar(select(InspectionItem).order_by(InspectionItem.id)))
    own = run_in_app(lambda: services.save_item(None, category="工場の安全", text="自社の項目", why="理由",
                                                organization_id=world["org_a"].id))
    response = admin_a.post("/inspections/editions/new", data={
        "csrf_token": csrf_token_from(page), "title": "工場版", "kind": "custom", "drawn_count": "0",
        "item_ids": [str(global_item.id), str(own.id)],
    })
    assert response.status_code == 303
    assert "工場版" in admin_a.get("/inspections/editions/").get_data(as_text=True)
    assert "工場版" not in login_as(world["admin_b"]).get("/inspections/editions/").get_data(as_text=True)
    # The global editions are read, never edited, by an organization.
    assert admin_a.get(f"/inspections/editions/{ids[EditionKind.MANAGER]}").status_code == 200
    assert admin_a.get(f"/inspections/editions/{ids[EditionKind.MANAGER]}/edit").status_code == 404


def test_an_edition_refuses_another_organizations_item_and_writes_nothing(world, login_as, run_in_app):
    other = run_in_app(lambda: services.save_item(None, category="入退管理", text="B社の項目", why="理由",
                                                  organization_id=world["org_b"].id))
    admin_a = login_as(world["admin_a"])
    page = admin_a.get("/inspections/editions/new").get_data(as_text=True)
    response = admin_a.post("/inspections/editions/new", data={
        "csrf_token": csrf_token_from(page), "title": "混在版", "kind": "custom", "drawn_count": "0",
        "item_ids": [str(other.id)],
    })
    assert response.status_code == 422
    assert "この版に使えない点検項目が含まれています。" in response.get_data(as_text=True)
    response = admin_a.post("/inspections/editions/new", data={
        "csrf_token": csrf_token_from(page), "title": "空の版", "kind": "custom", "drawn_count": "0",
    })
    assert "固定の項目を1つ以上選ぶか" in response.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count(InspectionEdition.id)))) == 0


def test_a_global_edition_cannot_hold_an_organizations_item(app, world, run_in_app):
    own = run_in_app(lambda: services.save_item(None, category="入退管理", text="A社の項目", why="理由",
                                                organization_id=world["org_a"].id))
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        try:
            services.save_edition(None, title="全体版", kind="custom", description="", drawn_count=0,
                                  item_ids=[own.id])
        except services.EditionRuleError as err:
            assert "使えない" in str(err)
        else:
            raise AssertionError("a global edition accepted an organization's item")


def test_more_drawn_items_than_categories_is_refused(app, world, run_in_app):
    run_in_app(seed_demo_items)
    # An organization's own category does not count for a global edition.
    run_in_app(lambda: services.save_item(None, category="自社だけの分類", text="A社の項目", why="理由",
                                          organization_id=world["org_a"].id))
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        try:
            services.save_edition(None, title="多すぎる版", kind="employee", description="", drawn_count=11,
                                  item_ids=[])
        except services.EditionRuleError as err:
            assert "（10）" in str(err)
        else:
            raise AssertionError("11 drawn items from 10 categories were accepted")
        assert db.session.scalar(select(func.count(InspectionEdition.id))) == 0


def test_the_edition_page_previews_this_months_draw(world, login_as, run_in_app):
    ids = run_in_app(_seed_demo)
    page = login_as(world["admin_a"]).get(f"/inspections/editions/{ids[EditionKind.EMPLOYEE]}")
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    lists = soup.select("main ol") or soup.select("ol")
    assert [len(ol.find_all("li")) for ol in lists] == [5, 5]
    assert "月に抽選される項目" in soup.get_text()
