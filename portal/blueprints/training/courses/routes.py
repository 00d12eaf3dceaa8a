"""Course authoring. Thin views: the rules are in ``services``."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.accounts import signed_in_user as _me
from portal.blueprints.training.courses import bp, services
from portal.blueprints.training.courses.forms import CourseForm, ImageForm, LessonForm, QuestionForm
from portal.blueprints.training.courses.services import CourseRuleError
from portal.forms import EmptyForm
from portal.models import QuestionKind
from portal.violations import rule_violations_shown


@bp.get("/")
def index():
    courses = services.visible_courses()
    if _me().is_staff:
        courses = [c for c in courses if c.is_global]
    counts = {c.id: services.question_count(c) for c in courses}
    return render_template("courses/index.html", courses=courses, counts=counts, me=_me())


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = CourseForm()
    if form.validate_on_submit():
        with rule_violations_shown(form, field="title", catch=CourseRuleError):
            course = services.create_course(form.data, by=_me())
            flash(_("講座を作成しました。レッスンと問題を追加してください。"), "success")
            return redirect(url_for("courses.show", course_id=course.id), 303)
    return render_template("courses/form.html", form=form, course=None), 422 if form.errors else 200


@bp.get("/<int:course_id>")
def show(course_id: int):
    course = services.get_course(course_id)
    return render_template(
        "courses/show.html", course=course, questions=services.bank_questions(course),
        images=services.course_images(course), editable=services.may_edit(course, _me()),
        kind_labels=services.QUESTION_KIND_LABELS, action_form=EmptyForm(), image_form=ImageForm(),
    )


@bp.route("/<int:course_id>/edit", methods=["GET", "POST"])
def edit(course_id: int):
    course = services.get_editable_course(course_id, _me())
    form = CourseForm(obj=course)
    if form.validate_on_submit():
        with rule_violations_shown(form, field="title", catch=CourseRuleError):
            services.update_course(course, {k: v for k, v in form.data.items() if k not in ("csrf_token", "kind")})
            flash(_("講座を保存しました。"), "success")
            return redirect(url_for("courses.show", course_id=course.id), 303)
    return render_template("courses/form.html", form=form, course=course), 422 if form.errors else 200


@bp.post("/<int:course_id>/next-edition")
def next_edition(course_id: int):
    course = services.get_editable_course(course_id, _me())
    if not EmptyForm().validate_on_submit():
        flash(_("画面を読み込み直してから、もう一度お試しください。"), "error")
        return redirect(url_for("courses.show", course_id=course.id), 303)
    with rule_violations_shown(catch=CourseRuleError):
        edition = services.create_next_edition(course)
        flash(_("%(year)d年度版を作成しました。", year=edition.fiscal_year), "success")
        return redirect(url_for("courses.show", course_id=edition.id), 303)
    return redirect(url_for("courses.show", course_id=course.id), 303)


@bp.route("/<int:course_id>/lessons/new", methods=["GET", "POST"], defaults={"lesson_id": None})
@bp.route("/<int:course_id>/lessons/<int:lesson_id>", methods=["GET", "POST"])
def lesson(course_id: int, lesson_id: int | None):
    course = services.get_editable_course(course_id, _me())
    current = services.get_lesson(course, lesson_id) if lesson_id else None
    form = LessonForm(obj=current)
    if form.validate_on_submit():
        services.save_lesson(course, current, form.title.data, form.body_md.data or "")
        flash(_("レッスンを保存しました。"), "success")
        return redirect(url_for("courses.show", course_id=course.id), 303)
    preview = services.render_markdown(form.body_md.data or "")
    return render_template("courses/lesson_form.html", form=form, course=course, lesson=current, preview=preview,
                           images=services.course_images(course)), 422 if form.errors else 200


@bp.post("/<int:course_id>/lessons/<int:lesson_id>/delete")
def delete_lesson(course_id: int, lesson_id: int):
    course = services.get_editable_course(course_id, _me())
    current = services.get_lesson(course, lesson_id)
    if EmptyForm().validate_on_submit():
        services.delete_lesson(course, current)
        flash(_("レッスンを削除しました。"), "success")
    return redirect(url_for("courses.show", course_id=course.id), 303)


@bp.post("/<int:course_id>/images")
def upload_image(course_id: int):
    course = services.get_editable_course(course_id, _me())
    form = ImageForm()
    if form.validate_on_submit() and form.image.data:
        with rule_violations_shown(catch=CourseRuleError):
            image = services.save_image(course, form.image.data)
            url = url_for("training_links.image", image_id=image.id)
            flash(_("画像を登録しました。レッスンには ![説明](%(url)s) と書いて載せます。", url=url), "success")
    else:
        flash(_("画像を選んでください。"), "error")
    return redirect(url_for("courses.show", course_id=course.id), 303)


def _question_choices(form: QuestionForm):
    if form.kind.data == QuestionKind.TRUE_FALSE:
        if form.answer.data not in ("true", "false"):
            raise CourseRuleError(_("○×問題は正解を○か×のどちらかに決めてください。"), "answer")
        return services.true_false_choices(form.answer.data == "true")
    return services.parse_choice_lines(form.choices.data or "")


@bp.route("/<int:course_id>/questions/new", methods=["GET", "POST"], defaults={"question_id": None})
@bp.route("/<int:course_id>/questions/<int:question_id>", methods=["GET", "POST"])
def question(course_id: int, question_id: int | None):
    course = services.get_editable_course(course_id, _me())
    current = services.get_question(course, question_id) if question_id else None
    form = QuestionForm(obj=current)
    if current is not None and not form.is_submitted():
        form.choices.data = services.choice_lines(current)
        if current.kind == QuestionKind.TRUE_FALSE:
            form.answer.data = "true" if current.choices and current.choices[0].is_correct else "false"
    if form.validate_on_submit():
        with rule_violations_shown(form, field="text", catch=CourseRuleError):
            services.save_question(course, current, kind=form.kind.data, text=form.text.data,
                                   explanation=form.explanation.data or "", category=form.category.data or "",
                                   choices=_question_choices(form))
            flash(_("問題を保存しました。"), "success")
            return redirect(url_for("courses.show", course_id=course.id, _anchor="questions"), 303)
    return render_template("courses/question_form.html", form=form, course=course,
                           question=current), 422 if form.errors else 200


@bp.post("/<int:course_id>/questions/<int:question_id>/delete")
def delete_question(course_id: int, question_id: int):
    course = services.get_editable_course(course_id, _me())
    current = services.get_question(course, question_id)
    if EmptyForm().validate_on_submit():
        services.delete_question(course, current)
        flash(_("問題を削除しました。"), "success")
    return redirect(url_for("courses.show", course_id=course.id, _anchor="questions"), 303)
