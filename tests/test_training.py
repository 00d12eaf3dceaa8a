"""セキュトレ: content, deliveries, personal links, attempts, reminders, results (issue #6)."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, func, select

from portal.blueprints.training.courses import services as course_services
from portal.blueprints.training.courses.editions.edition_2026 import GENERAL, MANAGERS
from portal.blueprints.training.deliveries import services as delivery_services
from portal.blueprints.training.quizzes import services as quiz_services
from portal.demo.courses import seed_demo_course
from portal.departments import DepartmentTree
from portal.extensions import db
from portal.models import (
    Assignment,
    AssignmentStatus,
    Attempt,
    AttemptAnswer,
    AttemptState,
    AuditEvent,
    Choice,
    Course,
    Delivery,
    DeliveryStatus,
    Department,
    Lesson,
    OutboxMessage,
    Question,
    Recurrence,
    Role,
    User,
    utcnow,
)
from portal.tenancy import TenantScopeError, tenant_scope, unscoped
from tests.conftest import audit_events, csrf_token_from
from tests.training_helpers import add_course, assignment_of, deliver, link_for, take

# --- content -------------------------------------------------------------------------------------------


def test_markdown_is_sanitised(app):
    with app.app_context():
        html = str(
            course_services.render_markdown(
                "# 見出し\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) ![a](https://evil.example/x.png)"
                " ![b](/training/images/1) **太字**"
            )
        )
    assert "<script" not in html and 'href="javascript' not in html
    assert "<h1>見出し</h1>" in html
    assert "evil.example" not in html
    assert 'src="/training/images/1"' in html
    assert "<strong>太字</strong>" in html


def test_a_lesson_is_rendered_once_per_process_and_text():
    """Every learner reads the same lessons: the HTML of a text is made once and kept (a bounded cache)."""
    text = "## 同じ本文\n\n- 一\n- 二"
    first = course_services.render_markdown(text)
    assert course_services.render_markdown(text) is first
    assert course_services.render_markdown(text + "三") != first
    assert course_services.render_markdown(None) == course_services.render_markdown("") == ""
    assert course_services._render_markdown.cache_info().maxsize == 256


HOSTILE_IMAGES = [
    "//evil.example/x.png",
    "https://evil.example/x.png",
    "http://evil.example/x.png",
    "data:image/png;base64,AAAA",
    "javascript:alert(1)",
    "x.png",
]
HOSTILE_LINKS = ["//evil.example/", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "ftp://evil.example/", "data:,x",
                 "vbscript:x", "file:///etc/passwd", "evil.example/path"]


@pytest.mark.parametrize("url", HOSTILE_IMAGES)
def test_lesson_images_come_from_this_site_only(app, url):
    with app.app_context():
        soup = BeautifulSoup(str(course_services.render_markdown(f"![図]({url})")), "html.parser")
    assert soup.img is None or soup.img.get("src") is None


@pytest.mark.parametrize("url", HOSTILE_LINKS)
def test_lesson_links_are_http_https_mailto_or_this_site(app, url):
    with app.app_context():
        soup = BeautifulSoup(str(course_services.render_markdown(f"[リンク]({url})")), "html.parser")
    assert soup.a is None or soup.a.get("href") is None


@pytest.mark.parametrize("url", ["https://www.ipa.go.jp/security/", "http://example.jp/a", "mailto:help@example.jp",
                                 "/training/images/1", "/me/training?x=1"])
def test_lesson_links_that_stay(app, url):
    with app.app_context():
        soup = BeautifulSoup(str(course_services.render_markdown(f"[リンク]({url})")), "html.parser")
    assert soup.a["href"] == url and soup.a["rel"] == ["noopener", "noreferrer"]


@pytest.mark.parametrize(
    "url",
    ["//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", " //evil.example",
     "\\\\evil.example", "/\x00/evil.example", "https://evil.example/", "javascript:alert(1)", ""],
)
def test_site_relative_refuses_what_a_browser_reads_as_another_host(url):
    # Whatever Markdown does to the URL first, the rule itself refuses these.
    assert not course_services.site_relative(url)
    assert not course_services.url_allowed("img", url)


@pytest.mark.parametrize("url", ["java\tscript:alert(1)", "https\n://evil.example", " javascript:alert(1)",
                                 "https:\\\\evil.example"])
def test_link_rule_refuses_hidden_schemes(url):
    assert not course_services.url_allowed("a", url)


def test_demo_course_is_idempotent_and_real(app, run_in_app):
    assert len(GENERAL.questions) >= 60

    def seed_twice():
        first, created = seed_demo_course()
        again, created_again = seed_demo_course()
        kinds = set(db.session.scalars(select(Question.kind).where(Question.course_id == first.id)))
        count = course_services.question_count(first)
        empty = db.session.scalar(select(func.count()).select_from(Question).where(Question.explanation == ""))
        return created, created_again, first.id == again.id, kinds, count, empty, first.organization_id

    created, created_again, same, kinds, count, empty, org = run_in_app(seed_twice)
    assert created and not created_again and same
    assert kinds == {"single", "multiple", "true_false"}
    assert count == len(GENERAL.questions) and empty == 0 and org is None


def test_demo_command_seeds_the_course(app, run_in_app):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "情報セキュリティ基礎" in result.output and "管理者のための情報セキュリティ" in result.output
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    titles = run_in_app(lambda: sorted(db.session.scalars(select(Course.title))))
    assert titles == sorted([GENERAL.title, MANAGERS.title])


def test_global_courses_are_shared_and_own_courses_private(world, run_in_app, login_as):
    def make():
        shared = add_course(organization_id=None, title="全社共通")
        own_a = add_course(organization_id=world["org_a"].id, title="A社だけ")
        return shared.id, own_a.id

    shared_id, own_a = run_in_app(make)
    page_a = login_as(world["admin_a"]).get("/courses/").get_data(as_text=True)
    page_b = login_as(world["admin_b"]).get("/courses/").get_data(as_text=True)
    assert "全社共通" in page_a and "A社だけ" in page_a
    assert "全社共通" in page_b and "A社だけ" not in page_b
    admin_b = login_as(world["admin_b"])
    assert admin_b.get(f"/courses/{own_a}").status_code == 404
    assert admin_b.get(f"/courses/{shared_id}").status_code == 200
    # An organization reads global content but cannot edit it.
    assert admin_b.get(f"/courses/{shared_id}/edit").status_code == 404
    form = admin_b.get("/org/training/new").get_data(as_text=True)
    assert "全社共通" in form and "A社だけ" not in form


def test_the_guard_refuses_an_organization_writing_global_content(world, app):
    with app.app_context():
        with unscoped("the test reads and writes rows directly"):
            course = add_course(organization_id=None, questions=1)
            db.session.commit()
            course_id = course.id
        db.session.remove()
        with tenant_scope(world["org_a"].id):
            course = db.session.get(Course, course_id)
            assert course is not None  # readable
            course.title = "書き換え"
            with pytest.raises(TenantScopeError):
                db.session.flush()
            db.session.rollback()


def test_operator_creates_global_course_and_question(world, login_as, run_in_app):
    op = login_as(world["operator"])
    token = csrf_token_from(op.get("/courses/new").get_data(as_text=True))
    response = op.post(
        "/courses/new",
        data={
            "csrf_token": token,
            "title": "新講座",
            "fiscal_year": 2027,
            "kind": "annual",
            "pass_mark": 80,
            "questions_per_attempt": 5,
            "late_policy": "allow",
        },
    )
    assert response.status_code == 303
    course_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    url = f"/courses/{course_id}/questions/new"
    bad = op.post(url, data={"csrf_token": token, "kind": "single", "text": "問", "choices": "*A\n*B"})
    assert bad.status_code == 422
    assert "ちょうど1つ" in bad.get_data(as_text=True)
    tf = op.post(
        url,
        data={
            "csrf_token": token,
            "kind": "true_false",
            "text": "○×問",
            "answer": "false",
            "explanation": "説明",
            "category": "分野",
        },
    )
    assert tf.status_code == 303
    good = op.post(url, data={"csrf_token": token, "kind": "multiple", "text": "複数", "choices": "*A\nB\n*C"})
    assert good.status_code == 303

    def check():
        course = db.session.get(Course, course_id)
        questions = course_services.bank_questions(course)
        return course.organization_id, [(q.kind, [(c.text, c.is_correct) for c in q.choices]) for q in questions]

    org, questions = run_in_app(check)
    assert org is None
    assert questions == [
        ("true_false", [("○", False), ("×", True)]),
        ("multiple", [("A", True), ("B", False), ("C", True)]),
    ]


def test_next_edition_copies_an_annual_bank_and_shares_a_fixed_one(world, run_in_app):
    def make():
        annual = add_course(organization_id=None, questions=3)
        fixed = add_course(organization_id=None, questions=3, kind="fixed")
        next_annual = course_services.create_next_edition(annual)
        next_fixed = course_services.create_next_edition(fixed)
        with pytest.raises(course_services.CourseRuleError):
            course_services.create_next_edition(annual)
        return (
            next_annual.fiscal_year,
            next_annual.bank_id != annual.id,
            course_services.question_count(next_annual),
            next_fixed.bank_id == fixed.id,
            course_services.question_count(next_fixed),
        )

    year, own_bank, count, shared, fixed_count = run_in_app(make)
    assert year == 2027 and own_bank and count == 3 and shared and fixed_count == 3


def test_images_are_checked_and_served_with_nosniff(world, run_in_app, login_as):
    course_id = run_in_app(lambda: add_course(organization_id=world["org_a"].id).id)
    admin = login_as(world["admin_a"])
    token = csrf_token_from(admin.get(f"/courses/{course_id}").get_data(as_text=True))
    refused = admin.post(
        f"/courses/{course_id}/images",
        data={"csrf_token": token, "image": (io.BytesIO(b"<svg onload=alert(1)>"), "x.png")},
        follow_redirects=True,
    )
    assert "PNG、JPEG、GIF" in refused.get_data(as_text=True)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    admin.post(f"/courses/{course_id}/images", data={"csrf_token": token, "image": (io.BytesIO(png), "a.png")})
    image_id = run_in_app(lambda: db.session.scalar(select(func.max(course_services.CourseImage.id))))
    served = login_as(world["learner_a"]).get(f"/training/images/{image_id}")
    assert served.status_code == 200 and served.data == png
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Type"] == "image/png"
    assert "private" in served.headers["Cache-Control"]
    assert login_as(world["learner_b"]).get(f"/training/images/{image_id}").status_code == 404


# --- deliveries ----------------------------------------------------------------------------------------


def _delivery_form(client, **fields):
    token = csrf_token_from(client.get("/org/training/new").get_data(as_text=True))
    data = {
        "csrf_token": token,
        "target_kind": "everyone",
        "starts_at": "2026-04-01T09:00",
        "due_at": "2026-04-30T18:00",
        "window_start_hour": 9,
        "window_end_hour": 18,
        "business_days_only": "y",
        "recurrence": "none",
    }
    data.update(fields)
    return client.post("/org/training/new", data=data)


def _counts():
    return (
        db.session.scalar(select(func.count()).select_from(Delivery)),
        db.session.scalar(select(func.count()).select_from(Assignment)),
        db.session.scalar(select(func.count()).select_from(OutboxMessage)),
    )


def test_delivery_bad_input_is_refused_in_japanese(world, run_in_app, login_as):
    full, empty = run_in_app(
        lambda: (
            add_course(organization_id=None).id,
            add_course(organization_id=None, questions=0, title="問題なし").id,
        )
    )
    admin = login_as(world["admin_a"])
    before = run_in_app(_counts)
    cases = [
        ({"course_id": full, "due_at": "2026-03-01T09:00"}, "期限は開始日時より後にしてください。"),
        ({"course_id": empty}, "この講座にはまだ問題がありません"),
        ({"course_id": full, "reminder_days": ["-7", "-3", "-1", "1", "3", "7"]}, "リマインドは5回までです。"),
        ({"course_id": full, "target_kind": "departments"}, "対象の部署を選んでください。"),
        ({"course_id": full, "window_start_hour": 18, "window_end_hour": 9}, "送信時間帯は"),
    ]
    for fields, message in cases:
        response = _delivery_form(admin, **fields)
        assert response.status_code == 422, fields
        assert message in response.get_data(as_text=True), fields
    assert run_in_app(_counts) == before


def test_launch_assigns_targets_and_queues_personal_links(app, world, make_user, run_in_app, login_as):
    no_email = make_user(Role.LEARNER, world["org_a"], email=None, login_id="A002", name="メールなし")
    inactive = make_user(Role.LEARNER, world["org_a"], is_active_flag=False)
    course_id = run_in_app(lambda: add_course(organization_id=None).id)
    admin = login_as(world["admin_a"])
    # Already started (within the contract, which began on 2026-04-01), so it launches at once.
    response = _delivery_form(admin, course_id=course_id, starts_at="2026-04-02T09:00", due_at="2099-01-01T18:00")
    assert response.status_code == 303

    def check():
        delivery = db.session.scalar(select(Delivery))
        learners = set(db.session.scalars(select(Assignment.learner_id)))
        mails = db.session.scalars(select(OutboxMessage)).all()
        link = link_for(delivery.id, world["learner_a"].id)
        return (
            delivery.status,
            delivery.id,
            learners,
            [(m.user_id, m.body_text, m.idempotency_key) for m in mails],
            link,
        )

    status, delivery_id, learners, mails, link = run_in_app(check)
    assert status == DeliveryStatus.LAUNCHED
    assert learners == {world["learner_a"].id, no_email.id}
    assert inactive.id not in learners and world["learner_b"].id not in learners
    assert [m[0] for m in mails] == [world["learner_a"].id]  # no email address, no email
    user_id, body, key = mails[0]
    assert key == f"delivery:{delivery_id}:invitation:{user_id}"
    assert f"/t/{link}" in body
    assert "受講 A さん" in body
    # The learner without email finds it on the home page.
    with app.test_request_context(), tenant_scope(world["org_a"].id):
        items = quiz_services.training_home_items(db.session.get(User, no_email.id), 6)
    assert [(i.section, i.title) for i in items] == [("assigned", "テスト講座（2026年度）")]


def test_invitations_wait_for_the_sending_window(world, run_in_app):
    course_id = run_in_app(lambda: add_course(organization_id=None).id)
    saturday_night = datetime(2026, 5, 2, 13, 0, tzinfo=UTC)  # 22:00 Saturday in Tokyo, in Golden Week

    def make():
        deliver(world["admin_a"], course_id, now=saturday_night)
        return db.session.scalar(select(OutboxMessage.next_attempt_at))

    send_at = run_in_app(make)
    # Sunday, then 5/4-5/6 are holidays: the first business day is Thursday 5/7, 9:00 Tokyo.
    assert send_at == datetime(2026, 5, 7, 0, 0, tzinfo=UTC)


def test_departments_target_includes_sub_departments(world, make_user, run_in_app):
    def tree():
        top = Department(organization_id=world["org_a"].id, name="営業部", depth=1)
        db.session.add(top)
        db.session.flush()
        sub = Department(organization_id=world["org_a"].id, name="東京", depth=2, parent_id=top.id)
        other = Department(organization_id=world["org_a"].id, name="総務部", depth=1)
        db.session.add_all([sub, other])
        db.session.flush()
        return top.id, sub.id, other.id

    top, sub, other = run_in_app(tree)
    in_sub = make_user(Role.LEARNER, world["org_a"], department_id=sub)
    make_user(Role.LEARNER, world["org_a"], department_id=other)
    course_id = run_in_app(lambda: add_course(organization_id=None).id)

    def make():
        from portal.blueprints.training.deliveries.services import DeliveryInput

        with tenant_scope(world["org_a"].id):
            course = db.session.get(Course, course_id)
            data = DeliveryInput(
                course=course,
                title="",
                target_kind="departments",
                department_ids=[top],
                learner_ids=[],
                starts_at=utcnow(),
                due_at=utcnow() + timedelta(days=3),
                reminder_days=[],
            )
            delivery = delivery_services.create_delivery(data, by=db.session.get(User, world["admin_a"].id))
            return set(db.session.scalars(select(Assignment.learner_id).where(Assignment.delivery_id == delivery.id)))

    assert run_in_app(make) == {in_sub.id}


# --- personal links ------------------------------------------------------------------------------------


def _delivered(world, run_in_app, **course_fields):
    def make():
        course = add_course(organization_id=None, **course_fields)
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        return delivery.id, assignment_of(delivery.id, world["learner_a"].id).id

    delivery_id, assignment_id = run_in_app(make)
    return delivery_id, assignment_id, run_in_app(lambda: link_for(delivery_id, world["learner_a"].id))


def test_opening_a_link_records_nothing_and_the_post_signs_in(app, world, run_in_app, client):
    delivery_id, assignment_id, link = _delivered(world, run_in_app)
    before = run_in_app(lambda: db.session.scalar(select(func.count()).select_from(AuditEvent)))
    for _ in range(3):  # a mail scanner, a preview, the learner
        page = client.get(f"/t/{link}")
        assert page.status_code == 200
    assert client.get("/me/").status_code == 302  # not signed in
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(AuditEvent))) == before
    assert run_in_app(lambda: db.session.get(Assignment, assignment_id).status) == AssignmentStatus.NOT_STARTED
    response = client.post(f"/t/{link}", data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/me/training/{assignment_id}")
    assert client.get(f"/me/training/{assignment_id}").status_code == 200


def test_a_link_refuses_another_learner_and_a_closed_delivery(world, run_in_app, login_as, client):
    delivery_id, _assignment, link = _delivered(world, run_in_app)
    other = login_as(world["learner_b"])
    refused = other.get(f"/t/{link}")
    assert refused.status_code == 404
    assert "別の受講者" in refused.get_data(as_text=True)
    assert client.get("/t/not-a-link").status_code == 404

    def close():
        delivery_services.close_delivery(db.session.get(Delivery, delivery_id))

    run_in_app(close)
    closed = client.get(f"/t/{link}")
    assert closed.status_code == 410 and "この配信は終了しました" in closed.get_data(as_text=True)


# --- taking a test -------------------------------------------------------------------------------------


def _start(client, assignment_id):
    token = csrf_token_from(client.get(f"/me/training/{assignment_id}").get_data(as_text=True))
    response = client.post(f"/me/training/{assignment_id}/start", data={"csrf_token": token})
    assert response.status_code == 303, response.get_data(as_text=True)
    return token, response.headers["Location"]


def _attempt(run_in_app, assignment_id):
    return run_in_app(
        lambda: db.session.scalar(
            select(Attempt).where(Attempt.assignment_id == assignment_id).order_by(Attempt.number.desc())
        )
    )


def _choice(run_in_app, question_id, correct: bool) -> int:
    return run_in_app(
        lambda: db.session.scalar(
            select(Choice.id).where(Choice.question_id == question_id, Choice.is_correct.is_(correct)).limit(1)
        )
    )


def test_a_learner_fails_sees_wrong_answers_only_then_passes_and_sees_explanations(world, run_in_app, login_as):
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=3)
    learner = login_as(world["learner_a"])
    status = lambda: run_in_app(lambda: db.session.get(Assignment, assignment_id).status)  # noqa: E731
    assert status() == AssignmentStatus.NOT_STARTED
    token, location = _start(learner, assignment_id)
    assert location.endswith("/1")
    assert status() == AssignmentStatus.IN_PROGRESS  # 中断 until finished
    attempt = _attempt(run_in_app, assignment_id)
    # One question per screen; a plain POST goes on to the next one.
    page = BeautifulSoup(learner.get(location).get_data(as_text=True), "html.parser")
    assert len(page.select("fieldset legend")) == 1
    for number, question_id in enumerate(attempt.question_ids, start=1):
        choice = _choice(run_in_app, question_id, correct=number != 2)
        response = learner.post(
            f"/me/training/attempts/{attempt.id}/answer",
            data={"csrf_token": token, "number": number, "question_id": question_id, "choice": choice},
        )
        assert response.status_code == 303
    assert response.headers["Location"].endswith("/review")
    learner.post(f"/me/training/attempts/{attempt.id}/finish", data={"csrf_token": token})
    assert status() == AssignmentStatus.FAILED
    result = learner.get(f"/me/training/attempts/{attempt.id}/result").get_data(as_text=True)
    assert "不合格" in result and result.count("不正解") >= 1
    assert "（正解）" not in result and "解説1" not in result  # the right answers stay hidden
    # Each question in the attempt's order, marked right or wrong, its choices in the attempt's order with
    # the learner's own marked.
    texts = run_in_app(lambda: dict(db.session.execute(
        select(Choice.id, Choice.text).where(Choice.question_id.in_(attempt.question_ids))).all()))
    reviewed = BeautifulSoup(result, "html.parser").select("ol.review > li")
    assert [li["class"] for li in reviewed] == [["correct"], ["incorrect"], ["correct"]]
    for li, question_id in zip(reviewed, attempt.question_ids, strict=True):
        shown = [(c.find(string=True).strip(), c.get_text()) for c in li.select("ul > li")]
        assert [text for text, _ in shown] == [texts[c] for c in attempt.choice_order[str(question_id)]]
        assert [text for text, whole in shown if "（あなたの回答）" in whole] == [
            texts[_choice(run_in_app, question_id, correct=question_id != attempt.question_ids[1])]]
    # The retake draws the questions again and the learner passes.
    token, location = _start(learner, assignment_id)
    retake = _attempt(run_in_app, assignment_id)
    assert retake.number == 2 and retake.id != attempt.id
    for number, question_id in enumerate(retake.question_ids, start=1):
        learner.post(
            f"/me/training/attempts/{retake.id}/answer",
            data={
                "csrf_token": token,
                "number": number,
                "question_id": question_id,
                "choice": _choice(run_in_app, question_id, correct=True),
            },
        )
    learner.post(f"/me/training/attempts/{retake.id}/finish", data={"csrf_token": token})
    assert status() == AssignmentStatus.PASSED
    passed = learner.get(f"/me/training/attempts/{retake.id}/result").get_data(as_text=True)
    assert "合格" in passed and "解説1" in passed and "解説3" in passed and "（正解）" in passed
    again = learner.post(f"/me/training/{assignment_id}/start", data={"csrf_token": token}, follow_redirects=True)
    assert "すでに合格しています" in again.get_data(as_text=True)


def test_retakes_draw_unseen_questions_and_choices_are_shuffled_per_attempt(world, run_in_app):
    def make():
        course = add_course(organization_id=None, questions=6, per_attempt=3)
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        assignment = assignment_of(delivery.id, world["learner_a"].id)
        first = take(assignment.id, right=0)
        second = take(assignment.id, right=0)
        third = take(assignment.id, right=0)
        return first.question_ids, second.question_ids, third.question_ids, first.choice_order

    first, second, third, order = run_in_app(make)
    assert len(first) == 3 and set(first).isdisjoint(second)
    assert len(set(third)) == 3  # the bank is used up: repeats are allowed again
    assert set(order) == {str(q) for q in first} and all(len(ids) == 3 for ids in order.values())


def test_starting_a_test_costs_the_same_few_statements_for_a_first_attempt_and_a_third(
    app, world, run_in_app, login_as
):
    """The start is the busiest write of the 9:00 rush (#17): the earlier attempts (the running one, the next
    number, the questions seen) are one read, there is no savepoint (the lock or SQLite's write transaction
    already rules out a second start beside it) and a new attempt's first question needs no query. Bound: 11
    (BEGIN or PostgreSQL's statement timeout, the user, a link session's task, the assignment, on PostgreSQL
    its row lock, the earlier attempts, the bank, the choices, the status, the attempt, the audit event); it
    was 15 through a personal link."""
    from tests.test_query_counts import statements_while_rendering

    def make():
        ids = []
        for _course in range(2):
            course = add_course(organization_id=None, questions=6, per_attempt=2)
            delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
            ids.append(assignment_of(delivery.id, world["learner_a"].id).id)
        take(ids[1], right=0)
        take(ids[1], right=0)
        return ids

    first, third = run_in_app(make)
    counts = []
    client = login_as(world["learner_a"])
    for assignment_id, number in ((first, 1), (third, 3)):
        token = csrf_token_from(client.get(f"/me/training/{assignment_id}").get_data(as_text=True))
        with statements_while_rendering(app) as (seen, _in_templates):
            response = client.post(f"/me/training/{assignment_id}/start", data={"csrf_token": token})
        assert response.status_code == 303 and response.headers["Location"].endswith("/1")
        counts.append(len(seen))
        attempt = _attempt(run_in_app, assignment_id)
        assert attempt.number == number and attempt.state == AttemptState.IN_PROGRESS
    # The third attempt writes no status (the assignment is under way already); nothing grows with the attempts.
    assert counts[0] <= 11 and counts[1] == counts[0] - 1, counts
    # A second start continues the running attempt where it stopped.
    token = csrf_token_from(client.get(f"/me/training/{first}").get_data(as_text=True))
    attempt = _attempt(run_in_app, first)
    quiz_answer = run_in_app(lambda: quiz_services.attempt_questions(db.session.get(Attempt, attempt.id)))
    question_id = attempt.question_ids[0]
    run_in_app(lambda: quiz_services.save_answer(db.session.get(Attempt, attempt.id), question_id,
                                                 [quiz_answer[question_id].choices[0].id]))
    again = client.post(f"/me/training/{first}/start", data={"csrf_token": token})
    assert again.headers["Location"].endswith(f"/attempts/{attempt.id}/2")


def test_the_same_choices_again_write_nothing_and_a_change_replaces_them(world, run_in_app):
    """With JavaScript a choice is saved when it is made and 保存して次へ sends it again: the second save leaves
    the row as it was (the time it was chosen); another choice replaces it."""
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)

    def scenario():
        attempt = quiz_services.start_attempt(db.session.get(Assignment, assignment_id))
        question_id = attempt.question_ids[0]
        right, wrong = (db.session.scalar(select(Choice.id).where(Choice.question_id == question_id,
                                                                  Choice.is_correct.is_(correct)).limit(1))
                        for correct in (True, False))
        chosen_at = attempt.started_at + timedelta(minutes=1)

        def saved():
            db.session.expire_all()
            answer = db.session.scalar(select(AttemptAnswer).where(AttemptAnswer.attempt_id == attempt.id))
            return answer.choice_ids, answer.answered_at.replace(tzinfo=None)

        quiz_services.save_answer(attempt, question_id, [right], now=chosen_at)
        first = saved()
        quiz_services.save_answer(attempt, question_id, [right], now=chosen_at + timedelta(seconds=20))
        again = saved()
        quiz_services.save_answer(attempt, question_id, [wrong], now=chosen_at + timedelta(seconds=40))
        return first, again, saved(), right, wrong, chosen_at.replace(tzinfo=None)

    first, again, changed, right, wrong, chosen_at = run_in_app(scenario)
    assert first == again == ([right], chosen_at)
    assert changed == ([wrong], chosen_at + timedelta(seconds=40))


def test_htmx_saves_an_answer_and_resumes_after_the_browser_closed(world, run_in_app, login_as):
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)
    learner = login_as(world["learner_a"])
    token, _location = _start(learner, assignment_id)
    attempt = _attempt(run_in_app, assignment_id)
    question_id = attempt.question_ids[0]
    choice = _choice(run_in_app, question_id, correct=True)
    response = learner.post(
        f"/me/training/attempts/{attempt.id}/answer",
        headers={"HX-Request": "true"},
        data={"csrf_token": token, "number": 1, "question_id": question_id, "choice": choice},
    )
    assert response.status_code == 200
    fragment = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    assert fragment.select_one("#answer-status").get_text(strip=True) == "回答を保存しました。"
    assert fragment.select("fieldset") == []  # the status line only, not the question
    refused = learner.post(
        f"/me/training/attempts/{attempt.id}/answer",
        headers={"HX-Request": "true"},
        data={"csrf_token": token, "number": 1, "question_id": question_id,
              "choice": _choice(run_in_app, attempt.question_ids[1], correct=True)},
    )
    assert refused.status_code == 422
    status = BeautifulSoup(refused.get_data(as_text=True), "html.parser").select_one("#answer-status .field-error")
    assert "選択肢ではありません" in status.get_text()
    # A new session (browser closed): the test resumes with the answer kept.
    again = login_as(world["learner_a"])
    assert "テストを再開する" in again.get(f"/me/training/{assignment_id}").get_data(as_text=True)
    token = csrf_token_from(again.get(f"/me/training/{assignment_id}").get_data(as_text=True))
    resumed = again.post(f"/me/training/{assignment_id}/start", data={"csrf_token": token})
    assert resumed.headers["Location"].endswith(f"/attempts/{attempt.id}/2")  # the first unanswered
    first = BeautifulSoup(again.get(f"/me/training/attempts/{attempt.id}/1").get_data(as_text=True), "html.parser")
    assert first.select_one(f"input[name=choice][value='{choice}']").has_attr("checked")


def test_going_back_from_a_question_not_answered_yet_saves_nothing_and_asks_for_no_choice(world, run_in_app, login_as):
    """前へ on a question left unanswered goes back (it used to stop at 「選択肢を選んでください」): plain form and
    htmx alike, nothing saved. 保存して次へ still asks for a choice."""
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=3)
    learner = login_as(world["learner_a"])
    token, _location = _start(learner, assignment_id)
    attempt = _attempt(run_in_app, assignment_id)
    url = f"/me/training/attempts/{attempt.id}/answer"
    second, third = attempt.question_ids[1:]

    def post(number, question_id, go, **headers):
        return learner.post(url, headers=headers, data={"csrf_token": token, "number": number,
                                                        "question_id": question_id, "go": go})

    plain = post(3, third, "previous")
    assert plain.status_code == 303 and plain.headers["Location"] == f"/me/training/attempts/{attempt.id}/2"
    by_htmx = post(2, second, "previous", **{"HX-Request": "true"})
    assert by_htmx.status_code == 200 and by_htmx.headers["HX-Push-Url"] == f"/me/training/attempts/{attempt.id}/1"
    assert "問題 1 / 3" in BeautifulSoup(by_htmx.get_data(as_text=True), "html.parser").title.get_text()
    assert run_in_app(lambda: quiz_services.answered_question_ids(db.session.get(Attempt, attempt.id))) == set()
    forward = post(2, second, "next")
    assert forward.status_code == 422 and "選択肢を選んでください" in forward.get_data(as_text=True)
    # On the first question there is no 前へ: the form sent anyway asks for a choice, as before.
    assert post(1, attempt.question_ids[0], "previous").status_code == 422


def test_a_button_by_htmx_saves_and_brings_the_next_screen_in_one_response(world, run_in_app, login_as):
    """保存して次へ and 前へ with JavaScript: one request saves and answers with the next screen's whole page (the
    browser swaps its #main and pushes its address), instead of a redirect and a second request (#17)."""
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)
    learner = login_as(world["learner_a"])
    token, _location = _start(learner, assignment_id)
    attempt = _attempt(run_in_app, assignment_id)
    url = f"/me/training/attempts/{attempt.id}/answer"
    first, second = attempt.question_ids
    htmx = {"HX-Request": "true"}

    def post(number, question_id, choice, go):
        return learner.post(url, headers=htmx, data={"csrf_token": token, "number": number,
                                                     "question_id": question_id, "choice": choice, "go": go})

    moved = post(1, first, _choice(run_in_app, first, correct=True), "next")
    assert moved.status_code == 200
    assert moved.headers["HX-Push-Url"] == f"/me/training/attempts/{attempt.id}/2"
    page = BeautifulSoup(moved.get_data(as_text=True), "html.parser")
    assert page.select_one("main#main") is not None and "問題 2 / 2" in page.select_one("main#main").get_text()
    assert page.select_one("input[name=question_id]")["value"] == str(second)
    assert "問題 2 / 2" in page.title.get_text()
    assert run_in_app(lambda: quiz_services.answered_question_ids(db.session.get(Attempt, attempt.id))) == {first}
    # The button of the screen it brought: 前へ goes back, with the first answer still chosen.
    back = BeautifulSoup(moved.get_data(as_text=True), "html.parser").select_one("button[value=previous]")
    assert back["hx-post"] == url and back["hx-select"] == "#main"
    returned = post(2, second, _choice(run_in_app, second, correct=False), "previous")
    assert returned.headers["HX-Push-Url"] == f"/me/training/attempts/{attempt.id}/1"
    assert BeautifulSoup(returned.get_data(as_text=True), "html.parser").select_one(
        f"input[name=choice][value='{_choice(run_in_app, first, correct=True)}']").has_attr("checked")
    # A refused answer keeps the screen, whole (its #main replaces the page's), with the message at 422.
    refused = post(1, first, _choice(run_in_app, second, correct=True), "next")
    assert refused.status_code == 422 and "HX-Push-Url" not in refused.headers
    page = BeautifulSoup(refused.get_data(as_text=True), "html.parser")
    assert "選択肢ではありません" in page.select_one("main#main #answer-status").get_text()
    assert page.select_one("input[name=question_id]")["value"] == str(first)
    # The last question's button brings the review.
    to_review = post(2, second, _choice(run_in_app, second, correct=True), "next")
    assert to_review.headers["HX-Push-Url"] == f"/me/training/attempts/{attempt.id}/review"
    assert "/finish" in to_review.get_data(as_text=True)
    # An error page for a button goes to the page's flash area whole, not through the button's #main select.
    lost = post(7, second, _choice(run_in_app, second, correct=True), "next")
    assert lost.status_code == 404 and lost.headers["HX-Retarget"] == "#flash"
    assert lost.headers["HX-Reselect"] == "unset"
    # Once the attempt is finished, a button (a second tab) goes to the result as a whole page.
    run_in_app(lambda: quiz_services.finish_attempt(db.session.get(Attempt, attempt.id)))
    late = post(2, second, _choice(run_in_app, second, correct=True), "next")
    assert late.status_code == 204 and late.headers["HX-Redirect"] == f"/me/training/attempts/{attempt.id}/result"


def test_the_start_button_by_htmx_brings_the_first_question_in_one_response(world, run_in_app, login_as):
    """テストを始める with JavaScript: the start answers with the question's whole page (the browser swaps its
    #main and pushes its address) instead of a redirect and a second request (#17); the resume goes to the
    first unanswered question; a refusal sends the browser back to the assignment's page with its reason."""
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)
    learner = login_as(world["learner_a"])
    page = BeautifulSoup(learner.get(f"/me/training/{assignment_id}").get_data(as_text=True), "html.parser")
    form = page.select_one(f"form[action='/me/training/{assignment_id}/start']")
    assert form["hx-post"] == form["action"] and form["hx-select"] == "#main" and form["hx-sync"] == "this:drop"
    token = csrf_token_from(str(page))
    htmx = {"HX-Request": "true"}
    started = learner.post(f"/me/training/{assignment_id}/start", headers=htmx, data={"csrf_token": token})
    assert started.status_code == 200, started.get_data(as_text=True)
    attempt = _attempt(run_in_app, assignment_id)
    assert attempt.number == 1
    assert started.headers["HX-Push-Url"] == f"/me/training/attempts/{attempt.id}/1"
    shown = BeautifulSoup(started.get_data(as_text=True), "html.parser")
    assert "問題 1 / 2" in shown.select_one("main#main").get_text() and "問題 1 / 2" in shown.title.get_text()
    assert shown.select_one("input[name=question_id]")["value"] == str(attempt.question_ids[0])
    # The first question answered, a second start (the back button, another tab) resumes at the second.
    first = attempt.question_ids[0]
    learner.post(f"/me/training/attempts/{attempt.id}/answer", headers=htmx, data={
        "csrf_token": token, "number": 1, "question_id": first, "choice": _choice(run_in_app, first, correct=True)})
    resumed = learner.post(f"/me/training/{assignment_id}/start", headers=htmx, data={"csrf_token": token})
    assert resumed.headers["HX-Push-Url"] == f"/me/training/attempts/{attempt.id}/2"
    assert _attempt(run_in_app, assignment_id).id == attempt.id
    # An expired form is answered in the page's message area, whole whatever the button selects; a refused
    # start brings the assignment's page back with the reason.
    expired = learner.post(f"/me/training/{assignment_id}/start", headers=htmx, data={"csrf_token": "stale"})
    assert expired.status_code == 400 and expired.headers["HX-Retarget"] == "#flash"
    assert expired.headers["HX-Reselect"] == "unset" and "HX-Push-Url" not in expired.headers
    run_in_app(lambda: quiz_services.finish_attempt(db.session.get(Attempt, attempt.id)))
    run_in_app(lambda: delivery_services.close_delivery(db.session.get(Assignment, assignment_id).delivery))
    refused = learner.post(f"/me/training/{assignment_id}/start", headers=htmx, data={"csrf_token": token})
    assert refused.status_code == 204 and refused.headers["HX-Redirect"] == f"/me/training/{assignment_id}"
    assert "終了しました" in learner.get(f"/me/training/{assignment_id}").get_data(as_text=True)
    assert _attempt(run_in_app, assignment_id).id == attempt.id


def test_an_assignment_page_lists_the_lessons_in_order_and_the_attempts_so_far(world, run_in_app, login_as):
    def make():
        course = add_course(organization_id=None, questions=2)
        db.session.add_all([Lesson(course_id=course.id, position=2, title="二つ目の話", body_md="本文2"),
                            Lesson(course_id=course.id, position=1, title="一つ目の話", body_md="本文1")])
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        assignment = assignment_of(delivery.id, world["learner_a"].id)
        take(assignment.id, right=0)  # 0 points, failed
        take(assignment.id, finish=False)  # left half-way
        return assignment.id

    assignment_id = run_in_app(make)
    page = BeautifulSoup(login_as(world["learner_a"]).get(f"/me/training/{assignment_id}").get_data(as_text=True),
                         "html.parser")
    lessons = page.select("section ol li a")
    assert [a.get_text(strip=True) for a in lessons] == ["一つ目の話", "二つ目の話"]
    assert all(f"/me/training/{assignment_id}/lessons/" in a["href"] for a in lessons)
    history = [" ".join(li.get_text().split()) for li in page.select("section ul li")]
    assert history == ["1回目: 0点 不合格", "2回目: 中断"]
    assert "テストを再開する" in page.get_text()


def test_a_lesson_page_shows_its_lesson_between_its_neighbours_and_no_other_courses_lesson(world, run_in_app, login_as):
    def make():
        course = add_course(organization_id=None, questions=2)
        other = add_course(organization_id=None, questions=2)
        first, second, third, elsewhere = (Lesson(course_id=course.id, position=1, title="一つ目の話", body_md="本文1"),
                                           Lesson(course_id=course.id, position=2, title="二つ目の話", body_md="本文2"),
                                           Lesson(course_id=course.id, position=3, title="三つ目の話", body_md="本文3"),
                                           Lesson(course_id=other.id, position=1, title="別の研修", body_md="別"))
        db.session.add_all([first, second, third, elsewhere])
        db.session.flush()
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        return assignment_of(delivery.id, world["learner_a"].id).id, [first.id, second.id, third.id, elsewhere.id]

    assignment_id, (first, second, third, elsewhere) = run_in_app(make)
    learner = login_as(world["learner_a"])
    page = BeautifulSoup(learner.get(f"/me/training/{assignment_id}/lessons/{second}").get_data(as_text=True),
                         "html.parser")
    assert page.h1.get_text(strip=True) == "二つ目の話"
    assert "本文2" in page.select_one("article.lesson-body").get_text()
    assert page.select_one("a[rel=prev]")["href"] == f"/me/training/{assignment_id}/lessons/{first}"
    assert page.select_one("a[rel=next]")["href"] == f"/me/training/{assignment_id}/lessons/{third}"
    last = BeautifulSoup(learner.get(f"/me/training/{assignment_id}/lessons/{third}").get_data(as_text=True),
                         "html.parser")
    assert last.select_one("a[rel=next]") is None and last.select_one("a[rel=prev]") is not None
    assert learner.get(f"/me/training/{assignment_id}/lessons/{elsewhere}").status_code == 404
    assert learner.get(f"/me/training/{assignment_id}/lessons/999999").status_code == 404


def test_a_question_page_shows_its_text_the_choices_in_the_attempts_order_and_the_saved_answer(
    world, run_in_app, login_as
):
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)
    learner = login_as(world["learner_a"])
    token, location = _start(learner, assignment_id)
    attempt = _attempt(run_in_app, assignment_id)
    question_id = attempt.question_ids[0]
    texts = run_in_app(lambda: dict(db.session.execute(select(Choice.id, Choice.text)
                                                       .where(Choice.question_id == question_id)).all()))
    order = attempt.choice_order[str(question_id)]
    page = BeautifulSoup(learner.get(location).get_data(as_text=True), "html.parser")
    assert page.select_one("input[name=question_id]")["value"] == str(question_id)
    text = run_in_app(lambda: db.session.get(Question, question_id).text)
    assert page.select_one("legend").get_text(strip=True) == text
    radios = page.select("input[name=choice]")
    assert [int(r["value"]) for r in radios] == order and all(r["type"] == "radio" for r in radios)
    assert [label.get_text(strip=True) for label in page.select("label.choice")] == [texts[c] for c in order]
    assert not any(r.has_attr("checked") for r in radios)
    learner.post(f"/me/training/attempts/{attempt.id}/answer",
                 data={"csrf_token": token, "number": 1, "question_id": question_id, "choice": order[-1]})
    again = BeautifulSoup(learner.get(location).get_data(as_text=True), "html.parser")
    assert [r["value"] for r in again.select("input[name=choice][checked]")] == [str(order[-1])]
    assert again.select_one("#answer-status").get_text(strip=True) == "回答は保存されています。"
    assert learner.get(f"/me/training/attempts/{attempt.id}/3").status_code == 404  # past the last question


def test_changing_an_answer_keeps_one_row_with_the_later_choice_and_time(world, run_in_app, login_as, time_machine):
    time_machine.move_to(datetime(2026, 11, 16, 1, 0, tzinfo=UTC), tick=False)
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)
    learner = login_as(world["learner_a"])
    token, _location = _start(learner, assignment_id)
    attempt = _attempt(run_in_app, assignment_id)
    question_id = attempt.question_ids[0]
    first, later = attempt.choice_order[str(question_id)][:2]
    url = f"/me/training/attempts/{attempt.id}/answer"
    for choice in (first, later):
        time_machine.shift(timedelta(minutes=1))
        answered = learner.post(url, data={"csrf_token": token, "number": 1, "question_id": question_id,
                                           "choice": choice})
        assert answered.status_code == 303
    rows = run_in_app(lambda: db.session.execute(
        select(AttemptAnswer.choice_ids, AttemptAnswer.answered_at, AttemptAnswer.organization_id)
        .where(AttemptAnswer.attempt_id == attempt.id)).all())
    assert rows == [([later], datetime(2026, 11, 16, 1, 2, tzinfo=UTC), world["learner_a"].organization_id)]


def test_bad_answers_are_refused_and_nothing_is_written(world, run_in_app, login_as):
    def make():
        course = add_course(organization_id=None, questions=4, per_attempt=2)
        other = add_course(organization_id=None, questions=1, title="別の講座")
        delivery = deliver(world["admin_a"], course.id, learner_ids=[world["learner_a"].id])
        assignment = assignment_of(delivery.id, world["learner_a"].id)
        return assignment.id, course_services.bank_questions(other)[0].id

    assignment_id, foreign_question = run_in_app(make)
    learner = login_as(world["learner_a"])
    token, _location = _start(learner, assignment_id)
    attempt = _attempt(run_in_app, assignment_id)
    inside = attempt.question_ids[0]
    outside = run_in_app(
        lambda: db.session.scalar(
            select(Question.id)
            .where(
                Question.course_id == db.session.get(Question, inside).course_id,
                Question.id.not_in(attempt.question_ids),
            )
            .limit(1)
        )
    )
    url = f"/me/training/attempts/{attempt.id}/answer"
    cases = [
        (
            {"question_id": outside, "choice": _choice(run_in_app, outside, True)},
            "この問題はこのテストに含まれていません",
        ),
        (
            {"question_id": inside, "choice": _choice(run_in_app, foreign_question, True)},
            "この問題の選択肢ではありません",
        ),
        ({"question_id": inside, "choice": "abc"}, "この問題の選択肢ではありません"),
        ({"question_id": inside}, "選択肢を選んでください"),
    ]
    for fields, message in cases:
        response = learner.post(url, data={"csrf_token": token, "number": 1, **fields})
        assert response.status_code == 422, fields
        assert message in response.get_data(as_text=True), fields
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(AttemptAnswer))) == 0
    # learner_b cannot reach learner_a's attempt or assignment.
    other = login_as(world["learner_b"])
    assert other.get(f"/me/training/attempts/{attempt.id}/1").status_code == 404
    assert other.get(f"/me/training/{assignment_id}").status_code == 404
    assert other.post(url, data={"csrf_token": token, "number": 1, "question_id": inside}).status_code in (400, 404)


def test_a_double_tap_or_replayed_finish_scores_once(world, run_in_app, login_as):
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)
    learner = login_as(world["learner_a"])
    token, _location = _start(learner, assignment_id)
    attempt = _attempt(run_in_app, assignment_id)
    for _ in range(3):
        response = learner.post(f"/me/training/attempts/{attempt.id}/finish", data={"csrf_token": token})
        assert response.headers["Location"].endswith("/result")
    late_answer = learner.post(
        f"/me/training/attempts/{attempt.id}/answer",
        data={
            "csrf_token": token,
            "number": 1,
            "question_id": attempt.question_ids[0],
            "choice": _choice(run_in_app, attempt.question_ids[0], True),
        },
    )
    assert late_answer.status_code == 303 and late_answer.headers["Location"].endswith("/result")

    def check():
        assignment = db.session.get(Assignment, assignment_id)
        events = db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "training.attempt_finished")
        )
        return assignment.attempts_count, events, db.session.get(Attempt, attempt.id).score

    assert run_in_app(check) == (1, 1, 0)


def _twice_at_once(app, work) -> list:
    """``work()`` in two threads released together, each in its own app context and transaction; returns
    both results (any exception fails the test)."""
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            barrier.wait(timeout=5)
            with app.app_context(), unscoped("the test reads and writes rows directly"):
                results.append(work())
                db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return results


def test_two_concurrent_finishes_produce_one_score(app, world, run_in_app):
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)
    attempt_id = run_in_app(lambda: take(assignment_id, finish=False).id)
    results = _twice_at_once(app, lambda: quiz_services.finish_attempt(db.session.get(Attempt, attempt_id)))
    assert sorted(results) == [False, True]

    def check():
        assignment = db.session.get(Assignment, assignment_id)
        return assignment.attempts_count, assignment.status, db.session.get(Attempt, attempt_id).score

    assert run_in_app(check) == (1, AssignmentStatus.PASSED, 100)


def test_a_finished_attempt_in_memory_says_what_the_database_says(world, run_in_app):
    """The finish sets what its UPDATEs wrote on the attempt instead of reading it back (#17)."""
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)

    def finish():
        attempt = take(assignment_id, right=1)
        in_memory = (attempt.state, attempt.score, attempt.passed, attempt.late, attempt.finished_at)
        db.session.expire(attempt)
        return in_memory, (attempt.state, attempt.score, attempt.passed, attempt.late, attempt.finished_at)

    in_memory, stored = run_in_app(finish)
    assert in_memory == stored
    assert in_memory[:4] == (AttemptState.FINISHED, 50, False, False) and in_memory[4] is not None


def test_two_concurrent_starts_make_one_attempt_and_the_assignment_in_progress(app, world, run_in_app):
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)
    started = _twice_at_once(
        app, lambda: quiz_services.start_attempt(db.session.get(Assignment, assignment_id)).id
    )
    assert len(started) == 2 and started[0] == started[1]  # the second tap continues the first's attempt

    def check():
        attempts = db.session.scalars(select(Attempt.number).where(Attempt.assignment_id == assignment_id)).all()
        return attempts, db.session.get(Assignment, assignment_id).status

    assert run_in_app(check) == ([1], AssignmentStatus.IN_PROGRESS)


def test_finishing_from_a_stale_copy_does_not_score_again(app, world, run_in_app):
    """The conditional UPDATE is what decides: a copy loaded before another request finished the attempt
    (two tabs) still sees ``in_progress`` in memory, and its finish must do nothing."""
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=2)
    attempt_id = run_in_app(lambda: take(assignment_id, finish=False).id)
    with app.app_context(), unscoped("the test reads and writes rows directly"):
        stale = db.session.get(Attempt, attempt_id)
        db.session.expunge(stale)
        db.session.rollback()
        run_in_app(lambda: quiz_services.finish_attempt(db.session.get(Attempt, attempt_id)))
        db.session.add(stale)
        assert stale.state == AttemptState.IN_PROGRESS
        assert quiz_services.finish_attempt(stale) is False
        db.session.commit()
    assert run_in_app(lambda: db.session.get(Assignment, assignment_id).attempts_count) == 1


def test_late_submissions_follow_the_course_rule(world, run_in_app, login_as):
    def make(policy):
        course = add_course(organization_id=None, questions=1, late_policy=policy, title=policy)
        start = utcnow() - timedelta(days=10)
        delivery = deliver(
            world["admin_a"], course.id, learner_ids=[world["learner_a"].id], now=start, due_in=timedelta(days=5)
        )
        return assignment_of(delivery.id, world["learner_a"].id).id

    refused_id = run_in_app(lambda: make("refuse"))
    allowed_id = run_in_app(lambda: make("allow"))
    learner = login_as(world["learner_a"])
    page = learner.get(f"/me/training/{refused_id}").get_data(as_text=True)
    assert "受講期限を過ぎたため" in page
    token = csrf_token_from(page)
    refused = learner.post(f"/me/training/{refused_id}/start", data={"csrf_token": token}, follow_redirects=True)
    assert "受講期限を過ぎたため" in refused.get_data(as_text=True)
    assert run_in_app(lambda: db.session.scalar(select(func.count()).select_from(Attempt))) == 0
    attempt = run_in_app(lambda: take(allowed_id))
    assert attempt.late is True
    assert run_in_app(lambda: db.session.get(Assignment, allowed_id).late) is True


# --- reminders and recurrence --------------------------------------------------------------------------


def test_the_job_launches_sends_each_reminder_once_and_skips_those_who_passed(world, make_user, run_in_app):
    other = make_user(Role.LEARNER, world["org_a"])
    start = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # Monday 9:00 Tokyo

    def make():
        course = add_course(organization_id=None, questions=1)
        delivery = deliver(
            world["admin_a"],
            course.id,
            learner_ids=[world["learner_a"].id, other.id],
            now=start - timedelta(days=1),
            starts_in=timedelta(days=1),
            due_in=timedelta(days=11),
            reminder_days=[-3, 1],
        )
        return delivery.id

    delivery_id = run_in_app(make)
    assert run_in_app(lambda: db.session.get(Delivery, delivery_id).status) == DeliveryStatus.SCHEDULED
    run_in_app(lambda: delivery_services.run_deliveries(start))
    run_in_app(lambda: delivery_services.run_deliveries(start))  # twice is harmless
    keys = lambda: run_in_app(lambda: sorted(db.session.scalars(select(OutboxMessage.idempotency_key))))  # noqa: E731
    assert len(keys()) == 2
    run_in_app(lambda: take(assignment_of(delivery_id, world["learner_a"].id).id))
    due = start + timedelta(days=10)
    run_in_app(lambda: delivery_services.run_deliveries(due - timedelta(days=3)))
    run_in_app(lambda: delivery_services.run_deliveries(due - timedelta(days=2)))
    run_in_app(lambda: delivery_services.run_deliveries(due + timedelta(days=1, minutes=1)))
    reminders = [k for k in keys() if ":reminder:" in k]
    assert reminders == [
        f"delivery:{delivery_id}:reminder:1:{other.id}",
        f"delivery:{delivery_id}:reminder:2:{other.id}",
    ]
    overdue = run_in_app(
        lambda: db.session.scalar(select(OutboxMessage.subject).where(OutboxMessage.idempotency_key == reminders[1]))
    )
    assert "期限切れ" in overdue


def test_the_worker_runs_the_delivery_job():
    from portal.jobs import REGISTRY

    assert REGISTRY["training.deliveries"].func is delivery_services.run_deliveries


def test_a_monthly_delivery_creates_its_next_round(world, run_in_app):
    start = datetime(2027, 1, 31, 0, 0, tzinfo=UTC)  # within the world's contract (2026-04-01 to 2027-03-31)

    def make():
        course = add_course(organization_id=None, questions=1)
        return deliver(
            world["admin_a"], course.id, now=start, due_in=timedelta(days=7), recurrence=Recurrence.MONTHLY
        ).id

    first = run_in_app(make)

    def rounds():
        return [
            (d.round_no, d.status, d.starts_at, d.previous_round_id)
            for d in db.session.scalars(select(Delivery).order_by(Delivery.id))
        ]

    (one, two) = run_in_app(rounds)
    assert one[:2] == (1, DeliveryStatus.LAUNCHED) and two[0] == 2 and two[1] == DeliveryStatus.SCHEDULED
    assert two[2] == datetime(2027, 2, 28, 0, 0, tzinfo=UTC) and two[3] == first  # Jan 31 -> Feb 28
    run_in_app(lambda: delivery_services.run_deliveries(two[2] + timedelta(minutes=1)))
    statuses = [r[:2] for r in run_in_app(rounds)]
    assert statuses == [(1, "launched"), (2, "launched"), (3, "scheduled")]


def test_the_one_click_reminder_is_idempotent_per_day(world, run_in_app, login_as):
    delivery_id, _assignment, _link = _delivered(world, run_in_app)
    admin = login_as(world["admin_a"])
    token = csrf_token_from(admin.get(f"/org/training/{delivery_id}").get_data(as_text=True))
    for _ in range(2):
        response = admin.post(f"/org/training/{delivery_id}/remind", data={"csrf_token": token})
        assert response.status_code == 303
    manual = run_in_app(
        lambda: db.session.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.like("%:manual:%"))
        ).all()
    )
    assert len(manual) == 1
    assert "送信済み" in admin.get(f"/org/training/{delivery_id}").get_data(as_text=True)


# --- results -------------------------------------------------------------------------------------------


def _count_queries(app, client, url) -> int:
    statements = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    # Once before counting: the site-wide state (portal/site_state.py) is read once per process and kept.
    client.get(url).get_data()
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
        assert response.status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def _organization_with_results(app, make_org, make_user, run_in_app, learners: int):
    org = make_org()
    admin = make_user(Role.ORG_ADMIN, org)

    def make():
        departments = [Department(organization_id=org.id, name=f"部{i}", depth=1) for i in range(3)]
        db.session.add_all(departments)
        db.session.flush()
        ids = []
        for i in range(learners):
            user = User(
                role=Role.LEARNER,
                organization_id=org.id,
                email=f"q{org.id}-{i}@example.com",
                name=f"受講者{i}",
                login_id=f"L{i:03d}",
                department_id=departments[i % 3].id,
            )
            db.session.add(user)
            db.session.flush()
            ids.append(user.id)
        course = add_course(organization_id=org.id, questions=4)
        delivery = deliver(admin, course.id)
        for i, learner_id in enumerate(ids):
            if i % 3:
                take(assignment_of(delivery.id, learner_id).id, right=i % 5)
        return delivery.id, course.id

    delivery_id, course_id = run_in_app(make)
    return admin, delivery_id, course_id


def test_the_results_page_uses_a_constant_number_of_queries(app, make_org, make_user, run_in_app, login_as):
    counts = []
    for learners in (3, 40):
        admin, delivery_id, course_id = _organization_with_results(app, make_org, make_user, run_in_app, learners)
        client = login_as(admin)
        counts.append(
            (
                _count_queries(app, client, f"/org/training/{delivery_id}"),
                _count_queries(app, client, f"/org/training/{delivery_id}/items"),
                _count_queries(app, client, f"/org/training/courses/{course_id}"),
                _count_queries(app, client, f"/org/training/courses/{course_id}?analysis=1"),
            )
        )
    assert counts[0] == counts[1]


def test_results_by_department_and_item_analysis(world, make_user, run_in_app, login_as):
    def make():
        dep = Department(organization_id=world["org_a"].id, name="開発部", depth=1)
        db.session.add(dep)
        db.session.flush()
        people = [world["learner_a"].id]
        for i in range(3):
            user = User(
                role=Role.LEARNER,
                organization_id=world["org_a"].id,
                email=f"d{i}@example.com",
                name=f"開発{i}",
                login_id=f"D{i}",
                department_id=dep.id,
            )
            db.session.add(user)
            db.session.flush()
            people.append(user.id)
        course = add_course(organization_id=None, questions=2)
        delivery = deliver(world["admin_a"], course.id)
        take(assignment_of(delivery.id, people[1]).id)  # 100: passes
        take(assignment_of(delivery.id, people[2]).id, right=0)  # 0: fails
        return delivery.id

    delivery_id = run_in_app(make)

    def analyse():
        with tenant_scope(world["org_a"].id):
            ids = select(Delivery.id).where(Delivery.id == delivery_id)
            rows, total = delivery_services.department_summary(ids, DepartmentTree.load())
            return (
                [(r.name, r.assigned, r.finished, r.passed) for r in rows],
                (total.assigned, total.passed),
                [(i.answered, i.difficulty, i.discrimination) for i in delivery_services.item_analysis(ids)],
            )

    rows, total, items = run_in_app(analyse)
    assert ("開発部", 3, 2, 1) in rows and ("（部署なし）", 1, 0, 0) in rows
    assert total == (4, 1)
    # Two finished attempts: the top one (all right) and the bottom one (all wrong).
    assert items == [(2, 0.5, 1.0), (2, 0.5, 1.0)]
    page = login_as(world["admin_a"]).get(f"/org/training/{delivery_id}").get_data(as_text=True)
    assert "不合格" in page and "未受講" in page and "50%" in page


def test_export_csv_and_tsv(world, run_in_app, login_as):
    delivery_id, assignment_id, _link = _delivered(world, run_in_app, questions=1)
    run_in_app(lambda: take(assignment_id))
    admin = login_as(world["admin_a"])
    csv = admin.get(f"/org/training/{delivery_id}/export.csv")
    text = csv.get_data().decode("utf-8-sig")
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert "受講記録" in csv.headers["Content-Disposition"] or "%E5%8F%97" in csv.headers["Content-Disposition"]
    lines = text.strip().split("\r\n")
    assert lines[0].startswith('"配信","講座"') and len(lines) == 2
    assert '"合格"' in lines[1] and '"A001"' in lines[1]
    tsv = admin.get(f"/org/training/{delivery_id}/export.tsv")
    assert tsv.headers["Content-Type"].startswith("text/tab-separated-values")
    assert "\t" in tsv.get_data().decode("utf-8-sig")
    assert admin.get(f"/org/training/{delivery_id}/export.xls").status_code == 404
    assert audit_events(run_in_app, "training.results_exported") == [
        {"target_id": str(delivery_id), "actor_id": world["admin_a"].id, "format": fmt} for fmt in ("csv", "tsv")
    ]


def test_certificate_and_public_verification_show_only_name_course_and_date(world, run_in_app, login_as, client):
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=1)
    run_in_app(lambda: take(assignment_id))
    code = run_in_app(lambda: db.session.get(Assignment, assignment_id).certificate_code)
    certificate = login_as(world["learner_a"]).get(f"/me/training/{assignment_id}/certificate")
    assert code in certificate.get_data(as_text=True)
    page = client.get(f"/verify/{code}").get_data(as_text=True)
    assert "受講 A" in page and "テスト講座" in page and "この修了証は有効です" in page
    assert world["learner_a"].email not in page and "A001" not in page and "株式会社エー" not in page
    assert client.get("/verify/NOPE-NOPE-NOPE").status_code == 404


def test_the_learner_home_lists_training(world, run_in_app, login_as):
    _delivery, assignment_id, _link = _delivered(world, run_in_app, questions=1)
    learner = login_as(world["learner_a"])
    home = BeautifulSoup(learner.get("/me/").get_data(as_text=True), "html.parser")
    assert "テスト講座" in home.select_one("#assigned").get_text()
    run_in_app(lambda: take(assignment_id))
    home = BeautifulSoup(learner.get("/me/").get_data(as_text=True), "html.parser")
    assert "テスト講座" not in home.select_one("#assigned").get_text()
    assert "合格" in home.get_text()


def test_a_manager_sees_only_their_departments_and_cannot_deliver(world, make_user, run_in_app, login_as):
    from portal.models import ManagerDepartment

    def make():
        mine = Department(organization_id=world["org_a"].id, name="担当部", depth=1)
        other = Department(organization_id=world["org_a"].id, name="他部", depth=1)
        db.session.add_all([mine, other])
        db.session.flush()
        db.session.add(ManagerDepartment(organization_id=world["org_a"].id, user_id=world["manager_a"].id,
                                         department_id=mine.id))
        return mine.id, other.id

    mine, other = run_in_app(make)
    make_user(Role.LEARNER, world["org_a"], department_id=mine, name="担当の人", login_id="M1")
    make_user(Role.LEARNER, world["org_a"], department_id=other, name="他部の人", login_id="O1")
    delivery_id = run_in_app(lambda: deliver(world["admin_a"], add_course(organization_id=None).id).id)
    manager = login_as(world["manager_a"])
    page = manager.get(f"/org/training/{delivery_id}").get_data(as_text=True)
    assert "担当の人" in page and "他部の人" not in page and "受講 A" not in page
    assert "リマインドを送る" not in page
    record = manager.get(f"/org/training/{delivery_id}/export.csv").get_data().decode("utf-8-sig")
    assert "担当の人" in record and "他部の人" not in record
    token = csrf_token_from(page)
    assert manager.post(f"/org/training/{delivery_id}/remind", data={"csrf_token": token}).status_code == 403
    assert manager.get("/org/training/new").status_code == 403
    admin_page = login_as(world["admin_a"]).get(f"/org/training/{delivery_id}").get_data(as_text=True)
    assert "他部の人" in admin_page and "担当の人" in admin_page


def test_a_year_of_four_hundred_digits_is_a_form_error_not_a_500(world, login_as):
    """WTForms' NumberRange turns a huge integer into a float and overflows; the portal's IntegerField
    refuses it first (found by tests/test_fuzz_forms.py)."""
    admin = login_as(world["admin_a"])
    token = csrf_token_from(admin.get("/courses/new").get_data(as_text=True))
    response = admin.post("/courses/new", data={
        "csrf_token": token, "title": "講座", "fiscal_year": "9" * 400, "kind": "annual", "pass_mark": "80",
        "questions_per_attempt": "0", "late_policy": "allow",
    })
    assert response.status_code == 422
    assert 'id="fiscal_year-error"' in response.get_data(as_text=True)


def test_the_scoring_key_is_each_questions_correct_choices(world, run_in_app):
    """finish_attempt scores from correct_choice_ids: the same sets as Question.correct_ids (one or two
    right choices), and nothing for a question no longer in the bank."""
    from portal.blueprints.training.courses.services import ChoiceInput
    from portal.models import QuestionKind

    def check():
        course = add_course(organization_id=world["org_a"].id, questions=1)
        two = course_services.save_question(
            course, None, kind=QuestionKind.MULTIPLE, text="二つ", explanation="", category="分野A",
            choices=[ChoiceInput("A", True), ChoiceInput("B", False), ChoiceInput("C", True)])
        db.session.flush()
        questions = list(db.session.scalars(select(Question).where(Question.course_id == course.id)))
        keys = quiz_services.correct_choice_ids([q.id for q in questions] + [10**9])
        assert len(questions) == 2 and keys == {q.id: q.correct_ids for q in questions}
        assert len(keys[two.id]) == 2

    run_in_app(check)
