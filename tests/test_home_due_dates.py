"""The learner's home names an open inspection round by its due date (期限), even once the sheet is submitted:
it can still change until then, so 「完了: …」 was the wrong word (#19 item 5). In the history, a closed round
or delivery shows 完了 only for what was finished, and its due date with the status otherwise."""

from __future__ import annotations

from datetime import timedelta

from bs4 import BeautifulSoup

from portal.blueprints.inspections.rounds import services as rounds
from portal.blueprints.training.deliveries import services as training
from portal.extensions import db
from portal.models import Delivery, InspectionRound
from tests.clock import jst
from tests.inspection_helpers import add_edition, answer_all, open_round, response_of
from tests.training_helpers import add_course, assignment_of, deliver, take


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


def test_a_closed_round_shows_its_due_date_when_unsubmitted_and_the_submission_otherwise(world, login_as, run_in_app,
                                                                                      time_machine):
    """履歴: a round closed before the sheet was submitted completed nothing: 期限 and 未回答, never 「完了:」."""
    time_machine.move_to(jst(2026, 11, 25, 10, 0))
    learner = world["learner_a"]
    edition, items = run_in_app(lambda: add_edition(world["org_a"].id, items=2))
    missed = run_in_app(lambda: open_round(world["admin_a"], edition, person_ids=[learner.id],
                                           due_in=timedelta(days=3), title="見送った点検"))
    done = run_in_app(lambda: open_round(world["admin_a"], edition, person_ids=[learner.id],
                                         due_in=timedelta(days=3), title="提出した点検"))
    response_id = run_in_app(lambda: response_of(done.id, learner.id).id)
    time_machine.move_to(jst(2026, 11, 26, 9, 30))
    run_in_app(lambda: answer_all(response_id, dict.fromkeys(items, "yes")))
    time_machine.move_to(jst(2026, 12, 1, 8, 0))
    for round_id in (missed.id, done.id):
        run_in_app(lambda round_id=round_id: rounds.close_round(db.session.get(InspectionRound, round_id)))

    page = login_as(learner).get("/me/").get_data(as_text=True)
    assert _card(page, "history", "見送った点検") == ["期限: 2026/11/28 10:00", "未回答"]
    assert _card(page, "history", "提出した点検") == ["完了: 2026/11/26 09:30", "提出済"]


def test_a_closed_delivery_shows_its_due_date_unless_passed(world, login_as, run_in_app, time_machine):
    """履歴: a delivery closed before the learner passed shows 期限 and its status; a passed one, 完了."""
    time_machine.move_to(jst(2026, 11, 25, 10, 0))
    learner = world["learner_a"]
    course = run_in_app(lambda: add_course(organization_id=world["org_a"].id, questions=2, pass_mark=50).id)
    missed = run_in_app(lambda: deliver(world["admin_a"], course, learner_ids=[learner.id], due_in=timedelta(days=3),
                                        title="受けなかった研修").id)
    passed = run_in_app(lambda: deliver(world["admin_a"], course, learner_ids=[learner.id], due_in=timedelta(days=3),
                                        title="合格した研修").id)
    time_machine.move_to(jst(2026, 11, 26, 9, 30))
    run_in_app(lambda: take(assignment_of(passed, learner.id).id))
    time_machine.move_to(jst(2026, 12, 1, 8, 0))
    for delivery_id in (missed, passed):
        run_in_app(lambda delivery_id=delivery_id: training.close_delivery(db.session.get(Delivery, delivery_id)))

    page = login_as(learner).get("/me/").get_data(as_text=True)
    assert _card(page, "history", "受けなかった研修") == ["期限: 2026/11/28 10:00", "未受講"]
    assert _card(page, "history", "合格した研修") == ["完了: 2026/11/26 09:30", "合格"]



def test_the_home_reads_every_open_item_and_only_the_newest_of_the_history(app, world, run_in_app, time_machine):
    """#17: the providers return their open items and only the newest ``history`` of their history, so that the
    home reads a few rows after years of monthly inspections. Whatever the limit, what they return is the head
    of the whole history in the home's order: a closed round dated by its submission or else its closing, a
    closed delivery by its pass or else its due date."""
    from portal.blueprints.inspections.sheets.services import inspection_home_items
    from portal.blueprints.training.quizzes.services import training_home_items
    from portal.home import home_items
    from portal.models import User
    from portal.tenancy import tenant_scope

    learner = world["learner_a"]
    edition, items = run_in_app(lambda: add_edition(world["org_a"].id, items=1))
    course = run_in_app(lambda: add_course(organization_id=world["org_a"].id, questions=1, pass_mark=100).id)
    closed_rounds, closed_deliveries = [], []
    for month in (6, 7, 8, 9, 10):
        time_machine.move_to(jst(2026, month, 3, 10, 0))
        found = run_in_app(lambda month=month: open_round(world["admin_a"], edition, person_ids=[learner.id],
                                                          due_in=timedelta(days=5), title=f"{month}月の点検"))
        delivered = run_in_app(lambda month=month: deliver(world["admin_a"], course, learner_ids=[learner.id],
                                                           due_in=timedelta(days=5), title=f"{month}月の研修").id)
        if month in (7, 9):  # the sheet submitted at 10:00 on the 4th, the test passed at 11:00
            time_machine.move_to(jst(2026, month, 4, 10, 0))
            sheet = run_in_app(lambda found=found: response_of(found.id, learner.id).id)
            run_in_app(lambda sheet=sheet: answer_all(sheet, dict.fromkeys(items, "yes")))
            time_machine.move_to(jst(2026, month, 4, 11, 0))
            run_in_app(lambda delivered=delivered: take(assignment_of(delivered, learner.id).id))
        closed_rounds.append(found.id)
        closed_deliveries.append(delivered)
    for hour, round_id in enumerate(closed_rounds, start=10):  # closed one an hour, 10:00 to 14:00 on 11/20
        time_machine.move_to(jst(2026, 11, 20, hour, 0))
        run_in_app(lambda round_id=round_id: rounds.close_round(db.session.get(InspectionRound, round_id)))
    for delivery_id in closed_deliveries:
        run_in_app(lambda delivery_id=delivery_id: training.close_delivery(db.session.get(Delivery, delivery_id)))
    time_machine.move_to(jst(2026, 11, 21, 10, 0))
    run_in_app(lambda: open_round(world["admin_a"], edition, person_ids=[learner.id], due_in=timedelta(days=5),
                                  title="11月の点検"))
    run_in_app(lambda: deliver(world["admin_a"], course, learner_ids=[learner.id], due_in=timedelta(days=5),
                               title="11月の研修"))

    def read(history: int):
        with app.test_request_context(), tenant_scope(world["org_a"].id):
            person = db.session.get(User, learner.id)
            provided = [item for provider in (inspection_home_items, training_home_items)
                        for item in provider(person, history)]
            return provided, home_items(person, history=history)

    newest_first = ["10月の点検", "8月の点検", "6月の点検", "10月の研修", "9月の研修", "9月の点検", "8月の研修",
                    "7月の研修", "7月の点検", "6月の研修"]
    for history in range(len(newest_first) + 2):
        provided, shown = read(history)
        assert sorted(i.title for i in provided if i.section != "history") == ["11月の点検", "11月の研修"]
        assert [i.title for i in shown["assigned"]] == ["11月の点検", "11月の研修"]
        for kind in ("点検", "研修"):
            theirs = [i.title for i in provided if i.section == "history" and i.title.endswith(kind)]
            assert len(theirs) == min(history, 5)
        assert [i.title for i in shown["history"]] == newest_first[:history]
