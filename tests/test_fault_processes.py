"""Fault injection with real processes (#10 item 4a, 4c, 4d).

* (a) the SMTP server is gone for a while: a running worker retries with backoff and, once the server is
  back, delivers every message exactly once;
* (c) a worker is killed (SIGKILL) in the middle of the scheduled training delivery run: after the restart
  every delivery is launched exactly once — no assignment or invitation lost, none twice;
* (d) the portal process is killed (SIGKILL) during a learner's answer, during the test submission, and
  just after the submission committed, and the same around a セキュレジ inspection submission: after the
  restart the answer or submission is there whole or not at all (tallies included), and the learner sees
  the right screen and carries on.

The harness (``app_process``: the portal or its worker in a subprocess against the test database, paused at
a named function and killed there) is in tests/app_process.py.
"""

from __future__ import annotations

import re
from datetime import timedelta

from bs4 import BeautifulSoup
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import (
    Assignment,
    AssignmentStatus,
    Attempt,
    AttemptAnswer,
    AttemptState,
    Delivery,
    DeliveryStatus,
    OutboxMessage,
    OutboxStatus,
    Role,
    utcnow,
)
from portal.tenancy import unscoped
from tests.app_process import app_process, wait_until  # noqa: F401 - the fixture
from tests.conftest import PASSWORD
from tests.test_mail_worker import queue, rows, run_worker

# --- (a) SMTP server gone for a while -------------------------------------------------------------------


def test_smtp_gone_for_a_while_a_running_worker_retries_then_delivers_each_once(
    app, smtp, app_process  # noqa: F811 - the fixture
):
    ids = queue(app, 5)
    smtp.stop()
    # Backoff from 0.2 s, capped at 1 s, instead of a minute and an hour.
    app_process.start("worker", env={
        "PORTAL_MAIL_SERVER": "127.0.0.1", "PORTAL_MAIL_PORT": str(smtp.port), "PORTAL_WORKER_POLL_SECONDS": "0.1",
        "PORTAL_MAIL_RETRY_BASE_SECONDS": "0.2", "PORTAL_MAIL_RETRY_MAX_SECONDS": "1",
    })
    try:
        # Gone: every message is tried, fails, and is tried again later — with a growing delay.
        wait_until(lambda: all(r.attempts >= 3 for r in rows(app)), timeout=60)
        down = rows(app)
        assert {r.status for r in down} == {OutboxStatus.PENDING}
        assert all("connection error" in r.last_error for r in down)
        assert all(r.next_attempt_at > r.last_attempt_at for r in down)
        smtp.start()  # back, on the same address
        wait_until(lambda: {r.status for r in rows(app)} == {OutboxStatus.SENT}, timeout=60)
    finally:
        app_process.stop_all()
    after = rows(app)
    assert [r.id for r in after] == ids
    counts = smtp.handler.message_ids()
    assert set(counts) == {r.message_id for r in after} and set(counts.values()) == {1}
    assert all(r.attempts >= 4 and r.last_error is None for r in after)


# --- (c) worker killed during the scheduled delivery run --------------------------------------------------


def test_a_worker_killed_during_the_delivery_run_launches_each_delivery_exactly_once(
    app, smtp, world, make_user, run_in_app, app_process  # noqa: F811 - the fixture
):
    from tests.training_helpers import add_course, deliver

    learners = [world["learner_a"]] + [make_user(Role.LEARNER, world["org_a"]) for _ in range(4)]

    def schedule():
        course = add_course(organization_id=world["org_a"].id, questions=2)
        ids = []
        for _ in range(2):
            delivery = deliver(world["admin_a"], course.id, learner_ids=[u.id for u in learners],
                               starts_in=timedelta(hours=1), window_start_hour=0, window_end_hour=24,
                               business_days_only=False)
            ids.append(delivery.id)
        # Their start has come.
        started = utcnow() - timedelta(minutes=1)
        db.session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(starts_at=started))
        return ids

    delivery_ids = run_in_app(schedule)

    def state():
        with app.app_context(), unscoped("the test reads and writes rows directly"):
            statuses = [db.session.get(Delivery, i).status for i in delivery_ids]
            assignments = db.session.execute(
                select(Assignment.delivery_id, Assignment.learner_id).where(Assignment.delivery_id.in_(delivery_ids))
            ).all()
            invitations = db.session.scalars(
                select(OutboxMessage.idempotency_key).where(OutboxMessage.template == "training_invitation")
            ).all()
            return statuses, sorted(assignments), sorted(invitations)

    # The worker stops right after launching the second delivery, before the run commits, and is killed.
    worker = app_process.start(
        "worker", pause="portal.blueprints.training.deliveries.services:launch_delivery", pause_call=2,
        env={"PORTAL_MAIL_SERVER": "127.0.0.1", "PORTAL_MAIL_PORT": str(smtp.port)},
    )
    worker.wait_paused()
    worker.kill()
    statuses, assignments, invitations = state()
    assert statuses == [DeliveryStatus.SCHEDULED] * 2 and assignments == [] and invitations == []

    # The next worker takes the run over once the dead worker's job lease has run out, sends the
    # invitations, and a later run changes nothing.
    later = utcnow() + timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 61)
    run_worker(app, at=later)
    run_worker(app, at=later + timedelta(minutes=5))
    statuses, assignments, invitations = state()
    assert statuses == [DeliveryStatus.LAUNCHED] * 2
    expected = sorted((d, u.id) for d in delivery_ids for u in learners)
    assert assignments == expected
    assert invitations == sorted(f"delivery:{d}:invitation:{u.id}" for d in delivery_ids for u in learners)
    received = smtp.received()
    assert sorted(str(m["To"]) for m in received) == sorted(u.email for u in learners for _ in delivery_ids)
    assert set(smtp.handler.message_ids().values()) == {1}


# --- (d) the portal killed during a test submission --------------------------------------------------------


def _learner_taking_a_test(app, world, run_in_app, server):
    """learner_a signed in on the subprocess portal, a delivery of three questions, the attempt started
    through the screens. Returns the browser, the attempt id and the assignment id."""
    from tests.training_helpers import add_course, assignment_of, deliver

    def build():
        course = add_course(organization_id=world["org_a"].id, questions=3)
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        return assignment_of(delivery.id, world["learner_a"].id).id

    assignment_id = run_in_app(build)
    browser = server.browser()
    browser.sign_in(world["learner_a"].email, PASSWORD)
    started = browser.post_form(f"/me/training/{assignment_id}/start", {}, page=f"/me/training/{assignment_id}")
    assert started.status_code == 303
    attempt_id = int(re.search(r"/attempts/(\d+)/1$", started.headers["Location"]).group(1))
    return browser, attempt_id, assignment_id


def _right_answer(browser, attempt_id: int, number: int) -> list[tuple[str, str]]:
    """The answer form of question ``number`` filled with its right choice (「正しい」)."""
    page = browser.get(f"/me/training/attempts/{attempt_id}/{number}")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    right = next(label.find("input") for label in soup.select("label.choice") if "正しい" in label.get_text())
    assert not right.has_attr("checked"), "no answer was saved for this question yet"
    return [("number", str(number)), ("go", "next"),
            ("question_id", soup.find("input", attrs={"name": "question_id"})["value"]), ("choice", right["value"])]


def _answer(browser, attempt_id: int, number: int):
    return browser.post_form(f"/me/training/attempts/{attempt_id}/answer", _right_answer(browser, attempt_id, number),
                             page=f"/me/training/attempts/{attempt_id}/{number}")


def _stored(app, attempt_id: int, assignment_id: int) -> dict:
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        attempt = db.session.get(Attempt, attempt_id)
        assignment = db.session.get(Assignment, assignment_id)
        answers = db.session.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt_id)).all()
        return {
            "state": attempt.state, "score": attempt.score, "answers": len(answers),
            "scored": [a.correct for a in answers if a.correct is not None],
            "status": assignment.status, "attempts": assignment.attempts_count,
            "certificate": assignment.certificate_code,
            "attempt_rows": db.session.scalar(select(func.count()).select_from(Attempt)
                                              .where(Attempt.assignment_id == assignment_id)),
        }


def test_the_portal_killed_during_an_answer_and_around_the_submission_keeps_all_or_nothing(
    app, world, run_in_app, app_process  # noqa: F811 - the fixture
):
    # 1. Killed while saving the first answer (the row is written, not committed).
    server = app_process.start(pause="portal.blueprints.training.quizzes.services:save_answer")
    browser, attempt_id, assignment_id = _learner_taking_a_test(app, world, run_in_app, server)
    sent = server.send_in_background(_answer, browser, attempt_id, 1)
    server.wait_paused()
    server.kill()
    assert "error" in sent  # the learner's phone saw the connection drop
    assert _stored(app, attempt_id, assignment_id)["answers"] == 0

    # 2. Restarted: question 1 shows no answer (checked in _right_answer), the learner answers all three,
    #    and submits — killed while the submission is scored (attempt and answers written, not committed).
    server.restart(pause="portal.blueprints.training.quizzes.services:finish_attempt")
    for number in (1, 2, 3):
        assert _answer(browser, attempt_id, number).status_code == 303
    assert _stored(app, attempt_id, assignment_id)["answers"] == 3
    review = f"/me/training/attempts/{attempt_id}/review"
    sent = server.send_in_background(browser.post_form, f"/me/training/attempts/{attempt_id}/finish", {}, review)
    server.wait_paused()
    server.kill()
    assert "error" in sent
    stored = _stored(app, attempt_id, assignment_id)
    assert stored["state"] == AttemptState.IN_PROGRESS and stored["score"] is None and stored["scored"] == []
    assert stored["status"] != AssignmentStatus.PASSED and stored["attempts"] == 0 and stored["certificate"] is None

    # 3. Restarted: the learner is back on the review screen with the three answers and submits again —
    #    this time the portal is killed just after the submission committed, before the answer leaves.
    server.restart(pause="after_request:quizzes.finish")
    page = browser.get(review)
    assert page.status_code == 200 and "採点する" in page.text and "すべての問題に答えました" in page.text
    sent = server.send_in_background(browser.post_form, f"/me/training/attempts/{attempt_id}/finish", {}, review)
    server.wait_paused()
    server.kill()
    assert "error" in sent  # the phone never saw the result
    stored = _stored(app, attempt_id, assignment_id)
    assert stored["state"] == AttemptState.FINISHED and stored["score"] == 100 and stored["scored"] == [True] * 3
    assert stored["status"] == AssignmentStatus.PASSED and stored["attempts"] == 1 and stored["certificate"]
    assert stored["attempt_rows"] == 1

    # 4. Restarted: the review screen now leads to the result, and pressing 「採点する」 again (the phone
    #    retrying the lost request) does not score twice.
    server.restart()
    shown = browser.get(review)
    assert shown.status_code == 303 and shown.headers["Location"].endswith(f"/attempts/{attempt_id}/result")
    result = f"/me/training/attempts/{attempt_id}/result"
    again = browser.post_form(f"/me/training/attempts/{attempt_id}/finish", {}, result)
    assert again.status_code == 303 and again.headers["Location"].endswith(result)
    assert browser.get(result).status_code == 200
    assert browser.get(f"/me/training/{assignment_id}").status_code == 200
    assert _stored(app, attempt_id, assignment_id) == stored


def _sheet_state(app, sheet_id: int, round_id: int) -> tuple:
    from portal.models import InspectionAnswer, InspectionResponse, InspectionTally

    with app.app_context(), unscoped("the test reads and writes rows directly"):
        sheet = db.session.get(InspectionResponse, sheet_id)
        answers = dict(db.session.execute(select(InspectionAnswer.item_id, InspectionAnswer.value)
                                          .where(InspectionAnswer.response_id == sheet_id)).all())
        counts = db.session.execute(select(func.sum(InspectionTally.yes_count), func.sum(InspectionTally.no_count),
                                           func.sum(InspectionTally.na_count))
                                    .where(InspectionTally.round_id == round_id)).one()
        return sheet.status, answers, tuple(int(c or 0) for c in counts)


def test_the_portal_killed_during_an_inspection_submission_keeps_all_or_nothing(
    app, world, run_in_app, app_process  # noqa: F811 - the fixture
):
    from tests import inspection_helpers as rounds

    def build():
        edition, items = rounds.add_edition(world["org_a"].id, items=2, title="障害試験")
        found = rounds.open_round(world["admin_a"], edition, person_ids=[world["learner_a"].id])
        return found.id, rounds.response_of(found.id, world["learner_a"].id).id, items

    round_id, sheet_id, items = run_in_app(build)
    sheet = f"/me/inspections/{sheet_id}"
    form = [("action", "submit"), (f"value_{items[0]}", "yes"), (f"value_{items[1]}", "no"),
            (f"comment_{items[1]}", "会議室の施錠を忘れた")]

    # 1. Killed while the submission is written (answers, tallies and status flushed, not committed).
    server = app_process.start(pause="portal.blueprints.inspections.sheets.services:save_answers")
    browser = server.browser()
    browser.sign_in(world["learner_a"].email, PASSWORD)
    sent = server.send_in_background(browser.post_form, sheet, form, sheet)
    server.wait_paused()
    server.kill()
    assert "error" in sent  # the phone saw the connection drop
    assert _sheet_state(app, sheet_id, round_id) == ("not_started", {}, (0, 0, 0))

    # 2. Restarted: the sheet is still open to answer; submitted again, and killed just after the commit,
    #    before the answer reaches the phone.
    server.restart(pause="after_request:inspection_sheets.save")
    page = browser.get(sheet)
    assert page.status_code == 200 and "提出する" in page.text
    sent = server.send_in_background(browser.post_form, sheet, form, sheet)
    server.wait_paused()
    server.kill()
    assert "error" in sent
    submitted = _sheet_state(app, sheet_id, round_id)
    assert submitted == ("submitted", {items[0]: "yes", items[1]: "no"}, (1, 1, 0))

    # 3. Restarted: the learner sees the sheet submitted; the phone retrying the lost request counts nothing twice.
    server.restart()
    again = browser.post_form(sheet, form, sheet)
    assert again.status_code == 303 and again.headers["Location"].endswith(sheet)
    assert _sheet_state(app, sheet_id, round_id) == submitted
    shown = browser.get(sheet)
    assert shown.status_code == 200 and "変更を提出する" in shown.text
