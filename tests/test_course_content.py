"""The 2026年度 editions written for this project (issue #19, item 9): their shape as data, their seeding,
and how a learner reads them.

A lesson's length is counted on its rendered text (``render_markdown``, then the text of the HTML), every
whitespace character excluded: what the learner reads, not the Markdown's ``**`` and ``##``.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal.blueprints.training.courses.editions import EditionContent, QuestionContent
from portal.blueprints.training.courses.editions.edition_2026 import EDITIONS, GENERAL, MANAGERS
from portal.blueprints.training.courses.services import TRUE_FALSE_LABELS, render_markdown
from portal.blueprints.training.quizzes import services as quiz_services
from portal.demo.courses import seed_demo_course, seed_managers_course
from portal.extensions import db
from portal.models import Assignment, Choice, Course, Lesson, Question, QuestionKind
from portal.tenancy import unscoped
from tests.training_helpers import assignment_of, deliver

GENERAL_TOPICS = ["パスワードと認証", "メールと標的型攻撃", "マルウェアとランサムウェア",
                  "スマートフォン・ノートPCと情報の持ち出し", "SNSの利用", "情報の保管と廃棄", "入退室管理",
                  "テレワークと公衆Wi-Fi", "クラウドサービスの利用", "インシデントの報告"]
MANAGER_TOPICS = ["情報セキュリティ規程の運用", "委託先管理", "インシデント対応の指揮",
                  "人事異動・退職時のアカウント管理", "監査と記録"]
ALL_LESSONS = [(edition.title, lesson) for edition in EDITIONS for lesson in edition.lessons]
ALL_QUESTIONS = [question for edition in EDITIONS for question in edition.questions]


def rendered_length(body_md: str) -> int:
    text = BeautifulSoup(str(render_markdown(body_md)), "html.parser").get_text()
    return len(re.sub(r"\s", "", text))


def right_and_wrong(question: QuestionContent) -> tuple[list[str], list[str]]:
    if question.kind == QuestionKind.TRUE_FALSE:
        return ([TRUE_FALSE_LABELS[0 if question.choices else 1]], [TRUE_FALSE_LABELS[1 if question.choices else 0]])
    right = [c[1:] for c in question.choices if c.startswith("*")]
    return right, [c for c in question.choices if not c.startswith("*")]


@pytest.mark.parametrize(("edition", "topics", "bank"), [(GENERAL, GENERAL_TOPICS, (60, None)),
                                                          (MANAGERS, MANAGER_TOPICS, (15, 20))],
                         ids=["general", "managers"])
def test_an_edition_covers_its_topics_with_a_bank_big_enough_to_draw_from(edition: EditionContent, topics, bank):
    assert [lesson.title for lesson in edition.lessons] == topics
    low, high = bank
    assert len(edition.questions) >= low and (high is None or len(edition.questions) <= high)
    assert edition.fiscal_year == 2026 and edition.pass_mark == 100
    # An attempt draws fewer questions than the bank holds, so a retake sees other questions.
    assert 0 < edition.questions_per_attempt < len(edition.questions)
    kinds = Counter(question.kind for question in edition.questions)
    assert set(kinds) == set(QuestionKind) and min(kinds.values()) >= 3, kinds
    for lesson in edition.lessons:
        assert len(lesson.questions) >= 3, lesson.title
    assert len({lesson.category for lesson in edition.lessons}) == len(edition.lessons)


@pytest.mark.parametrize(("course", "lesson"), ALL_LESSONS, ids=[lesson.title for _c, lesson in ALL_LESSONS])
def test_a_lesson_is_600_to_1200_characters_with_a_scenario(course, lesson):
    assert 600 <= rendered_length(lesson.body_md) <= 1200, rendered_length(lesson.body_md)
    html = BeautifulSoup(str(render_markdown(lesson.body_md)), "html.parser")
    assert html.find("h2") is not None and html.find("strong") is not None and html.find("li") is not None
    assert any(h3.get_text().startswith("事例：") for h3 in html.find_all("h3")), "a scenario (事例) is missing"
    assert "**" not in html.get_text() and "##" not in html.get_text()  # no Markdown left unrendered


def test_every_question_has_an_explanation_a_category_and_the_right_number_of_answers():
    for edition in EDITIONS:
        for lesson in edition.lessons:
            assert lesson.category and len(lesson.category) <= 100
            for question in lesson.questions:
                assert question.text.endswith("。") and "\n" not in question.text, question.text
                assert len(question.explanation) >= 20 and question.explanation.endswith("。"), question.text
                right, wrong = right_and_wrong(question)
                if question.kind == QuestionKind.TRUE_FALSE:
                    assert isinstance(question.choices, bool), question.text
                    continue
                choices = right + wrong
                assert len(set(choices)) == len(choices) and all(0 < len(c) <= 500 for c in choices), question.text
                assert all(c == c.strip() and not c.startswith("*") for c in choices), question.text
                if question.kind == QuestionKind.SINGLE:
                    assert len(right) == 1 and len(wrong) >= 3, question.text
                else:
                    # Several right answers and at least one wrong: not a single-choice question in disguise.
                    assert len(right) >= 2 and len(wrong) >= 1, question.text


def test_no_question_is_asked_twice():
    texts = [question.text for question in ALL_QUESTIONS]
    assert [text for text, n in Counter(texts).items() if n > 1] == []


def test_the_wording_is_polite_plain_japanese():
    """です・ます調 throughout: no sentence ends in だ or である."""
    for text in ([lesson.body_md for _c, lesson in ALL_LESSONS] + [q.text for q in ALL_QUESTIONS]
                 + [q.explanation for q in ALL_QUESTIONS] + [e.description for e in EDITIONS]):
        assert not re.search(r"(だ|である)。", text), text


def test_seeding_both_editions_twice_adds_nothing(app, run_in_app):
    def counts():
        return tuple(db.session.scalar(select(func.count()).select_from(model)) for model in (Course, Lesson, Question,
                                                                                               Choice))

    def seed_twice():
        first = [seed_demo_course(), seed_managers_course()]
        after_first = counts()
        again = [seed_demo_course(), seed_managers_course()]
        return ([created for _c, created in first], [created for _c, created in again],
                [c.id for c, _ in first] == [c.id for c, _ in again], after_first, counts())

    created, created_again, same, after_first, after_again = run_in_app(seed_twice)
    assert created == [True, True] and created_again == [False, False] and same
    assert after_first == after_again
    lessons = sum(len(e.lessons) for e in EDITIONS)
    assert after_first[:3] == (2, lessons, len(ALL_QUESTIONS))


def test_the_seeded_courses_are_global_with_the_editions_rules_and_categories(app, run_in_app):
    def read():
        rows = {}
        for seed, content in ((seed_demo_course, GENERAL), (seed_managers_course, MANAGERS)):
            course, _created = seed()
            questions = db.session.scalars(select(Question).where(Question.course_id == course.id)
                                           .order_by(Question.position)).all()
            rows[content.title] = (
                course.organization_id, course.kind, course.pass_mark, course.questions_per_attempt,
                [lesson.title for lesson in course.lessons],
                [(q.kind, q.text, q.category, q.explanation, sorted(c.text for c in q.choices if c.is_correct))
                 for q in questions],
            )
        return rows

    rows = run_in_app(read)
    for content in EDITIONS:
        expected = [(q.kind, q.text, lesson.category, q.explanation, sorted(right_and_wrong(q)[0]))
                    for lesson in content.lessons for q in lesson.questions]
        assert rows[content.title] == (None, content.kind, content.pass_mark, content.questions_per_attempt,
                                       [lesson.title for lesson in content.lessons], expected)


def test_a_learner_reads_every_lesson_and_sees_the_explanations_after_passing(app, world, run_in_app, login_as):
    def make():
        course, _created = seed_demo_course()
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        lessons = [(lesson.id, lesson.title) for lesson in course.lessons]
        return assignment_of(delivery.id, world["learner_a"].id).id, lessons

    assignment_id, lessons = run_in_app(make)
    learner = login_as(world["learner_a"])
    overview = learner.get(f"/me/training/{assignment_id}").get_data(as_text=True)
    assert all(title in overview for _id, title in lessons)
    for (lesson_id, title), content in zip(lessons, GENERAL.lessons, strict=True):
        response = learner.get(f"/me/training/{assignment_id}/lessons/{lesson_id}")
        assert response.status_code == 200, title
        page = BeautifulSoup(response.get_data(as_text=True), "html.parser")
        body = page.select_one("article.lesson-body")
        assert page.find("h1").get_text() == title
        assert body.find("h2") and body.find("h3") and body.find("ul") and body.select("li strong")
        assert len(re.sub(r"\s", "", body.get_text())) == rendered_length(content.body_md)
        assert "**" not in body.get_text() and "##" not in body.get_text()

    def pass_the_test():
        with unscoped("the test reads and writes rows directly"):
            attempt = quiz_services.start_attempt(db.session.get(Assignment, assignment_id))
            questions = quiz_services.attempt_questions(attempt)
            for question_id in attempt.question_ids:
                right = [c.id for c in questions[question_id].choices if c.is_correct]
                quiz_services.save_answer(attempt, question_id, right)
            quiz_services.finish_attempt(attempt)
            return attempt.id, attempt.score, [questions[q].explanation for q in attempt.question_ids]

    attempt_id, score, explanations = run_in_app(pass_the_test)
    assert score == 100 and len(explanations) == GENERAL.questions_per_attempt
    result = BeautifulSoup(learner.get(f"/me/training/attempts/{attempt_id}/result").get_data(as_text=True),
                           "html.parser")
    shown = [p.get_text() for p in result.select("p.explanation")]
    assert [text.split(": ", 1)[1] for text in shown] == explanations
