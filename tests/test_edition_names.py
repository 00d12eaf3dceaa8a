"""Edition names are shown once (#19 item 5): the demo's inspection edition 従業員版 is not 「従業員版（従業員版）」,
and a course whose title says its year is not 「情報セキュリティ基礎 2026年度（2026年度）」."""

from __future__ import annotations

from bs4 import BeautifulSoup

from tests.inspection_helpers import add_edition, open_round
from tests.training_helpers import add_course, deliver


def _soup(client, url: str) -> BeautifulSoup:
    response = client.get(url)
    assert response.status_code == 200, url
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def _details(soup: BeautifulSoup, term: str) -> list[str]:
    return [dt.find_next_sibling("dd").get_text(" ", strip=True) for dt in soup.select("dl.details dt")
            if dt.get_text(strip=True) == term]


def test_an_inspection_edition_named_after_its_kind_is_named_once(world, login_as, run_in_app):
    org = world["org_a"].id
    plain, _items = run_in_app(lambda: add_edition(org, title="従業員版", kind="employee"))
    monthly, _items = run_in_app(lambda: add_edition(org, title="月次点検", kind="employee"))
    admin = login_as(world["admin_a"])
    options = {o["value"]: o.get_text(strip=True)
               for o in _soup(admin, "/org/inspections/new").select('select[name="edition_id"] option')}
    assert options[str(plain)] == "従業員版"
    assert options[str(monthly)] == "月次点検（従業員版）"

    round_id = run_in_app(lambda: open_round(world["admin_a"], plain).id)
    page = _soup(admin, f"/org/inspections/{round_id}")
    assert _details(page, "点検の版") == ["従業員版"]


def test_a_course_whose_title_says_its_year_is_not_given_the_year_again(world, login_as, run_in_app):
    org = world["org_a"].id
    named = run_in_app(lambda: add_course(organization_id=org, title="情報セキュリティ基礎 2026年度").id)
    plain = run_in_app(lambda: add_course(organization_id=org, title="テスト講座").id)
    admin = login_as(world["admin_a"])
    options = {o["value"]: o.get_text(strip=True)
               for o in _soup(admin, "/org/training/new").select('select[name="course_id"] option')}
    assert options[str(named)] == "情報セキュリティ基礎 2026年度"
    assert options[str(plain)] == "テスト講座（2026年度）"

    # A delivery without a title of its own is named after the course, once.
    delivery = run_in_app(lambda: deliver(world["admin_a"], named))
    assert delivery.title == "情報セキュリティ基礎 2026年度"
    show = _soup(admin, f"/org/training/{delivery.id}")
    assert show.h1.get_text(strip=True) == "情報セキュリティ基礎 2026年度"
    assert _details(show, "講座") == ["情報セキュリティ基礎 2026年度"]
    other = run_in_app(lambda: deliver(world["admin_a"], plain))
    assert _details(_soup(admin, f"/org/training/{other.id}"), "講座") == ["テスト講座（2026年度版）"]

    listed = [a.get_text(strip=True) for a in _soup(admin, "/org/training/").select("main li a")]
    assert "情報セキュリティ基礎 2026年度" in listed and "テスト講座（2026年度版）" in listed
    assert _soup(admin, f"/courses/{named}").h1.get_text(" ", strip=True) == "情報セキュリティ基礎 2026年度"
    assert _soup(admin, f"/courses/{plain}").h1.get_text(" ", strip=True) == "テスト講座 2026年度版"
    assert _soup(admin, f"/org/training/courses/{named}").h1.get_text(" ", strip=True) == \
        "情報セキュリティ基礎 2026年度 すべての配信"
