"""The learner's home: empty states, sections that later areas fill, profile; phone and no JavaScript."""

from __future__ import annotations

from datetime import UTC, datetime

from bs4 import BeautifulSoup

from portal import home


def test_home_shows_empty_sections_without_javascript(world, login_as):
    page = login_as(world["learner_a"]).get("/me/").get_data(as_text=True)
    soup = BeautifulSoup(page, "html.parser")
    assert [s["id"] for s in soup.select("section.home-section[id]")] == ["assigned", "done", "history"]
    assert "いま取り組むものはありません" in page and "完了したものはまだありません" in page
    assert soup.find("a", href="/password/change") is not None
    assert soup.find("a", href="/me/profile") is not None
    assert not soup.select("script:not([src])")  # nothing inline; the page works without scripts


def test_providers_fill_the_sections_in_due_order(world, login_as, monkeypatch):
    monkeypatch.setattr(home, "_providers", [])

    @home.register_home_provider
    def provider(learner, history):
        return [
            home.HomeItem("assigned", "training", "後の研修", "/x/2", due_at=datetime(2026, 12, 20, tzinfo=UTC)),
            home.HomeItem("assigned", "inspection", "先の点検", "/x/1", due_at=datetime(2026, 12, 1, tzinfo=UTC)),
            home.HomeItem("done", "training", "済んだ研修", "/x/3", finished_at=datetime(2026, 11, 1, tzinfo=UTC)),
        ]

    page = login_as(world["learner_a"]).get("/me/").get_data(as_text=True)
    assert page.index("先の点検") < page.index("後の研修")
    assert "済んだ研修" in page and "いま取り組むものはありません" not in page


def test_profile_shows_what_the_organization_registered(world, login_as):
    page = login_as(world["learner_a"]).get("/me/profile").get_data(as_text=True)
    assert "A001" in page and "株式会社エー" in page and world["learner_a"].email in page


def test_home_shows_the_newest_history_and_links_to_all_of_it(world, login_as, monkeypatch):
    """The home renders a few history cards, newest first (#17: twelve months of inspections made it the
    costliest learner page); the training and inspection lists keep the whole history."""
    from portal.blueprints.me.routes import HOME_HISTORY

    monkeypatch.setattr(home, "_providers", [])

    @home.register_home_provider
    def provider(learner, history):
        return [home.HomeItem("history", "inspection", f"{month}月の点検", f"/x/{month}",
                              finished_at=datetime(2026, month, 5, tzinfo=UTC)) for month in range(1, 13)]

    soup = BeautifulSoup(login_as(world["learner_a"]).get("/me/").get_data(as_text=True), "html.parser")
    titles = [card.find("strong").get_text(strip=True) for card in soup.select("section#history li article")]
    assert titles == [f"{month}月の点検" for month in range(12, 12 - HOME_HISTORY, -1)]
    links = {a["href"] for a in soup.select("section#history p a")}
    assert links == {"/me/training/", "/me/inspections/"}


def test_home_without_more_history_has_no_link_to_it(world, login_as, monkeypatch):
    monkeypatch.setattr(home, "_providers", [])

    @home.register_home_provider
    def provider(learner, history):
        return [home.HomeItem("history", "training", "前年の研修", "/x/1",
                              finished_at=datetime(2025, 6, 1, tzinfo=UTC))]

    soup = BeautifulSoup(login_as(world["learner_a"]).get("/me/").get_data(as_text=True), "html.parser")
    assert [c.find("strong").get_text(strip=True) for c in soup.select("section#history li article")] == ["前年の研修"]
    assert not soup.select("section#history p a")
