"""The learner's home names an open inspection round by its due date (期限), even once the sheet is submitted:
it can still change until then, so 「完了: …」 was the wrong word (#19 item 5)."""

from __future__ import annotations

from datetime import timedelta

from bs4 import BeautifulSoup

from tests.clock import jst
from tests.inspection_helpers import add_edition, answer_all, open_round, response_of


def _card(page: str, section: str, title: str) -> list[str]:
    soup = BeautifulSoup(page, "html.parser")
    for card in soup.select(f"section#{section} li article"):
        if card.find("strong").get_text(strip=True) == title:
            return [small.get_text(strip=True) for small in card.select("small")]
    raise AssertionError(f"{title} is not under {section}")


def test_a_submitted_sheet_of_an_open_round_shows_its_due_date(world, login_as, run_in_app, time_machine):
    time_machine.move_to(jst(2026, 11, 25, 10, 0))
    learner = world["learner_a"]
    edition, items = run_in_app(lambda: add_edition(world["org_a"].id, items=2))
    inspection_round = run_in_app(lambda: open_round(world["admin_a"], edition, person_ids=[learner.id],
                                                     due_in=timedelta(days=10), title="11月の点検"))
    client = login_as(learner)
    assert _card(client.get("/me/").get_data(as_text=True), "assigned", "11月の点検") == \
        ["期限: 2026/12/05 10:00", "未回答"]

    response_id = run_in_app(lambda: response_of(inspection_round.id, learner.id).id)
    run_in_app(lambda: answer_all(response_id, dict.fromkeys(items, "yes")))
    assert _card(client.get("/me/").get_data(as_text=True), "done", "11月の点検") == \
        ["期限: 2026/12/05 10:00", "提出済"]
